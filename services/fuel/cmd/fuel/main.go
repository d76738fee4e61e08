// Command fuel runs the fuel, urea and household-coal sampling service on its own, as the
// Kubernetes deployment does. Configuration comes from the environment: the platform's
// variables (docs/configuration.md) and those of docs/fuel.md.
package main

import (
	"context"
	"os"

	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/fuel"
)

func main() {
	os.Exit(platform.Main(fuel.Name, func(ctx context.Context, d platform.Deps) (platform.Service, error) {
		cfg, err := fuel.ConfigFromEnv(os.Getenv)
		if err != nil {
			return nil, err
		}
		return fuel.New(ctx, cfg, d)
	}))
}
