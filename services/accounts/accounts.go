// Package accounts is the accounts service: the platform's organisations and their people,
// password and TOTP sign-in with lockout, browser sessions with CSRF protection, API keys for
// machine clients, and the short-lived EdDSA access tokens every service verifies against its
// JWKS (/.well-known/jwks.json). See docs/accounts.md.
package accounts

import (
	"context"
	"fmt"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/clearsky/clearsky/libs/audit"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/accounts/internal/account"
	"github.com/clearsky/clearsky/services/accounts/internal/accountstore"
	"github.com/clearsky/clearsky/services/accounts/internal/handler"
)

// Name is the service's name in traces, logs and audit entries.
const Name = "accounts"

// Config is the accounts service's own configuration (docs/configuration.md).
type Config struct {
	IdleTimeout     time.Duration // CLEARSKY_ACCOUNTS_IDLE_MINUTES (30)
	SessionLifetime time.Duration // CLEARSKY_ACCOUNTS_SESSION_HOURS (12)
	RotateEvery     time.Duration // CLEARSKY_ACCOUNTS_KEY_ROTATION_HOURS (24)
	// SecureCookies (CLEARSKY_ACCOUNTS_SECURE_COOKIES): auto (Secure when the request came over
	// TLS, or X-Forwarded-Proto says so), always, never.
	SecureCookies string
	// SweepEvery is how often expired sessions, old failures and retired keys are deleted (1 min).
	SweepEvery time.Duration
	// NotifyURL (CLEARSKY_NOTIFY_URL) is the notification service's base, to which
	// /v1/organisations/{id}/webhooks... is forwarded: the Ingress routes by path prefix and
	// /v1/organisations is this service's. Empty (the all-in-one, where the notification
	// service serves those routes itself): not forwarded.
	NotifyURL string
}

// ConfigFromEnv reads the accounts service's settings.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	idle, life, rot := 30, 12, 24
	if err := platform.ReadInts(getenv,
		platform.EnvInt{Name: "CLEARSKY_ACCOUNTS_IDLE_MINUTES", Dst: &idle},
		platform.EnvInt{Name: "CLEARSKY_ACCOUNTS_SESSION_HOURS", Dst: &life},
		platform.EnvInt{Name: "CLEARSKY_ACCOUNTS_KEY_ROTATION_HOURS", Dst: &rot}); err != nil {
		return Config{}, err
	}
	cfg := Config{IdleTimeout: time.Duration(idle) * time.Minute, SessionLifetime: time.Duration(life) * time.Hour,
		RotateEvery: time.Duration(rot) * time.Hour, SecureCookies: getenv("CLEARSKY_ACCOUNTS_SECURE_COOKIES"), NotifyURL: getenv("CLEARSKY_NOTIFY_URL")}
	if cfg.NotifyURL != "" {
		if u, err := url.Parse(cfg.NotifyURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("CLEARSKY_NOTIFY_URL must be an http(s) base URL, not %q", cfg.NotifyURL)
		}
	}
	if _, err := secureCookies(cfg.SecureCookies); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func secureCookies(s string) (handler.SecureCookies, error) {
	switch s {
	case "", "auto":
		return handler.SecureAuto, nil
	case "always":
		return handler.SecureAlways, nil
	case "never":
		return handler.SecureNever, nil
	}
	return 0, fmt.Errorf("CLEARSKY_ACCOUNTS_SECURE_COOKIES must be auto, always or never, not %q", s)
}

// Service is a running accounts service.
type Service struct {
	core    *account.Service
	handler *handler.Handler
	deps    platform.Deps
	sweep   time.Duration
	notify  *httputil.ReverseProxy // nil: webhook routes not forwarded
}

// announcer refuses a revoked id in this process at once and announces it to the others.
type announcer struct {
	rdb    redis.UniversalClient
	prefix string
	local  *auth.Revocations
}

func (a announcer) Announce(ctx context.Context, id string, at time.Time) error {
	a.local.Revoke(id, at)
	return auth.Announce(ctx, a.rdb, a.prefix, id, at)
}

