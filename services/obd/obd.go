// Package obd is the heavy diesel trucks' remote emission monitoring service (tasks 15, 23 and
// 32 of the action plan): on-board terminals send GB 17691-2018 annex Q frames to its TCP
// gateway, fleet platforms post the same samples as JSON, and the service stores them, detects
// exceedance, empty reagent and tampering, and keeps each truck's state in Redis for the
// checkpoint.
package obd

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/services/obd/internal/gateway"
	"github.com/clearsky/clearsky/services/obd/internal/handler"
	"github.com/clearsky/clearsky/services/obd/internal/monitor"
	"github.com/clearsky/clearsky/services/obd/internal/monitorstore"
	"github.com/clearsky/clearsky/services/obd/internal/protocol"
)

// Name is the service's name in traces, logs and metrics.
const Name = "obd"

// GatewayConfig tunes the TCP gateway.
type GatewayConfig = gateway.Config

// Config is the OBD service's configuration.
type Config struct {
	Gateway  GatewayConfig
	Pipeline monitor.Config
	// Retention is how long raw frames are kept (CLEARSKY_OBD_RETENTION_DAYS, default 180 days);
	// alarms are kept.
	Retention time.Duration
}

// ConfigFromEnv reads the OBD settings: CLEARSKY_OBD_ADDR, CLEARSKY_OBD_LAYOUT (gb17691 or
// hj1239), CLEARSKY_OBD_REQUIRE_SIGNED (1: refuse reports no HJ 1239 signature proves),
// CLEARSKY_OBD_RETENTION_DAYS.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Config{Gateway: gateway.Config{Addr: getenv("CLEARSKY_OBD_ADDR")}}
	switch strings.ToLower(getenv("CLEARSKY_OBD_LAYOUT")) {
	case "", "gb17691":
	case "hj1239":
		c.Gateway.Layout = protocol.LayoutHJ1239
	default:
		return c, fmt.Errorf("CLEARSKY_OBD_LAYOUT must be gb17691 or hj1239")
	}
	switch strings.ToLower(strings.TrimSpace(getenv("CLEARSKY_OBD_REQUIRE_SIGNED"))) {
	case "", "0", "false":
	case "1", "true":
		c.Gateway.RequireSigned = true
	default:
		return c, fmt.Errorf("CLEARSKY_OBD_REQUIRE_SIGNED must be 1 or 0")
	}
	if d := getenv("CLEARSKY_OBD_MAX_CONNS_PER_ADDR"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 {
			return c, fmt.Errorf("CLEARSKY_OBD_MAX_CONNS_PER_ADDR must be a whole number ≥ 1")
		}
		c.Gateway.MaxConnsPerAddr = n
	}
	if d := getenv("CLEARSKY_OBD_RETENTION_DAYS"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 {
			return c, fmt.Errorf("CLEARSKY_OBD_RETENTION_DAYS must be a whole number of days ≥ 1")
		}
		c.Retention = time.Duration(n) * 24 * time.Hour
	}
	return c, nil
}

// Service is a running OBD service.
type Service struct {
	cfg     Config
	deps    platform.Deps
	store   *monitorstore.Store
	mon     *monitor.Monitor
	handler *handler.Handler
	gw      *gateway.Gateway
	ln      net.Listener
}

// New builds the service on deps, creating its indexes and binding the gateway's TCP address.
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	if cfg.Retention <= 0 {
		cfg.Retention = 180 * 24 * time.Hour
	}
	if cfg.Gateway.Addr == "" {
		cfg.Gateway.Addr = ":7700"
	}
	store := monitorstore.New(deps.DB)
	if err := store.EnsureIndexes(ctx, deps.Indexes); err != nil {
		return nil, fmt.Errorf("obd indexes: %w", err)
	}
	mon := monitor.New(cfg.Pipeline, store, summary.NewWriter(deps.Redis, deps.RedisPrefix, summary.OBD), deps.Vehicles, deps.Logger, deps.Telemetry.Tracer, deps.Metrics)
	if err := mon.LoadThresholds(ctx); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Gateway.Addr)
	if err != nil {
		return nil, fmt.Errorf("OBD gateway listen on %s (set CLEARSKY_OBD_ADDR): %w", cfg.Gateway.Addr, err)
	}
	svc := monitor.NewService(mon, store, deps.Vehicles)
	gw := gateway.New(cfg.Gateway, mon, deps.Vehicles, deps.Logger, deps.Metrics)
	if deps.Ready != nil {
		deps.Ready.Add(httpserver.Check{Name: "obd_gateway", Critical: true, Ping: gw.Ready})
	}
	return &Service{cfg: cfg, deps: deps, store: store, mon: mon, handler: handler.New(svc, deps.Logger), gw: gw, ln: ln}, nil
}

// Routes registers the OBD routes.
func (s *Service) Routes(r gin.IRouter) { s.handler.Routes(r) }

// RejectedFrames counts the frames the gateway rejected, by reason.
func (s *Service) RejectedFrames() *prometheus.CounterVec { return s.gw.Rejected() }

// GatewayAddr is the TCP address terminals connect to.
func (s *Service) GatewayAddr() net.Addr { return s.ln.Addr() }

// Run serves terminals, writes and judges telemetry, stores the alarms' events (libs/events),
// and deletes frames past retention, until
// ctx ends; then it drains the queues.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); s.mon.Run(ctx) }()
	go func() {
		defer wg.Done()
		platform.Every(ctx, events.Every, s.deps.Logger, platform.Job{Name: "obd_events",
			Run: events.Runners(s.store.EventsRunner(events.NewSink(s.deps.DB)))})
	}()
	go func() {
		defer wg.Done()
		if err := s.gw.Serve(ctx, s.ln); err != nil {
			s.deps.Logger.ErrorContext(ctx, "obd_gateway_stopped", "error", err.Error())
		}
	}()
	go func() {
		defer wg.Done()
		platform.Every(ctx, time.Hour, s.deps.Logger, platform.Job{Name: "obd_retention", Run: s.retain})
	}()
	wg.Wait()
}

// retain deletes frames past retention.
func (s *Service) retain(ctx context.Context) (int, error) {
	n, err := s.store.DeleteFramesBefore(ctx, time.Now().Add(-s.cfg.Retention))
	return int(n), err
}
