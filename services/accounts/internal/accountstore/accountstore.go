// Package accountstore keeps the accounts service's records in MongoDB: organisations, people,
// sessions (by the hash of their cookie), API keys (by id, with the hash of their secret),
// failed sign-ins and the token-signing keys. It is the only accounts package that knows BSON.
// Uniqueness (usernames, one signing key per period) rests on unique indexes, which FerretDB
// enforces, not on conditional updates, which it does not make atomic.
package accountstore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/services/accounts/internal/account"
)

// Collections.
const (
	Organisations = "organisations"
	People        = "people"
	Sessions      = "sessions"
	APIKeys       = "api_keys"
	Failures      = "sign_in_failures"
	SigningKeys   = "signing_keys"
)

// Indexes are the indexes the store needs.
var Indexes = []mongodb.Index{
	{Collection: People, Keys: bson.D{{Key: "username", Value: 1}}, Unique: true, Name: "username_unique"},
	{Collection: People, Keys: bson.D{{Key: "org", Value: 1}, {Key: "username", Value: 1}}, Name: "org_username"},
	{Collection: Sessions, Keys: bson.D{{Key: "person", Value: 1}}, Name: "person"},
	{Collection: Sessions, Keys: bson.D{{Key: "expires_at", Value: 1}}, Name: "expires_at"},
	{Collection: APIKeys, Keys: bson.D{{Key: "org", Value: 1}, {Key: "created_at", Value: -1}}, Name: "org_created_at"},
	{Collection: Failures, Keys: bson.D{{Key: "key", Value: 1}, {Key: "at", Value: -1}}, Name: "key_at"},
	{Collection: SigningKeys, Keys: bson.D{{Key: "slot", Value: 1}}, Unique: true, Name: "slot_unique"},
}

// Store is the MongoDB implementation of account.Store.
type Store struct {
	orgs, people, sessions, keys, failures, signing *mongo.Collection
}

// New returns a store on db.
func New(db *mongo.Database) *Store {
	return &Store{orgs: db.Collection(Organisations), people: db.Collection(People), sessions: db.Collection(Sessions),
		keys: db.Collection(APIKeys), failures: db.Collection(Failures), signing: db.Collection(SigningKeys)}
}

// EnsureIndexes creates the store's indexes that policy keeps.
func (s *Store) EnsureIndexes(ctx context.Context, policy mongodb.IndexPolicy) error {
	return mongodb.EnsureIndexes(ctx, s.orgs.Database(), Indexes, policy)
}

var _ account.Store = (*Store)(nil)

func byID(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }

func all[D any](ctx context.Context, coll *mongo.Collection, filter bson.D, opts ...options.Lister[options.FindOptions]) ([]D, error) {
	cur, err := coll.Find(ctx, filter, opts...)
	if err != nil {
		return nil, fmt.Errorf("find in %s: %w", coll.Name(), err)
	}
	var out []D
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read %s: %w", coll.Name(), err)
	}
	return out, nil
}

func mapped[D, T any](ds []D, f func(D) T) []T {
	out := make([]T, len(ds))
	for i, d := range ds {
		out[i] = f(d)
	}
	return out
}

// --- organisations

type orgDoc struct {
	ID        string    `bson:"_id"`
	Kind      string    `bson:"kind"`
	Name      string    `bson:"name"`
	CreatedAt time.Time `bson:"created_at"`
	CreatedBy string    `bson:"created_by"`
}

func (d orgDoc) org() account.Organisation {
	return account.Organisation{ID: d.ID, Kind: account.Kind(d.Kind), Name: d.Name, CreatedAt: d.CreatedAt, CreatedBy: d.CreatedBy}
}

// InsertOrganisation stores a new organisation.
func (s *Store) InsertOrganisation(ctx context.Context, o account.Organisation) error {
	return mongodb.InsertOne(ctx, s.orgs, orgDoc{ID: o.ID, Kind: string(o.Kind), Name: o.Name, CreatedAt: o.CreatedAt, CreatedBy: o.CreatedBy}, account.ErrOrgExists)
}

// DeleteOrganisation deletes an organisation (undoing a creation that failed half-way).
func (s *Store) DeleteOrganisation(ctx context.Context, id string) error {
	_, err := s.orgs.DeleteOne(ctx, byID(id))
	return err
}

// Organisation reads one organisation.
func (s *Store) Organisation(ctx context.Context, id string) (account.Organisation, error) {
	d, err := mongodb.FindOne[orgDoc](ctx, s.orgs, byID(id), account.ErrOrgNotFound)
	return d.org(), err
}

