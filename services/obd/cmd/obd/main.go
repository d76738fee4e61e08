// Command obd runs the OBD telemetry service on its own: the TCP gateway for on-board terminals
// (CLEARSKY_OBD_ADDR) and the REST API. Configuration: docs/configuration.md.
package main

import (
	"context"
	"os"

	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/obd"
)

func main() {
	os.Exit(platform.Main(obd.Name, func(ctx context.Context, d platform.Deps) (platform.Service, error) {
		cfg, err := obd.ConfigFromEnv(nil)
		if err != nil {
			return nil, err
		}
		return obd.New(ctx, cfg, d)
	}))
}
