package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/auth"
)

// Config is the core's settings.
type Config struct {
	IdleTimeout     time.Duration // a session unused this long ends (30 min)
	SessionLifetime time.Duration // a session ends this long after sign-in whatever its use (12 h)
	TokenTTL        time.Duration // an access token's life (5 min)
	RotateEvery     time.Duration // a signing key signs this long, then the next one (24 h)
	TOTPIssuer      string        // the issuer authenticator apps show ("ClearSky")
}

func (c Config) withDefaults() Config {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 30 * time.Minute
	}
	if c.SessionLifetime <= 0 {
		c.SessionLifetime = 12 * time.Hour
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = 5 * time.Minute
	}
	if c.RotateEvery <= 0 {
		c.RotateEvery = 24 * time.Hour
	}
	if c.TOTPIssuer == "" {
		c.TOTPIssuer = "ClearSky"
	}
	return c
}

// Auditor appends audit entries (libs/audit).
type Auditor interface {
	Record(ctx context.Context, p auth.Principal, action, subject string, detail map[string]any) error
}

// Announcer tells every verifier that a person, session or key was revoked (Redis pub/sub).
type Announcer interface {
	Announce(ctx context.Context, id string, at time.Time) error
}

// Service is the accounts core.
type Service struct {
	cfg      Config
	store    Store
	audit    Auditor
	announce Announcer
	log      *slog.Logger
	tracer   trace.Tracer
	now      func() time.Time

	ringMu   sync.Mutex
	ring     []SigningKey // the keys published, newest first
	ringRead time.Time    // when ring was read from the store
}

// NewService returns the core on its store.
func NewService(cfg Config, store Store, audit Auditor, announce Announcer, log *slog.Logger, tp trace.TracerProvider) *Service {
	return &Service{cfg: cfg.withDefaults(), store: store, audit: audit, announce: announce, log: log,
		tracer: tp.Tracer("github.com/clearsky/clearsky/services/accounts"), now: time.Now}
}

// SetClock replaces the clock (tests of timeouts and rotation).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Config returns the core's settings, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// revoke announces id's revocation; MongoDB already refuses it, so a failed announcement only
// lets tokens handed out run to their expiry (minutes), and is logged.
func (s *Service) revoke(ctx context.Context, id string, at time.Time) {
	if err := s.announce.Announce(ctx, id, at); err != nil {
		s.log.WarnContext(ctx, "revocation_not_announced", "id", id, "error", err.Error(),
			"effect", "tokens already issued stay valid until they expire")
	}
}

// record writes an audit entry; a failure is returned (an administrative change is not left
// unrecorded without an error).
func (s *Service) record(ctx context.Context, p auth.Principal, action, subject string, detail map[string]any) error {
	return s.audit.Record(ctx, p, action, subject, detail)
}

// secret returns n random bytes as base64url.
func secret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newID returns prefix and 16 random hex digits.
func newID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// digest is the SHA-256 of a high-entropy secret (a session id, a key's secret), in hex: what is
// stored in its place.
func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
