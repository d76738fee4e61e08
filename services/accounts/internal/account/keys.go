package account

import (
	"context"
	"crypto/subtle"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
)

// APIKey is a machine client's credential, bound to an organisation and some of its roles. Its
// secret is shown once, at creation; only its SHA-256 is kept (the secret is 32 random bytes, so
// a fast hash is enough: there is nothing to guess).
type APIKey struct {
	ID         string
	Org        string
	Label      string
	Roles      []auth.Role
	Hash       string
	ExpiresAt  time.Time
	CreatedAt  time.Time
	CreatedBy  string
	LastUsedAt time.Time
	Revoked    *Change
}

// MaxKeyLife is the longest an API key may be valid.
const MaxKeyLife = 366 * 24 * time.Hour

// NewKey is an API key as an administrator asks for it.
type NewKey struct {
	Roles     []auth.Role
	ExpiresAt time.Time
	Label     string
}

// CreatedKey is a new key and, this once, the whole credential.
type CreatedKey struct {
	Key    APIKey
	Secret string // "csk_<key id>_<secret>": what the client sends as its bearer credential
}

// CreateKey makes an API key for org; its roles are some of the organisation's working roles.
func (s *Service) CreateKey(ctx context.Context, a Actor, orgID string, nk NewKey) (CreatedKey, error) {
	org, err := s.Organisation(ctx, a, orgID)
	if err != nil {
		return CreatedKey{}, err
	}
	now := s.now().UTC()
	var ve apperr.ValidationError
	if len(nk.Roles) == 0 {
		ve.Add("roles", "give at least one role")
	}
	allowed := org.Kind.KeyRoles()
	for i, r := range nk.Roles {
		if !slices.Contains(allowed, r) {
			ve.Add(fmt.Sprintf("roles[%d]", i), fmt.Sprintf("a key of a %s organisation may hold %v", org.Kind, allowed))
		}
	}
	switch {
	case nk.ExpiresAt.IsZero():
		ve.Add("expires_at", "give the key's expiry")
	case !nk.ExpiresAt.After(now):
		ve.Add("expires_at", "the expiry is in the past")
	case nk.ExpiresAt.After(now.Add(MaxKeyLife)):
		ve.Add("expires_at", "a key is valid for at most 366 days")
	}
	if err := ve.Err(); err != nil {
		return CreatedKey{}, err
	}
	roles := slices.Clone(nk.Roles)
	slices.Sort(roles)
	sec := secret(32)
	k := APIKey{ID: newID("k-"), Org: org.ID, Label: strings.TrimSpace(nk.Label), Roles: slices.Compact(roles), Hash: digest(sec),
		ExpiresAt: nk.ExpiresAt.UTC(), CreatedAt: now, CreatedBy: a.Person.ID}
	if err := s.store.InsertKey(ctx, k); err != nil {
		return CreatedKey{}, err
	}
	if err := s.record(ctx, a.principal(), "api_key.create", k.ID, map[string]any{"org": org.ID, "roles": roleNames(k.Roles), "expires_at": k.ExpiresAt, "from": a.Address}); err != nil {
		return CreatedKey{}, err
	}
	return CreatedKey{Key: k, Secret: auth.APIKeyPrefix + k.ID + "_" + sec}, nil
}

// Keys lists org's API keys (never their secrets).
func (s *Service) Keys(ctx context.Context, a Actor, orgID string) ([]APIKey, error) {
	if _, err := s.Organisation(ctx, a, orgID); err != nil {
		return nil, err
	}
	return s.store.Keys(ctx, orgID)
}

// RevokeKey revokes one of org's keys at once: the token route refuses it from now on, and the
// access tokens it was exchanged for are announced revoked. Revoking a revoked key changes
// nothing.
func (s *Service) RevokeKey(ctx context.Context, a Actor, orgID, id string) error {
	if _, err := s.Organisation(ctx, a, orgID); err != nil {
		return err
	}
	k, err := s.store.Key(ctx, id)
	if err != nil {
		return err
	}
	if k.Org != orgID {
		return ErrKeyNotFound
	}
	if k.Revoked != nil {
		return nil
	}
	now := s.now().UTC()
	if err := s.store.RevokeKey(ctx, id, Change{At: now, By: a.Person.ID}); err != nil {
		return err
	}
	s.revoke(ctx, id, now)
	return s.record(ctx, a.principal(), "api_key.revoke", id, map[string]any{"org": orgID, "from": a.Address})
}

var keyIDPattern = regexp.MustCompile(`^k-[0-9a-f]{16}$`)

// keyOf reads the API key a credential names and checks its secret, expiry and revocation.
func (s *Service) keyOf(ctx context.Context, cred string, now time.Time) (APIKey, error) {
	id, sec, ok := strings.Cut(strings.TrimPrefix(cred, auth.APIKeyPrefix), "_")
	if !ok || !keyIDPattern.MatchString(id) || sec == "" {
		return APIKey{}, ErrBadKey
	}
	k, err := s.store.Key(ctx, id)
	if err == ErrKeyNotFound {
		return APIKey{}, ErrBadKey
	}
	if err != nil {
		return APIKey{}, err
	}
	if subtle.ConstantTimeCompare([]byte(digest(sec)), []byte(k.Hash)) != 1 || k.Revoked != nil || !now.Before(k.ExpiresAt) {
		return APIKey{}, ErrBadKey
	}
	return k, nil
}