// Organisations lists every organisation by id.
func (s *Store) Organisations(ctx context.Context) ([]account.Organisation, error) {
	ds, err := all[orgDoc](ctx, s.orgs, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(10000))
	return mapped(ds, orgDoc.org), err
}

// --- people

type changeDoc struct {
	At     time.Time `bson:"at"`
	By     string    `bson:"by"`
	Reason string    `bson:"reason,omitempty"`
}

func changeOf(c *account.Change) *changeDoc {
	if c == nil {
		return nil
	}
	return &changeDoc{At: c.At, By: c.By, Reason: c.Reason}
}

func (d *changeDoc) change() *account.Change {
	if d == nil {
		return nil
	}
	return &account.Change{At: d.At, By: d.By, Reason: d.Reason}
}

type personDoc struct {
	ID                 string     `bson:"_id"`
	Org                string     `bson:"org"`
	Username           string     `bson:"username"`
	DisplayName        string     `bson:"display_name,omitempty"`
	Roles              []string   `bson:"roles"`
	PasswordHash       string     `bson:"password_hash"`
	MustChangePassword bool       `bson:"must_change_password"`
	PasswordChangedAt  time.Time  `bson:"password_changed_at"`
	TOTPSecret         string     `bson:"totp_secret,omitempty"`
	TOTPPending        string     `bson:"totp_pending,omitempty"`
	TOTPLastStep       int64      `bson:"totp_last_step,omitempty"`
	Disabled           *changeDoc `bson:"disabled,omitempty"`
	CreatedAt          time.Time  `bson:"created_at"`
	UpdatedAt          time.Time  `bson:"updated_at"`
	CreatedBy          string     `bson:"created_by"`
	UpdatedBy          string     `bson:"updated_by"`
	Version            int64      `bson:"version"`
}

func roles(rs []string) []auth.Role {
	return mapped(rs, func(s string) auth.Role { return auth.Role(s) })
}
func names(rs []auth.Role) []string { return mapped(rs, func(r auth.Role) string { return string(r) }) }

func personOf(p account.Person) personDoc {
	return personDoc{ID: p.ID, Org: p.Org, Username: p.Username, DisplayName: p.DisplayName, Roles: names(p.Roles),
		PasswordHash: p.PasswordHash, MustChangePassword: p.MustChangePassword, PasswordChangedAt: p.PasswordChangedAt,
		TOTPSecret: p.TOTPSecret, TOTPPending: p.TOTPPending, TOTPLastStep: p.TOTPLastStep, Disabled: changeOf(p.Disabled),
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, CreatedBy: p.CreatedBy, UpdatedBy: p.UpdatedBy, Version: p.Version}
}

func (d personDoc) person() account.Person {
	return account.Person{ID: d.ID, Org: d.Org, Username: d.Username, DisplayName: d.DisplayName, Roles: roles(d.Roles),
		PasswordHash: d.PasswordHash, MustChangePassword: d.MustChangePassword, PasswordChangedAt: d.PasswordChangedAt,
		TOTPSecret: d.TOTPSecret, TOTPPending: d.TOTPPending, TOTPLastStep: d.TOTPLastStep, Disabled: d.Disabled.change(),
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, CreatedBy: d.CreatedBy, UpdatedBy: d.UpdatedBy, Version: d.Version}
}

// InsertPerson stores a new person; a taken username is ErrUsernameTaken (unique index).
func (s *Store) InsertPerson(ctx context.Context, p account.Person) error {
	return mongodb.InsertOne(ctx, s.people, personOf(p), account.ErrUsernameTaken)
}

// Person reads a person by id.
func (s *Store) Person(ctx context.Context, id string) (account.Person, error) {
	d, err := mongodb.FindOne[personDoc](ctx, s.people, byID(id), account.ErrPersonNotFound)
	return d.person(), err
}

// PersonByUsername reads a person by username.
func (s *Store) PersonByUsername(ctx context.Context, username string) (account.Person, error) {
	d, err := mongodb.FindOne[personDoc](ctx, s.people, bson.D{{Key: "username", Value: username}}, account.ErrPersonNotFound)
	return d.person(), err
}

// People lists an organisation's people by username.
func (s *Store) People(ctx context.Context, org string) ([]account.Person, error) {
	ds, err := all[personDoc](ctx, s.people, bson.D{{Key: "org", Value: org}}, options.Find().SetSort(bson.D{{Key: "username", Value: 1}}).SetLimit(10000))
	return mapped(ds, personDoc.person), err
}

// ReplacePerson writes p over the version before it.
func (s *Store) ReplacePerson(ctx context.Context, p account.Person) error {
	res, err := s.people.ReplaceOne(ctx, bson.D{{Key: "_id", Value: p.ID}, {Key: "version", Value: p.Version - 1}}, personOf(p))
	if err != nil {
		return fmt.Errorf("replace person %s: %w", p.ID, err)
	}
	if res.MatchedCount == 0 {
		return account.ErrVersionConflict
	}
	return nil
}

