// Command disclosure runs the disclosure service on its own, as the Kubernetes deployment does.
// Configuration comes from the environment: see docs/configuration.md.
package main

import (
	"context"
	"os"

	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/disclosure"
)

func main() {
	os.Exit(platform.Main(disclosure.Name, func(ctx context.Context, d platform.Deps) (platform.Service, error) {
		cfg, err := disclosure.ConfigFromEnv(os.Getenv)
		if err != nil {
			return nil, err
		}
		return disclosure.New(ctx, cfg, d)
	}))
}
