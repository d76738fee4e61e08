// Command muck runs the muck-truck service on its own, as the Kubernetes deployment does.
// Configuration comes from the environment: the platform's variables (docs/configuration.md)
// and the CLEARSKY_MUCK_* variables of docs/muck.md.
package main

import (
	"context"
	"os"

	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/muck"
)

func main() {
	os.Exit(platform.Main(muck.Name, func(ctx context.Context, d platform.Deps) (platform.Service, error) {
		cfg, err := muck.ConfigFromEnv(os.Getenv)
		if err != nil {
			return nil, err
		}
		return muck.New(ctx, cfg, d)
	}))
}
