// Package disclosure is the disclosure service: the public part of the platform (the action
// plan's 加强环境信息公开). The bureau compiles each month's lists from the services that own the
// records (vehicles found exceeding by remote sensing, failing fuel, urea and coal samples,
// muck-truck violations by construction site), reviews them, withholds rows with a reason and
// publishes them; the public reads what is published, with no sign-in, under /v1/public/, as
// JSON and an Atom feed, and on the console's page /public/. See docs/disclosure.md.
package disclosure

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/disclosure"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/disclosure/internal/handler"
	"github.com/clearsky/clearsky/services/disclosure/internal/publish"
	"github.com/clearsky/clearsky/services/disclosure/internal/publishstore"
	"github.com/clearsky/clearsky/services/disclosure/internal/sources"
)

// Name is the service's name in traces, logs and audit entries.
const Name = "disclosure"

// Config is the disclosure service's configuration (docs/configuration.md).
type Config struct {
	// Owners are the base URLs of the services each list is compiled from:
	// CLEARSKY_REMOTESENSING_URL (http://remotesensing:8080), CLEARSKY_FUEL_URL
	// (http://fuel:8080), CLEARSKY_MUCK_URL (http://muck:8080).
	Owners map[disclosure.Kind]string
	// HTTP is the client for them (nil: a default client).
	HTTP *http.Client
	// PublicURL (CLEARSKY_PUBLIC_URL) is the platform's public address, for the feed's links;
	// empty: links relative to the host.
	PublicURL string
	// Public is the public routes' rate and caching: CLEARSKY_PUBLIC_RATE requests a second per
	// address (5), CLEARSKY_PUBLIC_BURST (20), CLEARSKY_PUBLIC_MAX_AGE_SECONDS (300).
	Public httpserver.PublicOptions
}

// ConfigFromEnv reads Config with getenv.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	or := func(v, def string) string {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
		return def
	}
	rate, burst, age := 5, 20, 300
	if err := platform.ReadInts(getenv,
		platform.EnvInt{Name: "CLEARSKY_PUBLIC_RATE", Dst: &rate},
		platform.EnvInt{Name: "CLEARSKY_PUBLIC_BURST", Dst: &burst},
		platform.EnvInt{Name: "CLEARSKY_PUBLIC_MAX_AGE_SECONDS", Dst: &age}); err != nil {
		return Config{}, err
	}
	pub := httpserver.PublicOptions{PerSecond: float64(rate), Burst: burst, MaxAge: time.Duration(age) * time.Second}
	return Config{
		Owners: map[disclosure.Kind]string{
			disclosure.VehicleExceedances: or(getenv("CLEARSKY_REMOTESENSING_URL"), "http://remotesensing:8080"),
			disclosure.FuelFailures:       or(getenv("CLEARSKY_FUEL_URL"), "http://fuel:8080"),
			disclosure.MuckViolations:     or(getenv("CLEARSKY_MUCK_URL"), "http://muck:8080"),
		},
		PublicURL: strings.TrimRight(strings.TrimSpace(getenv("CLEARSKY_PUBLIC_URL")), "/"),
		Public:    pub,
	}, nil
}

// Service is a running disclosure service.
type Service struct {
	core    *publish.Service
	handler *handler.Handler
}

// New builds the service on deps, creating its indexes.
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	store := publishstore.New(deps.DB)
	if err := store.EnsureIndexes(ctx, deps.Indexes); err != nil {
		return nil, err
	}
	src := sources.New(Name, cfg.Owners, cfg.HTTP, deps.Keys, deps.Telemetry.Tracer, deps.Telemetry.Propagator)
	core := publish.NewService(store, src, deps.Logger)
	return &Service{core: core, handler: handler.New(core, deps.Logger, cfg.Public, cfg.PublicURL)}, nil
}

// Routes registers the routes.
func (s *Service) Routes(r gin.IRouter) { s.handler.Routes(r) }

// Run has no background work: lists change only when the bureau acts.
func (s *Service) Run(ctx context.Context) { <-ctx.Done() }

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.core.SetClock(now) }
