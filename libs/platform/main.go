package platform

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/telemetry"
)

// Service is what a ClearSky service offers the runner: HTTP routes and background work that
// runs until its context ends (Run may return at once when there is none).
type Service interface {
	Routes(r gin.IRouter)
	Run(ctx context.Context)
}

// Builder builds a service on its dependencies.
type Builder func(ctx context.Context, d Deps) (Service, error)

// Main runs one service as a standalone binary: environment config, tracing, MongoDB, Redis,
// the HTTP edge, background work, and a graceful shutdown on SIGINT or SIGTERM. It returns the
// process exit code.
func Main(name string, build Builder) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, name, build); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

func run(ctx context.Context, name string, build Builder) error {
	cfg, err := FromEnv(nil)
	if err != nil {
		return err
	}
	logger := telemetry.NewLogger(os.Stdout, cfg.LogLevel).With("service", name)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger.InfoContext(ctx, "starting", "config", cfg)
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "clearsky-" + name, Version: cfg.Version})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx)
	}()
	deps, closeDeps, err := Open(ctx, name, cfg, logger, tel)
	if err != nil {
		return err
	}
	defer closeDeps()
	svc, err := build(ctx, deps)
	if err != nil {
		return err
	}
	engine := Engine(name, deps)
	svc.Routes(engine)
	return Serve(ctx, cfg.HTTPAddr, engine, logger, svc)
}

// Serve runs the services' background work and the HTTP server until ctx ends, then waits for
// the background work to stop.
func Serve(ctx context.Context, addr string, engine *gin.Engine, logger *slog.Logger, svcs ...Service) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Run(ctx)
		}()
	}
	err := httpserver.Run(ctx, addr, engine, logger, 10*time.Second)
	cancel()
	wg.Wait()
	return err
}
