package account

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
)

// SigningKey is an Ed25519 key that signs access tokens for one period of RotateEvery, is
// published from the period before (so verifiers know it before its first token) until its
// last token has expired, then deleted. Slot names the period: two replicas making the key of
// one period collide on its unique index, and one key wins.
type SigningKey struct {
	ID           string // kid
	Slot         string
	Seed         []byte // the private key's seed
	SignFrom     time.Time
	SignUntil    time.Time
	PublishUntil time.Time
	CreatedAt    time.Time
}

func (k SigningKey) private() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(k.Seed) }
func (k SigningKey) public() ed25519.PublicKey   { return k.private().Public().(ed25519.PublicKey) }

// verifierLeeway covers the verifiers' clock leeway (30 s) and then some.
const verifierLeeway = time.Minute

func (s *Service) newSigningKey(start time.Time, now time.Time) SigningKey {
	seed := make([]byte, ed25519.SeedSize)
	_, _ = rand.Read(seed)
	r := s.cfg.RotateEvery
	return SigningKey{ID: newID("ed-"), Slot: fmt.Sprintf("%d/%d", start.Unix(), int64(r/time.Second)), Seed: seed,
		SignFrom: start, SignUntil: start.Add(r), PublishUntil: start.Add(r).Add(s.cfg.TokenTTL + verifierLeeway), CreatedAt: now}
}

func covering(keys []SigningKey, at time.Time) (SigningKey, bool) {
	var best SigningKey
	found := false
	for _, k := range keys {
		if !at.Before(k.SignFrom) && at.Before(k.SignUntil) && (!found || k.SignFrom.After(best.SignFrom)) {
			best, found = k, true
		}
	}
	return best, found
}

// ringFresh is how long the key ring is used before it is read again from MongoDB (where other
// replicas may have added keys).
const ringFresh = time.Minute

// Keyring returns the published keys, newest first, making the current period's and the next
// one's when they are missing. It is read from MongoDB once a minute, or at once when force.
func (s *Service) Keyring(ctx context.Context, force bool) ([]SigningKey, error) {
	now := s.now().UTC()
	s.ringMu.Lock()
	defer s.ringMu.Unlock()
	r := s.cfg.RotateEvery
	_, cur := covering(s.ring, now)
	_, next := covering(s.ring, now.Add(r))
	if !force && cur && next && now.Sub(s.ringRead) < ringFresh {
		return s.ring, nil
	}
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, at := range []time.Time{now, now.Add(r)} {
		if _, ok := covering(keys, at); ok {
			continue
		}
		k := s.newSigningKey(at.Truncate(r), now)
		switch err := s.store.InsertSigningKey(ctx, k); {
		case errors.Is(err, ErrSigningKeyExists):
			if keys, err = s.store.SigningKeys(ctx); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, err
		default:
			keys = append(keys, k)
		}
	}
	keys = slices.DeleteFunc(keys, func(k SigningKey) bool { return !now.Before(k.PublishUntil) })
	slices.SortFunc(keys, func(a, b SigningKey) int { return b.SignFrom.Compare(a.SignFrom) })
	s.ring, s.ringRead = keys, now
	return keys, nil
}

// JWKS is the public half of the key ring.
func (s *Service) JWKS(ctx context.Context) (auth.JWKSet, error) {
	keys, err := s.Keyring(ctx, false)
	if err != nil {
		return auth.JWKSet{}, err
	}
	set := auth.JWKSet{Keys: make([]auth.JWK, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, auth.PublicJWK(k.ID, k.public()))
	}
	return set, nil
}

// PublicKey gives the key kid names (auth.KeySource): the accounts service, and the all-in-one
// around it, verify its tokens from the key ring without fetching its own JWKS.
func (s *Service) PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	for _, force := range []bool{false, true} {
		keys, err := s.Keyring(ctx, force && s.ringStale(time.Second))
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k.ID == kid {
				return k.public(), nil
			}
		}
	}
	return nil, fmt.Errorf("key %q: %w", kid, auth.ErrUnknownKey)
}

func (s *Service) ringStale(d time.Duration) bool {
	s.ringMu.Lock()
	defer s.ringMu.Unlock()
	return s.now().Sub(s.ringRead) >= d
}

