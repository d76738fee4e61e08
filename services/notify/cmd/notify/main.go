// Command notify runs the notification service on its own. Configuration: docs/configuration.md.
package main

import (
	"context"
	"os"

	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/notify"
)

func main() {
	os.Exit(platform.Main(notify.Name, func(ctx context.Context, d platform.Deps) (platform.Service, error) {
		cfg, err := notify.ConfigFromEnv(nil)
		if err != nil {
			return nil, err
		}
		return notify.New(ctx, cfg, d)
	}))
}
