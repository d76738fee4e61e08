package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// KeySource gives the Ed25519 public key an access token's kid names.
type KeySource interface {
	PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

// APIKeyPrefix starts every API key the accounts service hands out ("csk_<key id>_<secret>"), so
// the edge tells a key from an access token without trying to verify it.
const APIKeyPrefix = "csk_"

// IsAPIKey reports whether a bearer credential is an API key rather than an access token.
func IsAPIKey(tok string) bool { return strings.HasPrefix(tok, APIKeyPrefix) }

// JWK is one public key of a JSON Web Key Set (RFC 7517), an Ed25519 key as RFC 8037 writes it.
type JWK struct {
	KeyType string `json:"kty"`
	Curve   string `json:"crv"`
	X       string `json:"x"`
	KeyID   string `json:"kid"`
	Use     string `json:"use,omitempty"`
	Alg     string `json:"alg,omitempty"`
}

// JWKSet is the document /.well-known/jwks.json serves.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK writes pub as the JWK named kid.
func PublicJWK(kid string, pub ed25519.PublicKey) JWK {
	return JWK{KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), KeyID: kid, Use: "sig", Alg: "EdDSA"}
}

// PublicKey reads an Ed25519 signing key out of k.
func (k JWK) PublicKey() (ed25519.PublicKey, error) {
	if k.KeyType != "OKP" || k.Curve != "Ed25519" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "EdDSA") {
		return nil, fmt.Errorf("key %q is not an Ed25519 signing key (kty %q, crv %q)", k.KeyID, k.KeyType, k.Curve)
	}
	raw, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("key %q: x is not a base64url Ed25519 public key", k.KeyID)
	}
	return ed25519.PublicKey(raw), nil
}

// JWKS is a KeySource that fetches the accounts service's key set over HTTP and caches it. An
// unknown kid (a key rotated in since the last fetch) fetches it again, at most once every
// MinRefetch, so tokens naming made-up keys cannot make it hammer the accounts service; a set
// older than MaxAge is fetched again on the next use. Keys no longer published are forgotten at
// the next fetch. When a fetch fails the keys already held stay in use.
type JWKS struct {
	url string
	hc  *http.Client
	// MinRefetch is the least time between two fetches (5 s); MaxAge how long a set is used
	// before it is fetched again (10 min).
	MinRefetch, MaxAge time.Duration

	fetch   sync.Mutex // one fetch at a time
	mu      sync.Mutex
	keys    map[string]ed25519.PublicKey
	fetched time.Time // last successful fetch
	tried   time.Time // last attempt
}

// NewJWKS returns a key source reading the set at url (e.g.
// http://accounts:8080/.well-known/jwks.json) through hc (nil: a client with a 5 s timeout).
func NewJWKS(url string, hc *http.Client) *JWKS {
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	return &JWKS{url: url, hc: hc, MinRefetch: 5 * time.Second, MaxAge: 10 * time.Minute}
}

// ErrUnknownKey is the failure for a kid the key set does not hold.
var ErrUnknownKey = errors.New("unknown signing key")

// PublicKey returns the key kid names, fetching the set when it does not hold kid or is old.
func (j *JWKS) PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	if k, fresh, ok := j.lookup(kid); ok && fresh {
		return k, nil
	}
	err := j.refresh(ctx)
	if k, _, ok := j.lookup(kid); ok {
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("key %q: %w (key set: %v)", kid, ErrUnknownKey, err)
	}
	return nil, fmt.Errorf("key %q: %w", kid, ErrUnknownKey)
}

func (j *JWKS) lookup(kid string) (ed25519.PublicKey, bool, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	k, ok := j.keys[kid]
	return k, time.Since(j.fetched) < j.MaxAge, ok
}

// refresh fetches the set unless one was tried within MinRefetch.
func (j *JWKS) refresh(ctx context.Context) error {
	j.fetch.Lock()
	defer j.fetch.Unlock()
	j.mu.Lock()
	recent := time.Since(j.tried) < j.MinRefetch
	if !recent {
		j.tried = time.Now()
	}
	j.mu.Unlock()
	if recent {
		return errors.New("fetched moments ago; not again yet")
	}
	keys, err := j.get(ctx)
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.keys, j.fetched = keys, time.Now()
	j.mu.Unlock()
	return nil
}

func (j *JWKS) get(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := j.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", j.url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: %s", j.url, res.Status)
	}
	var set JWKSet
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("read %s: %w", j.url, err)
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if pub, err := k.PublicKey(); err == nil && k.KeyID != "" {
			keys[k.KeyID] = pub
		}
	}
	return keys, nil
}

// SignAccessToken signs an EdDSA access token for p (session or API key sid) with the key kid,
// valid for ttl from now: the tokens the accounts service issues and Keys verifies against its
// JWKS. ttl is at most MaxAccessTokenLife.
func SignAccessToken(priv ed25519.PrivateKey, kid string, p Principal, sid, jti string, now time.Time, ttl time.Duration) (string, error) {
	if p.Role.NeedsTenant() && p.Tenant == "" {
		return "", fmt.Errorf("role %s needs a tenant", p.Role)
	}
	if p.Subject == "" || ttl <= 0 || ttl > MaxAccessTokenLife {
		return "", fmt.Errorf("an access token needs a subject and lives at most %s", MaxAccessTokenLife)
	}
	c := claims{Role: p.Role, Tenant: p.Tenant, OrgAdmin: p.OrgAdmin, SID: sid, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: issuer, Subject: p.Subject, ID: jti,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["kid"] = kid
	return t.SignedString(priv)
}
