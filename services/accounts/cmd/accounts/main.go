// Command accounts runs the accounts service on its own, as the Kubernetes deployment does.
// Configuration comes from the environment: see docs/configuration.md. On the first start
// against an empty database it creates the bureau and its administrator "admin", and prints the
// administrator's one-time password once, on standard error.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/accounts"
)

func main() {
	os.Exit(platform.Main(accounts.Name, func(ctx context.Context, d platform.Deps) (platform.Service, error) {
		cfg, err := accounts.ConfigFromEnv(os.Getenv)
		if err != nil {
			return nil, err
		}
		svc, err := accounts.New(ctx, cfg, d)
		if err != nil {
			return nil, err
		}
		made, user, otp, err := svc.Bootstrap(ctx)
		if err != nil {
			return nil, err
		}
		if made {
			fmt.Fprintf(os.Stderr, "accounts: created the bureau and its administrator %q with the one-time password %s (change it at first sign-in)\n", user, otp)
		}
		return svc, nil
	}))
}
