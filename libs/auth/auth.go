// Package auth issues and verifies ClearSky's bearer tokens and carries the caller (role and
// tenant) through a request. Every route declares the roles it admits with Require; the services
// then scope what a caller sees by its tenant (a fleet sees its own trucks).
//
// Two kinds of token are accepted: HS256 tokens signed with the shared secret (Issue: the
// services' own system tokens and the development `clearsky token`), and EdDSA access tokens the
// accounts service signs, checked against its published keys (a KeySource, usually a JWKS
// fetched over HTTP: jwks.go) and refused once their subject or session is revoked
// (revocation.go).
package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
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
	// OrgAdmin says the person administers its organisation (accounts: it holds admin there),
	// whatever role the token is for: it manages the organisation's webhooks. Never for keys.
	OrgAdmin bool
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
	// OrgAdmin: the person administers its organisation (Principal.OrgAdmin).
	OrgAdmin bool `json:"org_admin,omitempty"`
	// SID is the session or API key an access token was exchanged for (EdDSA tokens): revoking
	// it refuses the token.
	SID string `json:"sid,omitempty"`
	jwt.RegisteredClaims
}

const issuer = "clearsky"

// Keys signs and verifies tokens with one shared secret. Verified tokens are remembered until
// they expire (a bounded cache), so a token used for many requests — an officer at a
// checkpoint — is checked once.
type Keys struct {
	secret []byte
	// source gives the accounts service's public keys (UseKeySource); nil: EdDSA tokens are
	// refused.
	source  atomic.Pointer[sourceBox]
	revoked *Revocations

	mu       sync.Mutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	p        Principal
	exp, iat time.Time
	sid      string
}

// verifiedMax bounds the cache of verified tokens; it is emptied when full.
const verifiedMax = 8192

// NewKeys returns Keys for secret, which must be at least 32 bytes.
func NewKeys(secret []byte) (*Keys, error) {
	if len(secret) < 32 {
		return nil, errors.New("jwt secret must be at least 32 bytes")
	}
	return &Keys{secret: secret, verified: map[string]verifiedToken{}, revoked: NewRevocations()}, nil
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
	c := claims{Role: p.Role, Tenant: p.Tenant, OrgAdmin: p.OrgAdmin, RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   p.Subject,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(k.secret)
}

// Verify checks a token's signature, issuer and expiry and returns its principal. A token whose
// subject or session was revoked after it was issued (Revocations) is refused, even when it was
// verified before.
func (k *Keys) Verify(token string) (Principal, error) {
	now := time.Now()
	k.mu.Lock()
	v, ok := k.verified[token]
	k.mu.Unlock()
	if !ok || !now.Before(v.exp) {
		var err error
		if v, err = k.verify(token); err != nil {
			return Principal{}, err
		}
		k.mu.Lock()
		if len(k.verified) >= verifiedMax {
			clear(k.verified)
		}
		k.verified[token] = v
		k.mu.Unlock()
	}
	if k.revoked.Refuses(v.p.Subject, v.sid, v.iat) {
		return Principal{}, fmt.Errorf("bearer token: its person, session or key was revoked; get a new token: %w", apperr.ErrUnauthenticated)
	}
	return v.p, nil
}

// MaxAccessTokenLife bounds an EdDSA access token's life (expiry minus issue time): the accounts
// service issues them for minutes, so a longer one is refused, whoever signed it.
const MaxAccessTokenLife = 15 * time.Minute

func (k *Keys) verify(token string) (verifiedToken, error) {
	var c claims
	tok, err := jwt.ParseWithClaims(token, &c, k.key,
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg(), jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(issuer), jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	if err != nil {
		return verifiedToken{}, fmt.Errorf("bearer token: %v: %w", err, apperr.ErrUnauthenticated)
	}
	if _, err := ParseRole(string(c.Role)); err != nil {
		return verifiedToken{}, fmt.Errorf("bearer token: %v: %w", err, apperr.ErrUnauthenticated)
	}
	if c.Role.NeedsTenant() && c.Tenant == "" {
		return verifiedToken{}, fmt.Errorf("bearer token: role %s without tenant: %w", c.Role, apperr.ErrUnauthenticated)
	}
	v := verifiedToken{p: Principal{Subject: c.Subject, Role: c.Role, Tenant: c.Tenant, OrgAdmin: c.OrgAdmin}, exp: c.ExpiresAt.Time, sid: c.SID}
	if c.IssuedAt != nil {
		v.iat = c.IssuedAt.Time
	}
	if tok.Method == jwt.SigningMethodEdDSA {
		if c.IssuedAt == nil || c.Subject == "" || v.exp.Sub(v.iat) > MaxAccessTokenLife {
			return verifiedToken{}, fmt.Errorf("bearer token: an access token needs sub and iat, and lives at most %s: %w", MaxAccessTokenLife, apperr.ErrUnauthenticated)
		}
	}
	return v, nil
}

// key picks the verification key by the token's algorithm: the shared secret for HS256, the
// accounts service's public key named by kid for EdDSA. (The library also refuses a key of the
// wrong type for the method, so one algorithm's key never verifies the other's tokens.)
func (k *Keys) key(t *jwt.Token) (any, error) {
	switch t.Method {
	case jwt.SigningMethodHS256:
		return k.secret, nil
	case jwt.SigningMethodEdDSA:
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("an EdDSA token needs a kid header")
		}
		box := k.source.Load()
		if box == nil {
			return nil, errors.New("this service takes no EdDSA tokens (no key set configured)")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return box.s.PublicKey(ctx, kid)
	}
	return nil, fmt.Errorf("algorithm %v is not accepted", t.Header["alg"])
}

// UseKeySource makes k accept EdDSA access tokens whose kid src knows: a JWKS fetched from the
// accounts service (NewJWKS), or the accounts service's own key ring in its process.
func (k *Keys) UseKeySource(src KeySource) { k.source.Store(&sourceBox{s: src}) }

// Revocations is the set of revoked subjects and sessions k refuses tokens of; feed it with
// Revocations.Listen.
func (k *Keys) Revocations() *Revocations { return k.revoked }

type sourceBox struct{ s KeySource }

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
		tok = strings.TrimSpace(tok)
		if IsAPIKey(tok) {
			// An API key is no access token: only the accounts service's token route reads it
			// (from the header), to exchange it for one. Elsewhere Require refuses the request.
			c.Next()
			return
		}
		p, err := k.Verify(tok)
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
			onError(c, fmt.Errorf("this route needs a bearer access token (POST /v1/auth/token exchanges a session or an API key for one; in development `clearsky token -role ROLE` makes one): %w", apperr.ErrUnauthenticated))
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