// Token is an access token in the shape of an OAuth 2.0 token response (RFC 6749 §5.1).
type Token struct {
	AccessToken string
	ExpiresIn   int // seconds
	Role        auth.Role
	Tenant      string
}

func (s *Service) sign(ctx context.Context, p auth.Principal, sid string) (Token, error) {
	keys, err := s.Keyring(ctx, false)
	if err != nil {
		return Token{}, err
	}
	now := s.now()
	k, ok := covering(keys, now.UTC())
	if !ok {
		return Token{}, fmt.Errorf("no signing key for now: %w", apperr.ErrUnavailable)
	}
	tok, err := auth.SignAccessToken(k.private(), k.ID, p, sid, newID("t-"), now, s.cfg.TokenTTL)
	if err != nil {
		return Token{}, err
	}
	return Token{AccessToken: tok, ExpiresIn: int(s.cfg.TokenTTL / time.Second), Role: p.Role, Tenant: p.Tenant}, nil
}

// pickRole chooses the role of a token among those the credential holds: the one asked for, or
// the only one.
func pickRole(have []auth.Role, want string) (auth.Role, error) {
	if want == "" {
		switch len(have) {
		case 0:
			return "", fmt.Errorf("this account holds no role an access token is issued for: %w", apperr.ErrForbidden)
		case 1:
			return have[0], nil
		}
		return "", apperr.Invalid("role", fmt.Sprintf("this account holds several roles: choose one of %v", have))
	}
	r, err := auth.ParseRole(want)
	if err != nil {
		return "", apperr.Invalid("role", err.Error())
	}
	if !slices.Contains(have, r) {
		return "", fmt.Errorf("this account does not hold role %s (it holds %v): %w", r, have, apperr.ErrForbidden)
	}
	return r, nil
}

func principalOf(subject string, role auth.Role, org string) auth.Principal {
	p := auth.Principal{Subject: subject, Role: role}
	if role.NeedsTenant() {
		p.Tenant = org
	}
	return p
}

// ExchangeSession issues an access token for the person signed in with the session, in one of
// its roles. The admin role gives a token only to the platform's administrators (the bureau's):
// an organisation's administrator manages its people here, and its admin role reads nothing
// elsewhere.
func (s *Service) ExchangeSession(ctx context.Context, a Actor, role string) (Token, error) {
	if a.Session == nil {
		return Token{}, fmt.Errorf("exchange a session cookie or an API key (Authorization: Bearer csk_...): %w", apperr.ErrUnauthenticated)
	}
	have := slices.Clone(a.Person.Roles)
	if !a.PlatformAdmin() {
		have = slices.DeleteFunc(have, func(r auth.Role) bool { return r == auth.Admin })
	}
	r, err := pickRole(have, role)
	if err != nil {
		return Token{}, err
	}
	p := principalOf(a.Person.ID, r, a.Org.ID)
	p.OrgAdmin = a.Person.Admin() // its organisation's webhooks (services/notify)
	return s.sign(ctx, p, a.Session.ID)
}

// ExchangeKey issues an access token for an API key, in one of its roles, and records the use.
func (s *Service) ExchangeKey(ctx context.Context, cred, role, addr string) (Token, error) {
	now := s.now().UTC()
	k, err := s.keyOf(ctx, strings.TrimSpace(cred), now)
	if err != nil {
		return Token{}, err
	}
	if _, err := s.store.Organisation(ctx, k.Org); err != nil {
		return Token{}, ErrBadKey
	}
	r, err := pickRole(k.Roles, role)
	if err != nil {
		return Token{}, err
	}
	t, err := s.sign(ctx, principalOf(k.ID, r, k.Org), k.ID)
	if err != nil {
		return Token{}, err
	}
	if err := s.store.TouchKey(ctx, k.ID, now); err != nil {
		return Token{}, err
	}
	if err := s.record(ctx, auth.Principal{Subject: k.ID, Role: r, Tenant: k.Org}, "api_key.use", k.ID, map[string]any{"org": k.Org, "role": string(r), "from": addr}); err != nil {
		return Token{}, err
	}
	return t, nil
}