// New builds the accounts service on deps, creating its indexes and signing keys. deps.Keys
// verifies the service's own access tokens from its key ring from then on (in the all-in-one,
// every service's).
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	secure, err := secureCookies(cfg.SecureCookies)
	if err != nil {
		return nil, err
	}
	store := accountstore.New(deps.DB)
	if err := store.EnsureIndexes(ctx, deps.Indexes); err != nil {
		return nil, fmt.Errorf("accounts indexes: %w", err)
	}
	core := account.NewService(account.Config{IdleTimeout: cfg.IdleTimeout, SessionLifetime: cfg.SessionLifetime, RotateEvery: cfg.RotateEvery},
		store, audit.NewRecorder(deps.DB, Name), announcer{rdb: deps.Redis, prefix: deps.RedisPrefix, local: deps.Keys.Revocations()},
		deps.Logger, deps.Telemetry.Tracer)
	if _, err := core.Keyring(ctx, true); err != nil {
		return nil, fmt.Errorf("accounts signing keys: %w", err)
	}
	deps.Keys.UseKeySource(core)
	sweep := cfg.SweepEvery
	if sweep <= 0 {
		sweep = time.Minute
	}
	svc := &Service{core: core, handler: handler.New(core, deps.Logger, secure), deps: deps, sweep: sweep}
	if cfg.NotifyURL != "" {
		u, _ := url.Parse(cfg.NotifyURL)
		svc.notify = httputil.NewSingleHostReverseProxy(u)
	}
	return svc, nil
}

// Routes registers the accounts routes, and forwards an organisation's webhook routes to the
// notification service when Config.NotifyURL is set.
func (s *Service) Routes(r gin.IRouter) {
	s.handler.Routes(r)
	if s.notify != nil {
		fwd := func(c *gin.Context) { s.notify.ServeHTTP(c.Writer, c.Request) }
		r.Any("/v1/organisations/:id/webhooks", fwd)
		r.Any("/v1/organisations/:id/webhooks/*rest", fwd)
	}
}

// Run deletes what has expired and keeps the signing keys rotating until ctx ends.
func (s *Service) Run(ctx context.Context) {
	platform.Every(ctx, s.sweep, s.deps.Logger,
		platform.Job{Name: "accounts_rotate_keys", Run: func(ctx context.Context) (int, error) {
			_, err := s.core.Keyring(ctx, true)
			return 0, err
		}},
		platform.Job{Name: "accounts_sweep", Run: func(ctx context.Context) (int, error) { return 0, s.core.Sweep(ctx) }})
}

// DemoAccount is a demo person made, with its one-time-shown password.
type DemoAccount = account.DemoAccount

// DemoPeople makes the all-in-one demo data's people, one per role shown in its banner, and
// returns those made now with their passwords (nil when they exist from an earlier start).
func (s *Service) DemoPeople(ctx context.Context) ([]DemoAccount, error) {
	return s.core.Demo(ctx, []account.DemoPerson{
		{Org: account.BureauID, Kind: account.KindBureau, Username: "demo-bureau", Role: auth.Bureau},
		{Org: "police-shuocheng", OrgName: "朔城区交警大队", Kind: account.KindPolice, Username: "demo-police", Role: auth.Police},
		{Org: "fleet-shuozhou-logistics", OrgName: "朔州物流运输有限公司", Kind: account.KindFleet, Username: "demo-fleet", Role: auth.Fleet},
		{Org: "st-shuocheng-01", OrgName: "朔城区开发路加油站", Kind: account.KindStation, Username: "demo-station", Role: auth.Station},
	})
}

// Bootstrap makes the bureau organisation and its first administrator ("admin") on a first
// start, returning the one-time password to show whoever installs the platform; made is false
// when the bureau exists.
func (s *Service) Bootstrap(ctx context.Context) (made bool, username, oneTimePassword string, err error) {
	return s.core.Bootstrap(ctx, "Environmental bureau", "admin")
}

// SetClock replaces the service's clock (tests of timeouts and key rotation).
func (s *Service) SetClock(now func() time.Time) { s.core.SetClock(now) }

// Rotate reads the key ring again, making the keys of this period and the next when missing
// (what Run does every SweepEvery), and returns how many keys are published.
func (s *Service) Rotate(ctx context.Context) (int, error) {
	keys, err := s.core.Keyring(ctx, true)
	return len(keys), err
}
