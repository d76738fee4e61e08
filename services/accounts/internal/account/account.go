// Package account is the accounts service's core: organisations and their people, password and
// TOTP sign-in with lockout, sessions, API keys, and the EdDSA access tokens the other services
// verify. It sees neither gin nor bson: the handler calls it with plain Go types, and it keeps
// its records through the Store it declares.
package account

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
)

// Kind is what an organisation is; it decides the roles its people and keys may hold.
type Kind string

// The kinds of organisation the platform knows.
const (
	KindBureau       Kind = "bureau"       // the environmental bureau: platform administrators
	KindPolice       Kind = "police"       // a traffic-police brigade
	KindTransport    Kind = "transport"    // the transport bureau
	KindConstruction Kind = "construction" // the housing and construction bureau
	KindFleet        Kind = "fleet"        // a transport company
	KindStation      Kind = "station"      // a filling station or depot
	KindLab          Kind = "lab"          // a testing lab
	KindRepair       Kind = "repair"       // a repair shop
	KindSensor       Kind = "sensor"       // a remote-sensing operator
)

// kindRole is each kind's working role.
var kindRole = map[Kind]auth.Role{
	KindBureau: auth.Bureau, KindPolice: auth.Police, KindTransport: auth.Transport, KindConstruction: auth.Construction,
	KindFleet: auth.Fleet, KindStation: auth.Station, KindLab: auth.Lab, KindRepair: auth.Repair, KindSensor: auth.Sensor,
}

// Kinds lists every kind.
var Kinds = []Kind{KindBureau, KindPolice, KindTransport, KindConstruction, KindFleet, KindStation, KindLab, KindRepair, KindSensor}

// Roles are the roles people of an organisation of kind k may hold: its working role and admin
// (the organisation's administrator; in the bureau, the platform's). System belongs to the
// services, never to a person or a key.
func (k Kind) Roles() []auth.Role { return []auth.Role{kindRole[k], auth.Admin} }

// KeyRoles are the roles an API key of kind k may hold: the working role only (a machine
// client administers nothing).
func (k Kind) KeyRoles() []auth.Role { return []auth.Role{kindRole[k]} }

func parseKind(s string) (Kind, bool) {
	k := Kind(s)
	_, ok := kindRole[k]
	return k, ok
}

// BureauID is the id of the bureau organisation made at first start.
const BureauID = "bureau"

// Organisation is a party of the platform; its id is the tenant the services scope by.
type Organisation struct {
	ID        string
	Kind      Kind
	Name      string
	CreatedAt time.Time
	CreatedBy string
}

// Change is who did something to a record, when and why.
type Change struct {
	At     time.Time
	By     string
	Reason string
}

// Person is someone who signs in.
type Person struct {
	ID          string
	Org         string
	Username    string
	DisplayName string
	Roles       []auth.Role

	PasswordHash       string
	MustChangePassword bool
	PasswordChangedAt  time.Time

	TOTPSecret   string // the enrolled second factor; "" when none
	TOTPPending  string // a secret being enrolled, until a code confirms it
	TOTPLastStep int64  // the last 30-second step a code was taken for (no replay)

	Disabled *Change // nil while the person may sign in

	CreatedAt, UpdatedAt time.Time
	CreatedBy, UpdatedBy string
	Version              int64
}

// Admin reports whether p administers its organisation (the bureau's: the platform).
func (p Person) Admin() bool { return slices.Contains(p.Roles, auth.Admin) }

// Steps are what p must do before the session may do anything else: change a password someone
// else set, enrol a second factor (administrators).
func (p Person) Steps() []string {
	var s []string
	if p.MustChangePassword {
		s = append(s, StepChangePassword)
	}
	if p.Admin() && p.TOTPSecret == "" {
		s = append(s, StepEnrolTOTP)
	}
	return s
}

// The steps a restricted session must take.
const (
	StepChangePassword = "change_password"
	StepEnrolTOTP      = "enrol_totp"
)

// Actor is the person calling, with the organisation and (signed in with the cookie) the
// session.
type Actor struct {
	Person  Person
	Org     Organisation
	Session *Session
	Address string
}

// PlatformAdmin reports whether a is an administrator of the bureau: the platform's.
func (a Actor) PlatformAdmin() bool { return a.Org.Kind == KindBureau && a.Person.Admin() }

// manages reports whether a may manage the people and keys of org: its own administrators, and
// the platform's for every organisation.
func (a Actor) manages(org string) bool {
	return a.PlatformAdmin() || (a.Person.Admin() && a.Person.Org == org)
}

func (a Actor) principal() auth.Principal {
	p := auth.Principal{Subject: a.Person.ID, Role: auth.Admin, Tenant: a.Person.Org}
	if !a.Person.Admin() {
		p.Role = ""
	}
	return p
}

