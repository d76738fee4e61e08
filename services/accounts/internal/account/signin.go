package account

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/services/accounts/internal/password"
)

// Lockout: failed sign-ins are counted per username (whether an account has it or not, so a
// lockout tells nothing about which accounts exist) and per client address, over FailureWindow.
// From the threshold on, each failure locks the key for a back-off that doubles from FirstLock
// up to MaxLock after the last failure. Attempts while locked are refused without checking the
// password and are not counted, so an attacker cannot keep a person locked out for longer than
// the back-off. Each failure is a document of its own (an insert, which FerretDB does not lose
// under concurrency, where an $inc counter could).
const (
	AccountThreshold = 5
	AddressThreshold = 20
	FailureWindow    = time.Hour
	FirstLock        = time.Minute
	MaxLock          = 30 * time.Minute
)

func userKey(username string) string { return "user:" + username }
func addrKey(addr string) string     { return "addr:" + addr }

// lockedUntil is when a key with these failures may try again (zero: now).
func lockedUntil(failures []time.Time, threshold int) time.Time {
	if len(failures) < threshold {
		return time.Time{}
	}
	last := failures[0]
	for _, f := range failures {
		if f.After(last) {
			last = f
		}
	}
	d := FirstLock
	for i := threshold; i < len(failures) && d < MaxLock; i++ {
		d *= 2
	}
	return last.Add(min(d, MaxLock))
}

// SignInRequest is what a person sends to sign in.
type SignInRequest struct {
	Username, Password, TOTP string
	Address, UserAgent       string
}

// SignedIn is a new session: the cookie's value and the CSRF token are only ever handed out
// here.
type SignedIn struct {
	Session   Session
	Cookie    string
	CSRFToken string
	Person    Person
	Org       Organisation
}

// SignIn checks a person's password (and TOTP code) and opens a session. A wrong password, an
// unknown username and a disabled account answer the same ErrBadCredentials after the same
// argon2id work.
func (s *Service) SignIn(ctx context.Context, r SignInRequest) (SignedIn, error) {
	ctx, span := s.tracer.Start(ctx, "accounts.sign_in")
	defer span.End()
	var ve apperr.ValidationError
	username := strings.ToLower(strings.TrimSpace(r.Username))
	if username == "" {
		ve.Add("username", "give the username")
	}
	if r.Password == "" {
		ve.Add("password", "give the password")
	}
	if err := ve.Err(); err != nil {
		return SignedIn{}, err
	}
	now := s.now().UTC()
	keys := []string{userKey(username), addrKey(r.Address)}
	fails, err := s.store.Failures(ctx, now.Add(-FailureWindow), keys...)
	if err != nil {
		return SignedIn{}, err
	}
	until := lockedUntil(fails[keys[0]], AccountThreshold)
	if u := lockedUntil(fails[keys[1]], AddressThreshold); u.After(until) {
		until = u
	}
	anon := auth.Principal{Subject: "anonymous"}
	if until.After(now) {
		_ = s.record(ctx, anon, "sign_in.locked_out", username, map[string]any{"from": r.Address, "until": until})
		return SignedIn{}, apperr.RetryAfter(ErrLocked, until.Sub(now))
	}
	p, err := s.store.PersonByUsername(ctx, username)
	known := err == nil
	if err != nil && !errors.Is(err, ErrPersonNotFound) {
		return SignedIn{}, err
	}
	hash := p.PasswordHash
	if !known {
		hash = password.Dummy()
	}
	ok, err := password.Verify(ctx, hash, r.Password)
	if err != nil && known {
		return SignedIn{}, fmt.Errorf("verify password of %s: %w", p.ID, err)
	}
	fail := func(why string) (SignedIn, error) {
		if err := s.store.AddFailures(ctx, now, keys...); err != nil {
			return SignedIn{}, err
		}
		_ = s.record(ctx, anon, "sign_in.failed", username, map[string]any{"from": r.Address, "why": why})
		if n := len(fails[keys[0]]) + 1; n == AccountThreshold {
			_ = s.record(ctx, anon, "sign_in.lockout", username, map[string]any{"from": r.Address, "failures": n})
		}
		if why == "totp" {
			return SignedIn{}, fmt.Errorf("wrong authenticator code: %w", apperr.ErrUnauthenticated)
		}
		return SignedIn{}, ErrBadCredentials
	}
	switch {
	case !known:
		return fail("unknown username")
	case !ok:
		return fail("wrong password")
	case p.Disabled != nil:
		return fail("disabled")
	}
	if p.TOTPSecret != "" {
		if r.TOTP == "" {
			return SignedIn{}, ErrTOTPRequired
		}
		step, ok := s.checkCode(p.TOTPSecret, r.TOTP, p.TOTPLastStep, now)
		if !ok {
			return fail("totp")
		}
		p.TOTPLastStep = step
		p.Version++
		if err := s.store.ReplacePerson(ctx, p); err != nil {
			return SignedIn{}, err
		}
	}
	org, err := s.store.Organisation(ctx, p.Org)
	if err != nil {
		return SignedIn{}, err
	}
	if err := s.store.ClearFailures(ctx, keys[0]); err != nil {
		return SignedIn{}, err
	}
	out, err := s.openSession(ctx, p, r, now)
	if err != nil {
		return SignedIn{}, err
	}
	out.Org = org
	if err := s.record(ctx, auth.Principal{Subject: p.ID, Tenant: p.Org}, "sign_in", p.ID,
		map[string]any{"username": p.Username, "from": r.Address, "session": out.Session.ID, "steps": p.Steps()}); err != nil {
		return SignedIn{}, err
	}
	return out, nil
}

