// Command registry runs the vehicle registry service on its own, as the Kubernetes deployment
// does. Configuration comes from the environment: see docs/configuration.md.
package main

import (
	"context"
	"os"

	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/registry"
)

func main() {
	os.Exit(platform.Main(registry.Name, func(ctx context.Context, d platform.Deps) (platform.Service, error) {
		return registry.New(ctx, registry.Config{PolicyFile: os.Getenv("CLEARSKY_REGISTRY_POLICY")}, d)
	}))
}
