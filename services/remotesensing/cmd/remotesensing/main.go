// Command remotesensing runs the remote-sensing service on its own, as the Kubernetes deployment
// does. Configuration comes from the environment: the platform's variables (docs/configuration.md)
// and the service's own, listed in docs/remotesensing.md:
//
//	CLEARSKY_REMOTESENSING_LIMITS            limit table file (default: the built-in table)
//	CLEARSKY_REMOTESENSING_CYCLE_DAYS        inspection cycle of the two-in-a-cycle rule (182)
//	CLEARSKY_REMOTESENSING_CALIBRATION_DAYS  calibration validity when the station sets none (365)
//	CLEARSKY_REMOTESENSING_MAX_BATCH         most readings per upload (5000)
package main

import (
	"context"
	"os"

	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/remotesensing"
)

func main() {
	os.Exit(platform.Main(remotesensing.Name, func(ctx context.Context, d platform.Deps) (platform.Service, error) {
		cfg, err := remotesensing.ConfigFromEnv(os.Getenv)
		if err != nil {
			return nil, err
		}
		return remotesensing.New(ctx, cfg, d)
	}))
}