// totpOpts are RFC 6238's defaults, which every authenticator app uses.
var totpOpts = totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// checkCode finds the 30-second step (one either side of now, for clock drift) whose code is
// code, and refuses a step not after last: a code is taken once.
func (s *Service) checkCode(secret, code string, last int64, now time.Time) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	step := now.Unix() / 30
	for _, st := range []int64{step - 1, step, step + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(st*30, 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return st, st > last
		}
	}
	return 0, false
}

// Enrolment is a second factor being enrolled: the secret and the otpauth:// URL an
// authenticator app reads (as a QR code).
type Enrolment struct {
	Secret string
	URL    string
}

// BeginTOTP makes a new TOTP secret for the signed-in person, pending until ConfirmTOTP. A
// person who has one asks an administrator to reset it.
func (s *Service) BeginTOTP(ctx context.Context, a Actor) (Enrolment, error) {
	if a.Person.TOTPSecret != "" {
		return Enrolment{}, fmt.Errorf("a second factor is enrolled; an administrator resets it (password reset with reset_totp): %w", apperr.ErrConflict)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.cfg.TOTPIssuer, AccountName: a.Person.Username})
	if err != nil {
		return Enrolment{}, err
	}
	p := a.Person
	p.TOTPPending = key.Secret()
	p.Version++
	p.UpdatedAt, p.UpdatedBy = s.now().UTC(), p.ID
	if err := s.store.ReplacePerson(ctx, p); err != nil {
		return Enrolment{}, err
	}
	return Enrolment{Secret: key.Secret(), URL: key.URL()}, nil
}

// ConfirmTOTP enables the pending secret once code proves the app holds it.
func (s *Service) ConfirmTOTP(ctx context.Context, a Actor, code string) (Person, error) {
	p := a.Person
	if p.TOTPPending == "" {
		return Person{}, fmt.Errorf("no enrolment under way: POST /v1/auth/totp first: %w", apperr.ErrConflict)
	}
	now := s.now().UTC()
	step, ok := s.checkCode(p.TOTPPending, code, 0, now)
	if !ok {
		return Person{}, apperr.Invalid("code", "not the code the authenticator shows now")
	}
	p.TOTPSecret, p.TOTPPending, p.TOTPLastStep = p.TOTPPending, "", step
	p.Version++
	p.UpdatedAt, p.UpdatedBy = now, p.ID
	if err := s.store.ReplacePerson(ctx, p); err != nil {
		return Person{}, err
	}
	if err := s.record(ctx, a.principal(), "person.totp_enrol", p.ID, map[string]any{"from": a.Address}); err != nil {
		return Person{}, err
	}
	return p, nil
}

// ChangePassword sets the signed-in person's new password after checking the current one. The
// person's other sessions end and the tokens out are refused; this session stays.
func (s *Service) ChangePassword(ctx context.Context, a Actor, current, next string) (Person, error) {
	p := a.Person
	ok, err := password.Verify(ctx, p.PasswordHash, current)
	if err != nil {
		return Person{}, err
	}
	if !ok {
		return Person{}, apperr.Invalid("current_password", "not the current password")
	}
	if msg := password.Check(next, p.Username); msg != "" {
		return Person{}, apperr.Invalid("new_password", msg)
	}
	if next == current {
		return Person{}, apperr.Invalid("new_password", "choose a password other than the current one")
	}
	hash, err := password.Hash(ctx, next)
	if err != nil {
		return Person{}, err
	}
	now := s.now().UTC()
	p.PasswordHash, p.MustChangePassword, p.PasswordChangedAt = hash, false, now
	p.Version++
	p.UpdatedAt, p.UpdatedBy = now, p.ID
	if err := s.store.ReplacePerson(ctx, p); err != nil {
		return Person{}, err
	}
	keep := ""
	if a.Session != nil {
		keep = a.Session.Hash
	}
	if err := s.endSessions(ctx, p.ID, keep, now); err != nil {
		return Person{}, err
	}
	if err := s.record(ctx, auth.Principal{Subject: p.ID, Tenant: p.Org}, "person.password_change", p.ID, map[string]any{"from": a.Address}); err != nil {
		return Person{}, err
	}
	return p, nil
}
