// Package remotesensing is the roadside remote-sensing service (tasks 15, 32 and 33 of the
// action plan): remote-sensing stations upload measurements of passing vehicles in batches, each
// reading is judged against the in-use limits in force on its date for the vehicle's fuel type,
// a vehicle whose same pollutant exceeds twice within one inspection cycle gets a case that the
// bureau, the police, repair shops and the transport bureau move through the enforcement loop,
// every case traces back along the vehicle's chain, the bureau reads exceedance rates by maker,
// inspection station and fleet (with the inspection-station fraud signal), and each plate's
// compact status is kept in Redis for the checkpoint, rebuilt from MongoDB (the truth) whenever
// it may be stale.
package remotesensing

import (
	"context"
	"fmt"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/audit"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/partsync"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/services/remotesensing/internal/handler"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensing"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensingstore"
)

// Name is the service's name in traces, logs and audit entries.
const Name = "remotesensing"

// Config is the service's own configuration; zero fields take the defaults documented in
// docs/remotesensing.md.
type Config struct {
	// LimitsJSON is the limit table as JSON (the all-in-one passes the embedded
	// seeds/remote-sensing-limits.json); it wins over LimitsFile.
	LimitsJSON []byte
	// LimitsFile is a limit table file (CLEARSKY_REMOTESENSING_LIMITS). With neither, the
	// built-in default table applies (the same data as seeds/remote-sensing-limits.json).
	LimitsFile string
	// CycleDays is the inspection cycle of the two-in-a-cycle rule (182).
	CycleDays int
	// CalibrationValidDays is how long a station's calibration holds unless the station says (365).
	CalibrationValidDays int
	// MaxBatch is the most readings one upload may carry (5000).
	MaxBatch int
	// FraudFactor and FraudMinVehicles define the inspection-station fraud signal (2, 20).
	FraudFactor      float64
	FraudMinVehicles int
	// RunEvery is how often the background work runs: outbox jobs (pending readings, unfinished
	// uploads) and cache republishing (10 s).
	RunEvery time.Duration
	// JobGrace is how old an outbox job must be before the background work takes it over (30 s).
	JobGrace time.Duration
	// JobRetry is the first wait before an outbox job that could not finish (the registry still
	// down) is tried again; it doubles up to 10 min (30 s).
	JobRetry time.Duration
}

// Service is a running remote-sensing service.
type Service struct {
	core    *sensing.Service
	parts   *partsync.Sync
	handler *handler.Handler
	deps    platform.Deps
	every   time.Duration
}

// New builds the service on deps, creating its indexes. deps.Vehicles must be set (the
// registry client).
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	var table limits.Table
	var err error
	switch {
	case len(cfg.LimitsJSON) > 0:
		table, err = limits.Parse(cfg.LimitsJSON)
	case cfg.LimitsFile != "":
		table, err = limits.Load(cfg.LimitsFile)
	default:
		table = limits.Default()
	}
	if err != nil {
		return nil, err
	}
	if deps.Vehicles == nil {
		return nil, fmt.Errorf("remotesensing: no registry client (platform.Deps.Vehicles)")
	}
	store := sensingstore.New(deps.DB)
	if err := store.EnsureIndexes(ctx, deps.Indexes); err != nil {
		return nil, fmt.Errorf("remotesensing indexes: %w", err)
	}
	if err := mongodb.EnsureIndexes(ctx, deps.DB, audit.Indexes, deps.Indexes); err != nil {
		return nil, fmt.Errorf("audit indexes: %w", err)
	}
	opt := sensing.Options{Limits: table, CycleDays: cfg.CycleDays, CalibrationValidDays: cfg.CalibrationValidDays, MaxBatch: cfg.MaxBatch,
		FraudFactor: cfg.FraudFactor, FraudMinVehicles: cfg.FraudMinVehicles, JobGrace: cfg.JobGrace, JobRetry: cfg.JobRetry}
	parts := summary.NewWriter(deps.Redis, deps.RedisPrefix, summary.RemoteSensing)
	core := sensing.NewService(sensing.Stores{Stations: store, Readings: store, Cases: store, Limits: store, Jobs: store, Reports: store}, deps.Vehicles, parts, audit.NewRecorder(deps.DB, Name),
		opt, deps.Logger, deps.Telemetry.Tracer)
	sync := partsync.New(parts, core, deps.Telemetry.Tracer, store.PartSources()...)
	sync.SetEvents(events.NewSink(deps.DB))
	// The versions the bureau added at run time: a release whose table no longer admits them
	// does not start (the error says which).
	if err := core.RefreshLimits(ctx); err != nil {
		return nil, err
	}
	every := cfg.RunEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	return &Service{core: core, parts: sync, handler: handler.New(core, deps.Logger), deps: deps, every: every}, nil
}

// Routes registers the service's HTTP routes (under /v1/remote-sensing).
func (s *Service) Routes(r gin.IRouter) { s.handler.Routes(r) }

// Run keeps the derived state coherent with MongoDB until ctx ends: at start and then every
// RunEvery it takes up the limit versions the bureau added (on any replica), rebuilds the Redis
// parts when Redis lost its data, finishes the outbox jobs
// (pending readings are judged once the registry answers; uploads cut short are derived), and
// delivers the cases' outbox: the parts of cases whose change did not reach Redis, and the
// cases' events. One loop, so the runner's writes never race the jobs' (docs/ferretdb.md).
func (s *Service) Run(ctx context.Context) {
	platform.Every(ctx, s.every, s.deps.Logger,
		platform.Job{Name: "remotesensing_limit_refresh", Run: func(ctx context.Context) (int, error) { return 0, s.core.RefreshLimits(ctx) }},
		platform.Job{Name: "remotesensing_resync_cache", Run: s.parts.Resync},
		platform.Job{Name: "remotesensing_jobs", Run: s.core.ProcessJobs},
		platform.Job{Name: "remotesensing_republish", Run: s.parts.Republish})
}

// ConfigFromEnv reads the service's own variables: CLEARSKY_REMOTESENSING_LIMITS,
// CLEARSKY_REMOTESENSING_CYCLE_DAYS, CLEARSKY_REMOTESENSING_CALIBRATION_DAYS and
// CLEARSKY_REMOTESENSING_MAX_BATCH.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{LimitsFile: getenv("CLEARSKY_REMOTESENSING_LIMITS")}
	err := platform.ReadInts(getenv,
		platform.EnvInt{Name: "CLEARSKY_REMOTESENSING_CYCLE_DAYS", Dst: &cfg.CycleDays},
		platform.EnvInt{Name: "CLEARSKY_REMOTESENSING_CALIBRATION_DAYS", Dst: &cfg.CalibrationValidDays},
		platform.EnvInt{Name: "CLEARSKY_REMOTESENSING_MAX_BATCH", Dst: &cfg.MaxBatch})
	return cfg, err
}