// --- failed sign-ins

type failureDoc struct {
	Key string    `bson:"key"`
	At  time.Time `bson:"at"`
}

// AddFailures records a failure under each key, one document each.
func (s *Store) AddFailures(ctx context.Context, at time.Time, keys ...string) error {
	docs := mapped(keys, func(k string) any { return failureDoc{Key: k, At: at} })
	if _, err := s.failures.InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("record failed sign-in: %w", err)
	}
	return nil
}

// Failures lists the failure times of keys since since.
func (s *Store) Failures(ctx context.Context, since time.Time, keys ...string) (map[string][]time.Time, error) {
	ds, err := all[failureDoc](ctx, s.failures, bson.D{{Key: "key", Value: bson.D{{Key: "$in", Value: keys}}}, {Key: "at", Value: bson.D{{Key: "$gte", Value: since}}}},
		options.Find().SetLimit(1000))
	out := map[string][]time.Time{}
	for _, d := range ds {
		out[d.Key] = append(out[d.Key], d.At)
	}
	return out, err
}

// ClearFailures forgets a key's failures (a successful sign-in, a password reset).
func (s *Store) ClearFailures(ctx context.Context, key string) error {
	_, err := s.failures.DeleteMany(ctx, bson.D{{Key: "key", Value: key}})
	return err
}

// DeleteFailuresBefore forgets failures older than t.
func (s *Store) DeleteFailuresBefore(ctx context.Context, t time.Time) error {
	_, err := s.failures.DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: t}}}})
	return err
}

// --- sessions

type sessionDoc struct {
	Hash      string    `bson:"_id"`
	ID        string    `bson:"sid"`
	Person    string    `bson:"person"`
	Org       string    `bson:"org"`
	CSRFHash  string    `bson:"csrf_hash"`
	CreatedAt time.Time `bson:"created_at"`
	LastSeen  time.Time `bson:"last_seen"`
	ExpiresAt time.Time `bson:"expires_at"`
	Address   string    `bson:"address,omitempty"`
	UserAgent string    `bson:"user_agent,omitempty"`
}

func (d sessionDoc) session() account.Session {
	return account.Session{Hash: d.Hash, ID: d.ID, Person: d.Person, Org: d.Org, CSRFHash: d.CSRFHash, CreatedAt: d.CreatedAt,
		LastSeen: d.LastSeen, ExpiresAt: d.ExpiresAt, Address: d.Address, UserAgent: d.UserAgent}
}

// InsertSession stores a new session.
func (s *Store) InsertSession(ctx context.Context, x account.Session) error {
	d := sessionDoc{Hash: x.Hash, ID: x.ID, Person: x.Person, Org: x.Org, CSRFHash: x.CSRFHash, CreatedAt: x.CreatedAt,
		LastSeen: x.LastSeen, ExpiresAt: x.ExpiresAt, Address: x.Address, UserAgent: x.UserAgent}
	return mongodb.InsertOne(ctx, s.sessions, d, fmt.Errorf("session id collision"))
}

// Session reads a session by the hash of its cookie.
func (s *Store) Session(ctx context.Context, hash string) (account.Session, error) {
	d, err := mongodb.FindOne[sessionDoc](ctx, s.sessions, byID(hash), account.ErrNoSession)
	return d.session(), err
}

// TouchSession records a session's last use.
func (s *Store) TouchSession(ctx context.Context, hash string, at time.Time) error {
	_, err := s.sessions.UpdateOne(ctx, byID(hash), bson.D{{Key: "$set", Value: bson.D{{Key: "last_seen", Value: at}}}})
	return err
}

// DeleteSession deletes one session.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.sessions.DeleteOne(ctx, byID(hash))
	return err
}

// DeleteSessions deletes a person's sessions but keep and returns their public ids.
func (s *Store) DeleteSessions(ctx context.Context, person, keep string) ([]string, error) {
	filter := bson.D{{Key: "person", Value: person}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: keep}}}}
	ds, err := all[sessionDoc](ctx, s.sessions, filter)
	if err != nil {
		return nil, err
	}
	if _, err := s.sessions.DeleteMany(ctx, filter); err != nil {
		return nil, fmt.Errorf("delete sessions of %s: %w", person, err)
	}
	return mapped(ds, func(d sessionDoc) string { return d.ID }), nil
}

