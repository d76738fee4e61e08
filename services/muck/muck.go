// Package muck is the muck-truck service of task 18 of the action plan: the construction bureau
// keeps the site list (construction and disposal sites) and decides transport permits, transport
// companies apply for permits for their trucks, the traffic police issue restricted-road passes
// with zones and hours, the police and the bureau record violations, each traced back to the
// construction site the load came from, and a truck caught on the road without meeting the rules
// loses its permits. Each plate's summary is kept in Redis for the checkpoint and rebuilt from
// MongoDB (the truth) whenever it may be stale.
package muck

import (
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/owners"
	"github.com/clearsky/clearsky/libs/partsync"
	"github.com/clearsky/clearsky/libs/summary"
	"net/http"

	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/muck/internal/handler"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
	"github.com/clearsky/clearsky/services/muck/internal/permitcache"
	"github.com/clearsky/clearsky/services/muck/internal/permitstore"
)

// Name is the service's name in traces, logs and audit entries.
const Name = "muck"

// Config is the muck service's own configuration; the zero value keeps every default of
// docs/muck.md.
type Config struct {
	// NewEnergyFrom: trucks first registered after this day must be new-energy
	// (CLEARSKY_MUCK_NEW_ENERGY_FROM, YYYY-MM-DD; default 2018-10-26).
	NewEnergyFrom time.Time
	// MinimumStandard is the emission standard other trucks must meet
	// (CLEARSKY_MUCK_MIN_STANDARD; default V).
	MinimumStandard string
	// RequireClean refuses permits while the plate has an open remote-sensing case or an OBD
	// alarm (CLEARSKY_MUCK_REQUIRE_CLEAN=1; default off).
	RequireClean bool
	// RevokeOn lists the violation kinds that revoke a truck's permits
	// (CLEARSKY_MUCK_REVOKE_ON, comma-separated, "none" for none; nil keeps the default
	// leaky_cover,unauthorised_dumping).
	RevokeOn []string
	// MaxPermitDays bounds a permit's validity (CLEARSKY_MUCK_MAX_PERMIT_DAYS; default 366).
	MaxPermitDays int
	// SweepEvery is how often stale cache entries are republished, ended permits marked
	// expired and interrupted revocations finished (default 10 s).
	SweepEvery time.Duration
	// Owners are the base URLs of the services whose parts the clean-record check reads when
	// Redis does not know them (CLEARSKY_REMOTESENSING_URL, default http://remotesensing:8080;
	// CLEARSKY_OBD_URL, default http://obd:8080).
	Owners map[summary.Part]string
	// HTTP is the client for them (nil: a default client).
	HTTP *http.Client
	// Clock replaces time.Now (tests).
	Clock func() time.Time
}

// ConfigFromEnv reads Config from the environment with getenv (the cmd and the all-in-one).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{Owners: map[summary.Part]string{
		summary.RemoteSensing: or(getenv("CLEARSKY_REMOTESENSING_URL"), "http://remotesensing:8080"),
		summary.OBD:           or(getenv("CLEARSKY_OBD_URL"), "http://obd:8080"),
	}}
	var errs []error
	if s := strings.TrimSpace(getenv("CLEARSKY_MUCK_NEW_ENERGY_FROM")); s != "" {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("CLEARSKY_MUCK_NEW_ENERGY_FROM: %q is not a YYYY-MM-DD day", s))
		}
		c.NewEnergyFrom = t
	}
	c.MinimumStandard = strings.TrimSpace(getenv("CLEARSKY_MUCK_MIN_STANDARD"))
	switch s := strings.TrimSpace(getenv("CLEARSKY_MUCK_REQUIRE_CLEAN")); s {
	case "", "0", "false":
	case "1", "true":
		c.RequireClean = true
	default:
		errs = append(errs, fmt.Errorf("CLEARSKY_MUCK_REQUIRE_CLEAN: %q is not 1 or 0", s))
	}
	if s := strings.TrimSpace(getenv("CLEARSKY_MUCK_REVOKE_ON")); s != "" {
		c.RevokeOn = []string{}
		if s != "none" {
			for _, k := range strings.Split(s, ",") {
				c.RevokeOn = append(c.RevokeOn, strings.TrimSpace(k))
			}
		}
	}
	if s := strings.TrimSpace(getenv("CLEARSKY_MUCK_MAX_PERMIT_DAYS")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("CLEARSKY_MUCK_MAX_PERMIT_DAYS: %q is not a positive number of days", s))
		}
		c.MaxPermitDays = n
	}
	return c, errors.Join(errs...)
}

