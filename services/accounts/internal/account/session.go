package account

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
)

// Session is a signed-in browser. Only hashes of its cookie value and CSRF token are stored.
type Session struct {
	Hash      string // SHA-256 of the cookie's value: the record's key
	ID        string // the public id ("s-..."): in access tokens (sid), audit entries, revocations
	Person    string
	Org       string
	CSRFHash  string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time // the absolute end
	Address   string
	UserAgent string
}

// IdleEnd is when s ends unless used before.
func (s Session) IdleEnd(idle time.Duration) time.Time { return s.LastSeen.Add(idle) }

// touchEvery: a session's last use is written at most this often (not on every request).
const touchEvery = time.Minute

func (s *Service) openSession(ctx context.Context, p Person, r SignInRequest, now time.Time) (SignedIn, error) {
	cookie, csrf := secret(32), secret(32)
	ua := []rune(r.UserAgent)
	if len(ua) > 200 {
		ua = ua[:200]
	}
	sess := Session{Hash: digest(cookie), ID: newID("s-"), Person: p.ID, Org: p.Org, CSRFHash: digest(csrf),
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(s.cfg.SessionLifetime), Address: r.Address, UserAgent: string(ua)}
	if err := s.store.InsertSession(ctx, sess); err != nil {
		return SignedIn{}, err
	}
	return SignedIn{Session: sess, Cookie: cookie, CSRFToken: csrf, Person: p}, nil
}

// Credentials are how a request says who it is: the session cookie (with the CSRF header on
// requests that change something) or a verified bearer access token.
type Credentials struct {
	Cookie    string
	CSRFToken string
	Unsafe    bool // the method changes state (anything but GET, HEAD, OPTIONS)
	Token     *auth.Principal
	Address   string
	// Restricted admits a session with steps pending (the routes that take those steps).
	Restricted bool
}

// Actor finds who a request is from. A session past its idle or absolute timeout is deleted
// and refused; a disabled person is refused; an unsafe request with the cookie needs the
// session's CSRF token.
func (s *Service) Actor(ctx context.Context, c Credentials) (Actor, error) {
	var a Actor
	now := s.now().UTC()
	switch {
	case c.Token != nil:
		p, err := s.store.Person(ctx, c.Token.Subject)
		if errors.Is(err, ErrPersonNotFound) {
			return Actor{}, ErrNotPerson
		}
		if err != nil {
			return Actor{}, err
		}
		a.Person = p
	case c.Cookie != "":
		sess, err := s.store.Session(ctx, digest(c.Cookie))
		if err != nil {
			return Actor{}, err
		}
		if !now.Before(sess.ExpiresAt) || !now.Before(sess.IdleEnd(s.cfg.IdleTimeout)) {
			if err := s.store.DeleteSession(ctx, sess.Hash); err != nil {
				return Actor{}, err
			}
			return Actor{}, fmt.Errorf("the session timed out: %w", ErrNoSession)
		}
		if c.Unsafe && subtle.ConstantTimeCompare([]byte(digest(c.CSRFToken)), []byte(sess.CSRFHash)) != 1 {
			return Actor{}, ErrCSRF
		}
		p, err := s.store.Person(ctx, sess.Person)
		if errors.Is(err, ErrPersonNotFound) {
			return Actor{}, ErrNoSession
		}
		if err != nil {
			return Actor{}, err
		}
		if now.Sub(sess.LastSeen) >= touchEvery {
			if err := s.store.TouchSession(ctx, sess.Hash, now); err != nil {
				return Actor{}, err
			}
			sess.LastSeen = now
		}
		a.Person, a.Session = p, &sess
	default:
		return Actor{}, fmt.Errorf("sign in (POST /v1/auth/sessions) or send a bearer access token: %w", apperr.ErrUnauthenticated)
	}
	if a.Person.Disabled != nil {
		return Actor{}, fmt.Errorf("this account is disabled: %w", apperr.ErrUnauthenticated)
	}
	if steps := a.Person.Steps(); len(steps) > 0 && !c.Restricted {
		return Actor{}, stepsPending(steps)
	}
	org, err := s.store.Organisation(ctx, a.Person.Org)
	if err != nil {
		return Actor{}, err
	}
	a.Org, a.Address = org, c.Address
	return a, nil
}

// SignOut ends the actor's session.
func (s *Service) SignOut(ctx context.Context, a Actor) error {
	if a.Session == nil {
		return fmt.Errorf("signing out ends a session: send the session cookie: %w", apperr.ErrUnauthenticated)
	}
	if err := s.store.DeleteSession(ctx, a.Session.Hash); err != nil {
		return err
	}
	now := s.now().UTC()
	s.revoke(ctx, a.Session.ID, now)
	return s.record(ctx, auth.Principal{Subject: a.Person.ID, Tenant: a.Person.Org}, "sign_out", a.Person.ID, map[string]any{"session": a.Session.ID, "from": a.Address})
}

// SignOutEverywhere ends every session of the actor and refuses every token it holds.
func (s *Service) SignOutEverywhere(ctx context.Context, a Actor) error {
	now := s.now().UTC()
	if err := s.endSessions(ctx, a.Person.ID, "", now); err != nil {
		return err
	}
	return s.record(ctx, auth.Principal{Subject: a.Person.ID, Tenant: a.Person.Org}, "sign_out_everywhere", a.Person.ID, map[string]any{"from": a.Address})
}

// Sweep deletes sessions past their timeouts and failures older than the lockout window: there
// is no TTL index on FerretDB.
func (s *Service) Sweep(ctx context.Context) error {
	now := s.now().UTC()
	if err := s.store.DeleteSessionsBefore(ctx, now, now.Add(-s.cfg.IdleTimeout)); err != nil {
		return err
	}
	if err := s.store.DeleteFailuresBefore(ctx, now.Add(-FailureWindow)); err != nil {
		return err
	}
	return s.store.DeleteSigningKeysBefore(ctx, now)
}
