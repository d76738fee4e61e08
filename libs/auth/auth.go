// Package auth issues and verifies ClearSky's bearer tokens (JWT, HS256) and carries the caller
// (role and tenant) through a request. Every route declares the roles it admits with Require;
// the services then scope what a caller sees by its tenant (a fleet sees its own trucks).
package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"github.com/clearsky/clearsky/libs/apperr"
)

// Role is what a caller is allowed to do.
type Role string

// The roles. Tenant-scoped roles (fleet, station, lab, construction, repair, sensor) carry the
// id of the organisation they act for.
const (
	Police       Role = "police"       // traffic police: checkpoint lookups, penalties, passes
	Fleet        Role = "fleet"        // transport company: its own trucks, telemetry, permits
	Station      Role = "station"      // filling station or depot: its own samples
	Lab          Role = "lab"          // testing lab: samples of the sites it is contracted to
	Bureau       Role = "bureau"       // environmental bureau staff: everything, cases, reports
	Construction Role = "construction" // housing and construction bureau: muck-truck permits
	Transport    Role = "transport"    // transport bureau: repair confirmations
	Repair       Role = "repair"       // repair shop: repairs it carried out
	Sensor       Role = "sensor"       // remote-sensing station: uploads its measurements
	Admin        Role = "admin"        // platform operator: accounts, configuration, reads; no enforcement decision
	// System is a ClearSky service calling another on its own behalf (a status lookup while
	// judging an upload); its tokens are minted by the services from the shared secret.
	System Role = "system"
)

// Roles lists every role.
var Roles = []Role{Police, Fleet, Station, Lab, Bureau, Construction, Transport, Repair, Sensor, Admin, System}

// ParseRole checks that s names a role.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q", s)
}

// NeedsTenant reports whether the role acts for one organisation and so must carry a tenant.
func (r Role) NeedsTenant() bool {
	switch r {
	case Fleet, Station, Lab, Construction, Repair, Sensor:
		return true
	}
	return false
}

// Principal is the authenticated caller.
type Principal struct {
	Subject string // who: a user or system id, recorded in audit trails and histories
	Role    Role
	Tenant  string // the organisation for tenant-scoped roles; empty otherwise
}

// Is reports whether the principal has one of the roles.
func (p Principal) Is(roles ...Role) bool {
	for _, r := range roles {
		if p.Role == r {
			return true
		}
	}
	return false
}

// claims is the token's payload.
type claims struct {
	Role   Role   `json:"role"`
	Tenant string `json:"tenant,omitempty"`
	jwt.RegisteredClaims
}

const issuer = "clearsky"

// Keys signs and verifies tokens with one shared secret. Verified tokens are remembered until
// they expire (a bounded cache), so a token used for many requests — an officer at a
// checkpoint — is checked once.
type Keys struct {
	secret []byte

	mu       sync.Mutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	p   Principal
	exp time.Time
}

// verifiedMax bounds the cache of verified tokens; it is emptied when full.
const verifiedMax = 8192

// NewKeys returns Keys for secret, which must be at least 32 bytes.
func NewKeys(secret []byte) (*Keys, error) {
	if len(secret) < 32 {
		return nil, errors.New("jwt secret must be at least 32 bytes")
	}
	return &Keys{secret: secret, verified: map[string]verifiedToken{}}, nil
}