// Failures of the accounts core. Each wraps an apperr kind.
var (
	ErrOrgNotFound     = fmt.Errorf("organisation %w", apperr.ErrNotFound)
	ErrOrgExists       = fmt.Errorf("an organisation with this id exists: %w", apperr.ErrConflict)
	ErrPersonNotFound  = fmt.Errorf("person %w", apperr.ErrNotFound)
	ErrUsernameTaken   = fmt.Errorf("this username is taken: %w", apperr.ErrConflict)
	ErrKeyNotFound     = fmt.Errorf("API key %w", apperr.ErrNotFound)
	ErrBadCredentials  = fmt.Errorf("wrong username or password: %w", apperr.ErrUnauthenticated)
	ErrTOTPRequired    = fmt.Errorf("this account needs its authenticator code: send it as totp: %w", apperr.ErrUnauthenticated)
	ErrLocked          = fmt.Errorf("too many failed sign-ins: wait and try again: %w", apperr.ErrTooManyRequests)
	ErrNoSession       = fmt.Errorf("not signed in, or the session ended: sign in again (POST /v1/auth/sessions): %w", apperr.ErrUnauthenticated)
	ErrCSRF            = fmt.Errorf("a request changing something with the session cookie must send the session's CSRF token in the X-CSRF-Token header: %w", apperr.ErrForbidden)
	ErrNotAdmin        = fmt.Errorf("only an administrator of the organisation (or of the platform) may do this: %w", apperr.ErrForbidden)
	ErrNotPerson       = fmt.Errorf("accounts are managed by people: sign in, or use an access token exchanged for a person's session: %w", apperr.ErrForbidden)
	ErrBadKey          = fmt.Errorf("unknown, expired or revoked API key: %w", apperr.ErrUnauthenticated)
	ErrVersionConflict = fmt.Errorf("the record changed meanwhile; read it again and retry: %w", apperr.ErrConflict)
)

func stepsPending(steps []string) error {
	return fmt.Errorf("finish signing in first (%v: POST /v1/auth/password, POST /v1/auth/totp): %w", steps, apperr.ErrForbidden)
}

var (
	orgIDPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,63}$`)
	usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,63}$`)
)

// Store keeps the accounts' records (MongoDB in production).
type Store interface {
	InsertOrganisation(ctx context.Context, o Organisation) error // ErrOrgExists
	DeleteOrganisation(ctx context.Context, id string) error
	Organisation(ctx context.Context, id string) (Organisation, error) // ErrOrgNotFound
	Organisations(ctx context.Context) ([]Organisation, error)

	InsertPerson(ctx context.Context, p Person) error                      // ErrUsernameTaken
	Person(ctx context.Context, id string) (Person, error)                 // ErrPersonNotFound
	PersonByUsername(ctx context.Context, username string) (Person, error) // ErrPersonNotFound
	People(ctx context.Context, org string) ([]Person, error)
	// ReplacePerson writes p where the stored version is p.Version-1 (ErrVersionConflict).
	ReplacePerson(ctx context.Context, p Person) error

	// AddFailures records one failed sign-in under each key; Failures lists the times of those
	// since since, by key.
	AddFailures(ctx context.Context, at time.Time, keys ...string) error
	Failures(ctx context.Context, since time.Time, keys ...string) (map[string][]time.Time, error)
	ClearFailures(ctx context.Context, key string) error
	DeleteFailuresBefore(ctx context.Context, t time.Time) error

	InsertSession(ctx context.Context, s Session) error
	Session(ctx context.Context, hash string) (Session, error) // ErrNoSession
	TouchSession(ctx context.Context, hash string, at time.Time) error
	DeleteSession(ctx context.Context, hash string) error
	// DeleteSessions deletes every session of person but keep (a hash; "" for none) and returns
	// the public ids of those deleted.
	DeleteSessions(ctx context.Context, person, keep string) ([]string, error)
	DeleteSessionsBefore(ctx context.Context, expiredAt, idleSince time.Time) error

	InsertKey(ctx context.Context, k APIKey) error
	Key(ctx context.Context, id string) (APIKey, error) // ErrKeyNotFound
	Keys(ctx context.Context, org string) ([]APIKey, error)
	RevokeKey(ctx context.Context, id string, c Change) error
	TouchKey(ctx context.Context, id string, at time.Time) error

	SigningKeys(ctx context.Context) ([]SigningKey, error)
	InsertSigningKey(ctx context.Context, k SigningKey) error // ErrSigningKeyExists
	DeleteSigningKeysBefore(ctx context.Context, publishedUntil time.Time) error
}

// ErrSigningKeyExists: another replica made the key of this slot first.
var ErrSigningKeyExists = fmt.Errorf("signing key of this slot exists: %w", apperr.ErrConflict)
