// Package registry is the vehicle registry service: fleets register and update their trucks,
// the police and the bureau screen registrations and inspection marks (tasks 13 and 15 of the
// action plan), and each vehicle's compact status is kept in Redis for the checkpoint, rebuilt
// from MongoDB (the truth) whenever it may be stale.
package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/audit"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/partsync"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/services/registry/internal/handler"
	"github.com/clearsky/clearsky/services/registry/internal/vehicle"
	"github.com/clearsky/clearsky/services/registry/internal/vehiclestore"
)

// Name is the service's name in traces, logs and audit entries.
const Name = "registry"

// Config is the registry's own configuration.
type Config struct {
	// PolicyFile is a registration policy JSON file (CLEARSKY_REGISTRY_POLICY); empty keeps the
	// defaults documented in docs/registry.md.
	PolicyFile string
	// RepublishEvery is how often cache entries left stale by a Redis outage are rebuilt.
	RepublishEvery time.Duration
}

// Service is a running registry.
type Service struct {
	core    *vehicle.Service
	parts   *partsync.Sync
	handler *handler.Handler
	store   *vehiclestore.Store
	deps    platform.Deps
	every   time.Duration
}

// New builds the registry on deps, creating its indexes.
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	policy := vehicle.DefaultPolicy()
	if cfg.PolicyFile != "" {
		p, err := vehicle.LoadPolicy(cfg.PolicyFile)
		if err != nil {
			return nil, err
		}
		policy = p
	}
	store := vehiclestore.New(deps.DB)
	if err := store.EnsureIndexes(ctx, deps.Indexes); err != nil {
		return nil, fmt.Errorf("registry indexes: %w", err)
	}
	rec := audit.NewRecorder(deps.DB, Name)
	parts := summary.NewWriter(deps.Redis, deps.RedisPrefix, summary.Registry)
	core := vehicle.NewService(store, parts, rec, policy, deps.Logger, deps.Telemetry.Tracer)
	sync := partsync.New(parts, core, deps.Telemetry.Tracer, store.PartSources()...)
	every := cfg.RepublishEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	return &Service{core: core, parts: sync, handler: handler.New(core, deps.Logger), store: store, deps: deps, every: every}, nil
}

// Routes registers the registry's HTTP routes.
func (s *Service) Routes(r gin.IRouter) { s.handler.Routes(r) }

// Run keeps Redis coherent with MongoDB until ctx ends: at start and then every RepublishEvery
// it republishes the vehicles whose entry may be stale, and rebuilds every entry when Redis has
// lost its data; every events.Every it stores the refused screenings' events (libs/events).
func (s *Service) Run(ctx context.Context) {
	go platform.Every(ctx, events.Every, s.deps.Logger, platform.Job{Name: "registry_events",
		Run: events.Runners(s.store.EventsRunner(events.NewSink(s.deps.DB)))})
	platform.Every(ctx, s.every, s.deps.Logger,
		platform.Job{Name: "registry_resync_cache", Run: s.parts.Resync},
		platform.Job{Name: "registry_republish_status", Run: s.parts.Republish})
}