// Issue signs a token for p valid for ttl from now.
func (k *Keys) Issue(p Principal, now time.Time, ttl time.Duration) (string, error) {
	if p.Role.NeedsTenant() && p.Tenant == "" {
		return "", fmt.Errorf("role %s needs a tenant", p.Role)
	}
	if p.Subject == "" {
		p.Subject = string(p.Role)
		if p.Tenant != "" {
			p.Subject += "@" + p.Tenant
		}
	}
	c := claims{Role: p.Role, Tenant: p.Tenant, RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   p.Subject,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(k.secret)
}

// Verify checks a token's signature, issuer and expiry and returns its principal.
func (k *Keys) Verify(token string) (Principal, error) {
	now := time.Now()
	k.mu.Lock()
	v, ok := k.verified[token]
	k.mu.Unlock()
	if ok && now.Before(v.exp) {
		return v.p, nil
	}
	p, exp, err := k.verify(token)
	if err != nil {
		return Principal{}, err
	}
	k.mu.Lock()
	if len(k.verified) >= verifiedMax {
		clear(k.verified)
	}
	k.verified[token] = verifiedToken{p: p, exp: exp}
	k.mu.Unlock()
	return p, nil
}

func (k *Keys) verify(token string) (Principal, time.Time, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return k.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer), jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	if err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("bearer token: %v: %w", err, apperr.ErrUnauthenticated)
	}
	if _, err := ParseRole(string(c.Role)); err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("bearer token: %v: %w", err, apperr.ErrUnauthenticated)
	}
	if c.Role.NeedsTenant() && c.Tenant == "" {
		return Principal{}, time.Time{}, fmt.Errorf("bearer token: role %s without tenant: %w", c.Role, apperr.ErrUnauthenticated)
	}
	return Principal{Subject: c.Subject, Role: c.Role, Tenant: c.Tenant}, c.ExpiresAt.Time, nil
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal a request was authenticated as.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// Authenticate is gin middleware that verifies the bearer token, if any, and puts its principal
// in the request's context. A request without a token goes on unauthenticated (Require refuses
// it); a request with a bad token is refused at once. onError writes the refusal.
func Authenticate(k *Keys, onError func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		if h == "" {
			c.Next()
			return
		}
		// The scheme is case-insensitive (RFC 7235 §2.1): "bearer" and "BEARER" are "Bearer".
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			onError(c, fmt.Errorf("authorization header must be \"Bearer <token>\": %w", apperr.ErrUnauthenticated))
			return
		}
		p, err := k.Verify(strings.TrimSpace(tok))
		if err != nil {
			onError(c, err)
			return
		}
		c.Request = c.Request.WithContext(WithPrincipal(c.Request.Context(), p))
		c.Next()
	}
}

// Require is gin middleware admitting only callers with one of roles. The platform
// administrator (Admin) also passes it on reads (GET and HEAD), and on nothing else unless the
// route names Admin among roles: administrators manage accounts and configuration and may read
// everything to support users, but they take no enforcement decision and act for no regulated
// party (docs/architecture.md, "Identity and authorisation").
func Require(onError func(*gin.Context, error), roles ...Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := FromContext(c.Request.Context())
		if !ok {
			onError(c, fmt.Errorf("this route needs a bearer token (run `clearsky token -role ROLE` for one): %w", apperr.ErrUnauthenticated))
			return
		}
		if !p.Is(roles...) && !(p.Role == Admin && AdminReads(c.Request.Method)) {
			if p.Role == Admin {
				onError(c, fmt.Errorf("the platform admin reads but takes no enforcement decision and acts for no party; use an account of the deciding authority: %w", apperr.ErrForbidden))
				return
			}
			onError(c, fmt.Errorf("role %s may not use this route: %w", p.Role, apperr.ErrForbidden))
			return
		}
		c.Next()
	}
}

// AdminReads reports whether Require lets the admin through a route of this method without the
// route naming Admin: reads only.
func AdminReads(method string) bool { return method == "GET" || method == "HEAD" }

// Caller returns the principal of a request that passed Require.
func Caller(c *gin.Context) Principal {
	p, _ := FromContext(c.Request.Context())
	return p
}

// SystemTokens mints the tokens a service uses to call another on its own behalf (role system),
// reusing one until shortly before it expires. It is safe for concurrent use.
type SystemTokens struct {
	keys    *Keys
	subject string

	mu    sync.Mutex
	tok   string
	until time.Time
}

// NewSystemTokens returns the token source of service.
func NewSystemTokens(keys *Keys, service string) *SystemTokens {
	return &SystemTokens{keys: keys, subject: "service:" + service}
}

// Token returns a valid system token.
func (s *SystemTokens) Token() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.tok != "" && now.Before(s.until) {
		return s.tok, nil
	}
	tok, err := s.keys.Issue(Principal{Subject: s.subject, Role: System}, now, 15*time.Minute)
	if err != nil {
		return "", fmt.Errorf("mint system token: %w", err)
	}
	s.tok, s.until = tok, now.Add(10*time.Minute)
	return tok, nil
}