// DeleteSessionsBefore deletes sessions past their absolute end or unused since idleSince.
func (s *Store) DeleteSessionsBefore(ctx context.Context, expiredAt, idleSince time.Time) error {
	_, err := s.sessions.DeleteMany(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: expiredAt}}}},
		bson.D{{Key: "last_seen", Value: bson.D{{Key: "$lte", Value: idleSince}}}},
	}}})
	return err
}

// --- API keys

type keyDoc struct {
	ID         string     `bson:"_id"`
	Org        string     `bson:"org"`
	Label      string     `bson:"label,omitempty"`
	Roles      []string   `bson:"roles"`
	Hash       string     `bson:"hash"`
	ExpiresAt  time.Time  `bson:"expires_at"`
	CreatedAt  time.Time  `bson:"created_at"`
	CreatedBy  string     `bson:"created_by"`
	LastUsedAt *time.Time `bson:"last_used_at,omitempty"`
	Revoked    *changeDoc `bson:"revoked,omitempty"`
}

func (d keyDoc) key() account.APIKey {
	k := account.APIKey{ID: d.ID, Org: d.Org, Label: d.Label, Roles: roles(d.Roles), Hash: d.Hash, ExpiresAt: d.ExpiresAt,
		CreatedAt: d.CreatedAt, CreatedBy: d.CreatedBy, Revoked: d.Revoked.change()}
	if d.LastUsedAt != nil {
		k.LastUsedAt = *d.LastUsedAt
	}
	return k
}

// InsertKey stores a new API key.
func (s *Store) InsertKey(ctx context.Context, k account.APIKey) error {
	d := keyDoc{ID: k.ID, Org: k.Org, Label: k.Label, Roles: names(k.Roles), Hash: k.Hash, ExpiresAt: k.ExpiresAt, CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy}
	return mongodb.InsertOne(ctx, s.keys, d, fmt.Errorf("API key id collision"))
}

// Key reads an API key.
func (s *Store) Key(ctx context.Context, id string) (account.APIKey, error) {
	d, err := mongodb.FindOne[keyDoc](ctx, s.keys, byID(id), account.ErrKeyNotFound)
	return d.key(), err
}

// Keys lists an organisation's keys, newest first.
func (s *Store) Keys(ctx context.Context, org string) ([]account.APIKey, error) {
	ds, err := all[keyDoc](ctx, s.keys, bson.D{{Key: "org", Value: org}}, options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}}).SetLimit(10000))
	return mapped(ds, keyDoc.key), err
}

// RevokeKey marks a key revoked.
func (s *Store) RevokeKey(ctx context.Context, id string, c account.Change) error {
	_, err := s.keys.UpdateOne(ctx, byID(id), bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: changeOf(&c)}}}})
	return err
}

// TouchKey records a key's last use.
func (s *Store) TouchKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.keys.UpdateOne(ctx, byID(id), bson.D{{Key: "$set", Value: bson.D{{Key: "last_used_at", Value: at}}}})
	return err
}

// --- signing keys

type signingDoc struct {
	ID           string    `bson:"_id"`
	Slot         string    `bson:"slot"`
	Seed         []byte    `bson:"seed"`
	SignFrom     time.Time `bson:"sign_from"`
	SignUntil    time.Time `bson:"sign_until"`
	PublishUntil time.Time `bson:"publish_until"`
	CreatedAt    time.Time `bson:"created_at"`
}

func (d signingDoc) key() account.SigningKey {
	return account.SigningKey{ID: d.ID, Slot: d.Slot, Seed: d.Seed, SignFrom: d.SignFrom, SignUntil: d.SignUntil, PublishUntil: d.PublishUntil, CreatedAt: d.CreatedAt}
}

// SigningKeys lists every signing key.
func (s *Store) SigningKeys(ctx context.Context) ([]account.SigningKey, error) {
	ds, err := all[signingDoc](ctx, s.signing, bson.D{})
	return mapped(ds, signingDoc.key), err
}

// InsertSigningKey stores a new signing key; another key of its slot is ErrSigningKeyExists.
func (s *Store) InsertSigningKey(ctx context.Context, k account.SigningKey) error {
	d := signingDoc{ID: k.ID, Slot: k.Slot, Seed: k.Seed, SignFrom: k.SignFrom, SignUntil: k.SignUntil, PublishUntil: k.PublishUntil, CreatedAt: k.CreatedAt}
	return mongodb.InsertOne(ctx, s.signing, d, account.ErrSigningKeyExists)
}

// DeleteSigningKeysBefore deletes keys no longer published at t.
func (s *Store) DeleteSigningKeysBefore(ctx context.Context, t time.Time) error {
	_, err := s.signing.DeleteMany(ctx, bson.D{{Key: "publish_until", Value: bson.D{{Key: "$lte", Value: t}}}})
	return err
}
