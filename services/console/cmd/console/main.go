// Command console serves the web console on its own, for a deployment where each service runs
// apart (the all-in-one serves it itself). It holds no data and needs no database: the pages
// call the REST API on the same origin, so put it behind the same host as the services, with
// "/" and "/console/" routed to it. Configuration: docs/console.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/telemetry"
	"github.com/clearsky/clearsky/services/console"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintf(os.Stderr, "console: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	level, err := telemetry.ParseLevel(getenv("LOG_LEVEL"))
	if err != nil {
		return err
	}
	logger := telemetry.NewLogger(os.Stdout, level).With("service", console.Name)
	cfg, err := console.ConfigFromEnv(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	addr := getenv("CLEARSKY_HTTP_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "clearsky-" + console.Name, Version: getenv("CLEARSKY_VERSION")})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx)
	}()
	engine := httpserver.NewEngine(httpserver.Deps{Service: console.Name, Logger: logger, Telemetry: tel, Metrics: httpserver.NewMetrics()})
	svc := console.New(cfg)
	svc.Routes(engine)
	logger.InfoContext(ctx, "starting", "addr", addr, "assets", svc.Version(), "province", cfg.Province)
	return httpserver.Run(ctx, addr, engine, logger, 10*time.Second)
}
