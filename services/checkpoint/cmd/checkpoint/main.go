// Command checkpoint runs the checkpoint service on its own. Configuration: docs/configuration.md.
package main

import (
	"context"
	"os"

	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/checkpoint"
)

func main() {
	os.Exit(platform.Main(checkpoint.Name, func(ctx context.Context, d platform.Deps) (platform.Service, error) {
		cfg, err := checkpoint.ConfigFromEnv(nil)
		if err != nil {
			return nil, err
		}
		return checkpoint.New(ctx, cfg, d)
	}))
}
