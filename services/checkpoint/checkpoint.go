// Package checkpoint is the traffic police's checkpoint service (tasks 15, 27, 28 and 33 of the
// action plan): one verdict per plate — pass, inspect or stop — with every reason and its
// source, assembled from the parts the registry, remote-sensing, OBD and muck services keep in
// Redis (one round trip), falling back to the owners for what is missing; and the
// heavy-pollution alerts, whose restrictions the verdict applies.
package checkpoint

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/owners"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/services/checkpoint/internal/handler"
	"github.com/clearsky/clearsky/services/checkpoint/internal/verdict"
	"github.com/clearsky/clearsky/services/checkpoint/internal/verdictcache"
	"github.com/clearsky/clearsky/services/checkpoint/internal/verdictstore"
)

// Name is the service's name.
const Name = "checkpoint"

// Config is the checkpoint's configuration.
type Config struct {
	// Public is the rate and caching of the public alert, /v1/public/alert
	// (CLEARSKY_PUBLIC_RATE, CLEARSKY_PUBLIC_BURST; cached a minute).
	Public httpserver.PublicOptions
	// Owners maps each part to its owner's base URL (CLEARSKY_REGISTRY_URL,
	// CLEARSKY_REMOTESENSING_URL, CLEARSKY_OBD_URL, CLEARSKY_MUCK_URL).
	Owners map[summary.Part]string
	// HTTP is the client for the owners (nil: a default client).
	HTTP *http.Client
	// FallbackTimeout bounds one call to an owner (CLEARSKY_CHECKPOINT_FALLBACK_MS, default 500).
	FallbackTimeout time.Duration
	// RatePerMinute is the lookups an officer may make a minute (CLEARSKY_CHECKPOINT_RATE, default 120).
	RatePerMinute int64
	// Deadline bounds a whole lookup (CLEARSKY_CHECKPOINT_DEADLINE_MS, default 1000).
	Deadline time.Duration
	// MaxFallbacks bounds the lookups asking the owners at once; past it, 503 with Retry-After
	// (CLEARSKY_CHECKPOINT_MAX_FALLBACKS, default 32).
	MaxFallbacks int
}

// ConfigFromEnv reads the checkpoint's settings.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	or := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	c := Config{Owners: map[summary.Part]string{
		summary.Registry:      or("CLEARSKY_REGISTRY_URL", "http://registry:8080"),
		summary.RemoteSensing: or("CLEARSKY_REMOTESENSING_URL", "http://remotesensing:8080"),
		summary.OBD:           or("CLEARSKY_OBD_URL", "http://obd:8080"),
		summary.Muck:          or("CLEARSKY_MUCK_URL", "http://muck:8080"),
	}}
	if s := getenv("CLEARSKY_CHECKPOINT_FALLBACK_MS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 10 {
			return c, fmt.Errorf("CLEARSKY_CHECKPOINT_FALLBACK_MS must be a whole number of milliseconds ≥ 10")
		}
		c.FallbackTimeout = time.Duration(n) * time.Millisecond
	}
	if s := getenv("CLEARSKY_CHECKPOINT_DEADLINE_MS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 50 || n > 60_000 {
			return c, fmt.Errorf("CLEARSKY_CHECKPOINT_DEADLINE_MS must be a whole number of milliseconds from 50 to 60000")
		}
		c.Deadline = time.Duration(n) * time.Millisecond
	}
	if s := getenv("CLEARSKY_CHECKPOINT_MAX_FALLBACKS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10_000 {
			return c, fmt.Errorf("CLEARSKY_CHECKPOINT_MAX_FALLBACKS must be a whole number from 1 to 10000")
		}
		c.MaxFallbacks = n
	}
	// The public alert: the public routes' rate (docs/disclosure.md); caches keep it a minute,
	// as an alert changes within minutes of a declaration.
	rate, burst := 5, 20
	if err := platform.ReadInts(getenv,
		platform.EnvInt{Name: "CLEARSKY_PUBLIC_RATE", Dst: &rate},
		platform.EnvInt{Name: "CLEARSKY_PUBLIC_BURST", Dst: &burst}); err != nil {
		return c, err
	}
	c.Public = httpserver.PublicOptions{PerSecond: float64(rate), Burst: burst, MaxAge: time.Minute}
	if s := getenv("CLEARSKY_CHECKPOINT_RATE"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return c, fmt.Errorf("CLEARSKY_CHECKPOINT_RATE must be a whole number ≥ 1")
		}
		c.RatePerMinute = n
	}
	return c, nil
}

// Service is a running checkpoint.
type Service struct {
	core    *verdict.Service
	handler *handler.Handler
	store   *verdictstore.Store
	parts   *verdictcache.Cache
	deps    platform.Deps
}

// New builds the checkpoint on deps.
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	store := verdictstore.New(deps.DB, 0, deps.Logger)
	if err := store.EnsureIndexes(ctx, deps.Indexes); err != nil {
		return nil, fmt.Errorf("checkpoint indexes: %w", err)
	}
	own := owners.New(Name, cfg.Owners, cfg.HTTP, deps.Keys, deps.Telemetry.Tracer, deps.Telemetry.Propagator, cfg.FallbackTimeout)
	parts := verdictcache.New(deps.Redis, deps.RedisPrefix, deps.Logger)
	core := verdict.NewService(verdict.Config{RatePerMinute: cfg.RatePerMinute, Deadline: cfg.Deadline, MaxFallbacks: cfg.MaxFallbacks}, parts, own, store, store, deps.Logger, deps.Telemetry.Tracer)
	if err := core.RefreshAlerts(ctx); err != nil {
		return nil, err
	}
	return &Service{core: core, handler: handler.New(core, deps.Logger, cfg.Public), store: store, parts: parts, deps: deps}, nil
}

// Routes registers the checkpoint's routes.
func (s *Service) Routes(r gin.IRouter) { s.handler.Routes(r) }

// Run writes the lookup audit trail, keeps the near cache of parts subscribed to the owners'
// announcements, adds the officers' lookup counts to Redis, stores the alerts' events (libs/events)
// and refreshes the alerts every few seconds, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.store.Run(ctx) })
	wg.Go(func() { s.parts.Run(ctx) })
	wg.Go(func() {
		platform.Every(ctx, events.Every, s.deps.Logger, platform.Job{Name: "checkpoint_events",
			Run: events.Runners(s.store.EventsRunner(events.NewSink(s.deps.DB)))})
	})
	platform.Every(ctx, 5*time.Second, s.deps.Logger, platform.Job{Name: "checkpoint_alert_refresh",
		Run: func(ctx context.Context) (int, error) { return 0, s.core.RefreshAlerts(ctx) }})
	wg.Wait()
}
