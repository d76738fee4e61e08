// Package fuel is the fuel, vehicle-urea and household-coal sampling service (tasks 7 and 14
// of the action plan): it registers the sites that sell or store them and who supplies them,
// takes sample results from stations and labs (JSON or CSV), judges them against the limit
// tables in force on the sampling day, opens non-conformance cases traced back up the supply
// chain, and shows sampling coverage against the monthly and yearly quotas. It has no per-plate
// part in the checkpoint verdict: it is about sites, not vehicles.
package fuel

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/fuel/internal/handler"
	"github.com/clearsky/clearsky/services/fuel/internal/importjob"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
	"github.com/clearsky/clearsky/services/fuel/internal/samplingcache"
	"github.com/clearsky/clearsky/services/fuel/internal/samplingstore"
)

// Name is the service's name in traces, logs and audit entries.
const Name = "fuel"

// Config is the fuel service's own configuration. Zero values take the defaults documented in
// docs/fuel.md.
type Config struct {
	// LimitsFile is a limit table JSON file (CLEARSKY_FUEL_LIMITS) used as the default table
	// instead of the one shipped (seeds/fuel-limits.json); empty keeps the shipped one.
	LimitsFile string
	// EscalateAfter failing samples at one site within EscalateMonths escalate its case
	// (CLEARSKY_FUEL_ESCALATE_AFTER, default 2; CLEARSKY_FUEL_ESCALATE_MONTHS, default 12).
	EscalateAfter  int
	EscalateMonths int
	// TraceDepth bounds the trace-back walk up the supply chain (default 6).
	TraceDepth int
	// Every is how often the background loop reloads the limit table version in force and opens
	// the cases a crash or an outage left pending (default 15 s).
	Every time.Duration
}

// Service is a running fuel service.
type Service struct {
	core    *sampling.Service
	jobs    *importjob.Runner
	events  func(context.Context) (int, error)
	handler *handler.Handler
	deps    platform.Deps
	every   time.Duration
}

// New builds the fuel service on deps: it creates its indexes, stores the default limit table
// when MongoDB has none (or a newer default), and loads the table in force.
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	def, err := limits.Default()
	if err != nil {
		return nil, err
	}
	if cfg.LimitsFile != "" {
		b, err := os.ReadFile(cfg.LimitsFile)
		if err != nil {
			return nil, fmt.Errorf("read fuel limits: %w", err)
		}
		if def, err = limits.Parse(b); err != nil {
			return nil, fmt.Errorf("fuel limits %s: %w", cfg.LimitsFile, err)
		}
	}
	store := samplingstore.New(deps.DB)
	if err := store.EnsureIndexes(ctx, deps.Indexes); err != nil {
		return nil, fmt.Errorf("fuel indexes: %w", err)
	}
	policy := sampling.DefaultPolicy()
	if cfg.EscalateAfter > 0 {
		policy.EscalateAfter = cfg.EscalateAfter
	}
	if cfg.EscalateMonths > 0 {
		policy.EscalateMonths = cfg.EscalateMonths
	}
	if cfg.TraceDepth > 0 {
		policy.TraceDepth = cfg.TraceDepth
	}
	stores := sampling.Stores{Sites: store, Labs: store, Samples: store, Revisions: store, Cases: store, Tables: store}
	core := sampling.NewService(stores, samplingcache.New(deps.Redis, deps.RedisPrefix), policy, deps.Logger, deps.Telemetry.Tracer)
	if err := core.Init(ctx, def); err != nil {
		return nil, fmt.Errorf("fuel limits: %w", err)
	}
	every := cfg.Every
	if every <= 0 {
		every = 15 * time.Second
	}
	jobs := importjob.New(store, core, deps.Logger, importjob.Policy{})
	return &Service{core: core, jobs: jobs, handler: handler.New(core, jobs, deps.Logger), deps: deps, every: every,
		events: events.Runners(store.EventsRunners(events.NewSink(deps.DB))...)}, nil
}

// Routes registers the fuel service's HTTP routes.
func (s *Service) Routes(r gin.IRouter) { s.handler.Routes(r) }

// Run keeps the instance current until ctx ends: every Every it loads the newest limit table
// version (repairing the Redis marker if a publish failed), opens or updates the cases that
// failing samples left pending, and runs again the CSV import jobs a dead process left
// unfinished (their lease expired), starting at once; and it stores the events that samples
// and cases left in their outbox. One loop, so the events runner's writes never race the
// pending-case job's on the same document (docs/ferretdb.md).
func (s *Service) Run(ctx context.Context) {
	platform.Every(ctx, s.every, s.deps.Logger,
		platform.Job{Name: "fuel_import_resume", Run: s.jobs.Resume},
		platform.Job{Name: "fuel_limit_refresh", Run: func(ctx context.Context) (int, error) { _, err := s.core.Refresh(ctx); return 0, err }},
		platform.Job{Name: "fuel_pending_cases", Run: s.core.ResolvePending},
		platform.Job{Name: "fuel_events", Run: s.events})
}

// WaitImports waits for the import jobs this instance started (tests, shutdown).
func (s *Service) WaitImports() { s.jobs.Wait() }

// ConfigFromEnv reads the service's own variables: CLEARSKY_FUEL_LIMITS,
// CLEARSKY_FUEL_ESCALATE_AFTER and CLEARSKY_FUEL_ESCALATE_MONTHS.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{LimitsFile: getenv("CLEARSKY_FUEL_LIMITS")}
	err := platform.ReadInts(getenv,
		platform.EnvInt{Name: "CLEARSKY_FUEL_ESCALATE_AFTER", Dst: &cfg.EscalateAfter},
		platform.EnvInt{Name: "CLEARSKY_FUEL_ESCALATE_MONTHS", Dst: &cfg.EscalateMonths})
	return cfg, err
}