// policy turns the configuration into the core's policy.
func (c Config) policy() (permit.Policy, error) {
	p := permit.DefaultPolicy()
	if !c.NewEnergyFrom.IsZero() {
		p.NewEnergyFrom = c.NewEnergyFrom
	}
	if c.MinimumStandard != "" {
		p.MinimumStandard = permit.Standard(c.MinimumStandard)
	}
	p.RequireClean = c.RequireClean
	if c.RevokeOn != nil {
		p.RevokeOn = []permit.ViolationKind{}
		for _, k := range c.RevokeOn {
			p.RevokeOn = append(p.RevokeOn, permit.ViolationKind(k))
		}
	}
	if c.MaxPermitDays > 0 {
		p.MaxPermitDays = c.MaxPermitDays
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("muck policy: %w", err)
	}
	return p, nil
}

// Service is a running muck service.
type Service struct {
	core    *permit.Service
	parts   *partsync.Sync
	handler *handler.Handler
	deps    platform.Deps
	every   time.Duration
}

// New builds the muck service on deps, creating its indexes. deps.Vehicles (the registry
// client) is required.
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	policy, err := cfg.policy()
	if err != nil {
		return nil, err
	}
	if deps.Vehicles == nil {
		return nil, errors.New("muck needs the registry client (platform.Deps.Vehicles)")
	}
	store := permitstore.New(deps.DB)
	if err := store.EnsureIndexes(ctx, deps.Indexes); err != nil {
		return nil, fmt.Errorf("muck indexes: %w", err)
	}
	parts := summary.NewWriter(deps.Redis, deps.RedisPrefix, summary.Muck)
	signals := permitcache.New(deps.Redis, deps.RedisPrefix,
		owners.New(Name, cfg.Owners, cfg.HTTP, deps.Keys, deps.Telemetry.Tracer, deps.Telemetry.Propagator, 0))
	core := permit.NewService(permit.Deps{Stores: permit.Stores{Sites: store, Permits: store, Passes: store, Violations: store, Records: store}, Cache: parts, Vehicles: deps.Vehicles, Signals: signals, Policy: policy,
		Logger: deps.Logger, Tracer: deps.Telemetry.Tracer, Now: cfg.Clock})
	sync := partsync.New(parts, core, deps.Telemetry.Tracer, store.PartSources()...)
	sync.SetEvents(events.NewSink(deps.DB))
	every := cfg.SweepEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	return &Service{core: core, parts: sync, handler: handler.New(core, deps.Logger), deps: deps, every: every}, nil
}

// Routes registers the muck routes (under /v1/muck).
func (s *Service) Routes(r gin.IRouter) { s.handler.Routes(r) }

// Run keeps the service's derived state coherent until ctx ends: at start and then every
// SweepEvery it rebuilds the whole cache when Redis has lost its data, republishes the plates
// whose entries may be stale, marks ended permits expired and finishes interrupted automatic
// revocations, and delivers the outbox: parts whose publish failed, and the domain events of
// permits, passes and violations. One loop, in that order: on FerretDB a runner's write racing
// the sweep's on the same document can lose one of them (docs/ferretdb.md).
func (s *Service) Run(ctx context.Context) {
	platform.Every(ctx, s.every, s.deps.Logger,
		platform.Job{Name: "muck_sweep", Run: s.core.Sweep},
		platform.Job{Name: "muck_resync_cache", Run: s.parts.Resync},
		platform.Job{Name: "muck_republish", Run: s.parts.Republish})
}

func or(v, def string) string {
	if v = strings.TrimSpace(v); v != "" {
		return v
	}
	return def
}

// Republish delivers the outbox of permits, passes and violations once: the parts whose
// publish failed and the domain events (tests; Run does it on a timer).
func (s *Service) Republish(ctx context.Context) (int, error) { return s.parts.Republish(ctx) }
