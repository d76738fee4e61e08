// Package publish holds the disclosure service's rules: the bureau compiles a month's list from
// the service that owns its records, reviews it, withholds rows with a reason, and publishes it;
// the public sees only what is published; a correction is a new version that supersedes the
// one before, and a list can be withdrawn with a reason. Nothing unpublished is ever shown.
package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/disclosure"
)

// State is where a list is in its life.
type State string

// The states.
const (
	Draft      State = "draft"      // compiled, under review; never public
	Published  State = "published"  // public
	Superseded State = "superseded" // a later version of the same month's list was published
	Withdrawn  State = "withdrawn"  // taken down by the bureau, with a reason
)

// Row is one row of a list: the owner's projection (one of the three, by the list's kind),
// numbered from 1, and whether the bureau withholds it from publication, and why.
type Row struct {
	N        int
	Vehicle  *disclosure.VehicleRow
	Fuel     *disclosure.FuelRow
	Muck     *disclosure.MuckRow
	Withheld string // the reason; empty: published with the list
}

// Data is the row's projection, whichever kind it is.
func (r Row) Data() any {
	switch {
	case r.Vehicle != nil:
		return r.Vehicle
	case r.Fuel != nil:
		return r.Fuel
	case r.Muck != nil:
		return r.Muck
	}
	return nil
}

// List is one version of a month's list.
type List struct {
	ID        string // kind:month:version
	Kind      disclosure.Kind
	Month     disclosure.Month
	Version   int // 1, then one more per correction
	State     State
	Rows      []Row
	Note      string // the bureau's note, shown with the list
	Compiled  Stamp
	Published *Stamp
	Ended     *Stamp // superseded or withdrawn
	Reason    string // why it was withdrawn
	Rev       int64  // the document's revision, for guarded updates
}

// Stamp is who did something and when.
type Stamp struct {
	At time.Time
	By string
}

// Public is the list as the public sees it: its rows without those withheld.
func (l List) Public() []any {
	out := make([]any, 0, len(l.Rows))
	for _, r := range l.Rows {
		if r.Withheld == "" {
			out = append(out, r.Data())
		}
	}
	return out
}

// ID of a list version.
func ID(k disclosure.Kind, m disclosure.Month, version int) string {
	return string(k) + ":" + string(m) + ":" + strconv.Itoa(version)
}

// ErrNotFound: no such list (or none published, for the public).
var ErrNotFound = fmt.Errorf("disclosure list %w", apperr.ErrNotFound)

// Store keeps the lists.
type Store interface {
	// Versions returns the month's list's versions, newest first.
	Versions(ctx context.Context, k disclosure.Kind, m disclosure.Month) ([]List, error)
	Get(ctx context.Context, id string) (List, error)
	// Insert stores a new version; apperr.ErrConflict when the id exists.
	Insert(ctx context.Context, l List) error
	// Replace writes l over the stored list whose revision is l.Rev (and moves Rev on);
	// apperr.ErrConflict when the stored revision is another.
	Replace(ctx context.Context, l List) error
	// List returns lists by state ("" any), kind ("" any) and month ("" any), newest first.
	List(ctx context.Context, state State, k disclosure.Kind, m disclosure.Month, limit int) ([]List, error)
}

// Source compiles a month's rows from the service that owns the records.
type Source interface {
	Rows(ctx context.Context, k disclosure.Kind, m disclosure.Month) ([]Row, error)
}

// Service applies the rules.
type Service struct {
	store  Store
	source Source
	now    func() time.Time
	log    *slog.Logger
}

// NewService returns the service.
func NewService(store Store, source Source, log *slog.Logger) *Service {
	return &Service{store: store, source: source, now: time.Now, log: log}
}

func forbidden(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), apperr.ErrForbidden)
}

func bureau(p auth.Principal) error {
	if !p.Is(auth.Bureau) {
		return forbidden("only the bureau compiles, reviews and publishes disclosure lists, not role %s", p.Role)
	}
	return nil
}

// Compile makes the month's list anew from its owner: the open draft's rows are replaced, or a
// new version is drafted (the first, or a correction of a published one). The month must be
// over in China time.
func (s *Service) Compile(ctx context.Context, p auth.Principal, k disclosure.Kind, m disclosure.Month) (List, bool, error) {
	if err := bureau(p); err != nil {
		return List{}, false, err
	}
	if !m.Ended(s.now()) {
		return List{}, false, apperr.Invalid("month", "the month is not over yet: a month's list is compiled once it has ended (China time)")
	}
	rows, err := s.source.Rows(ctx, k, m)
	if err != nil {
		return List{}, false, err
	}
	vs, err := s.store.Versions(ctx, k, m)
	if err != nil {
		return List{}, false, err
	}
	stamp := Stamp{At: s.now().UTC(), By: p.Subject}
	if len(vs) > 0 && vs[0].State == Draft {
		l := vs[0]
		l.Rows, l.Compiled = rows, stamp
		if err := s.store.Replace(ctx, l); err != nil {
			return List{}, false, err
		}
		l.Rev++
		return l, false, nil
	}
	version := 1
	if len(vs) > 0 {
		version = vs[0].Version + 1
	}
	l := List{ID: ID(k, m, version), Kind: k, Month: m, Version: version, State: Draft, Rows: rows, Compiled: stamp}
	if err := s.store.Insert(ctx, l); err != nil {
		return List{}, false, err
	}
	return l, true, nil
}

// Get returns a list for the bureau to review.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (List, error) {
	if err := bureau(p); err != nil {
		return List{}, err
	}
	return s.store.Get(ctx, id)
}

// Lists returns the lists for the bureau, newest first.
func (s *Service) Lists(ctx context.Context, p auth.Principal, state State, k disclosure.Kind, m disclosure.Month) ([]List, error) {
	if err := bureau(p); err != nil {
		return nil, err
	}
	switch state {
	case "", Draft, Published, Superseded, Withdrawn:
	default:
		return nil, apperr.Invalid("state", "draft, published, superseded or withdrawn")
	}
	return s.store.List(ctx, state, k, m, 500)
}

// Withhold is a row the bureau keeps out of publication, and why.
type Withhold struct {
	Row    int
	Reason string
}

// Publish publishes a draft after review, its rows in withhold kept out (each with a reason),
// with the bureau's note; the month's version published before it is superseded. rev is the
// revision the bureau reviewed: a draft compiled again since is refused, so nothing is
// published that nobody read.
func (s *Service) Publish(ctx context.Context, p auth.Principal, id string, rev int64, withhold []Withhold, note string) (List, error) {
	if err := bureau(p); err != nil {
		return List{}, err
	}
	l, err := s.store.Get(ctx, id)
	if err != nil {
		return List{}, err
	}
	if l.State != Draft {
		return List{}, fmt.Errorf("the list is %s; only a draft is published (compile the month again to correct it): %w", l.State, apperr.ErrConflict)
	}
	if rev != l.Rev {
		return List{}, fmt.Errorf("the draft was compiled again since revision %d (now %d): review it again: %w", rev, l.Rev, apperr.ErrConflict)
	}
	var ve apperr.ValidationError
	seen := map[int]bool{}
	for i, w := range withhold {
		at := fmt.Sprintf("withhold[%d]", i)
		switch {
		case w.Row < 1 || w.Row > len(l.Rows):
			ve.Add(at+".row", fmt.Sprintf("no row %d: the list has rows 1 to %d", w.Row, len(l.Rows)))
		case seen[w.Row]:
			ve.Add(at+".row", fmt.Sprintf("row %d is withheld twice", w.Row))
		case strings.TrimSpace(w.Reason) == "":
			ve.Add(at+".reason", "say why the row is withheld")
		}
		seen[w.Row] = true
	}
	if err := ve.Err(); err != nil {
		return List{}, err
	}
	for i := range l.Rows {
		l.Rows[i].Withheld = ""
	}
	for _, w := range withhold {
		l.Rows[w.Row-1].Withheld = strings.TrimSpace(w.Reason)
	}
	now := Stamp{At: s.now().UTC(), By: p.Subject}
	l.State, l.Published, l.Note = Published, &now, note
	if err := s.store.Replace(ctx, l); err != nil {
		return List{}, err
	}
	l.Rev++
	// The older published version goes after the new one is public: readers take the newest
	// published version, so a crash in between shows the new list, never none.
	vs, err := s.store.Versions(ctx, l.Kind, l.Month)
	if err != nil {
		return l, nil
	}
	for _, v := range vs {
		if v.Version < l.Version && v.State == Published {
			v.State, v.Ended = Superseded, &now
			if err := s.store.Replace(ctx, v); err != nil && !errors.Is(err, apperr.ErrConflict) {
				s.log.Warn("disclosure_supersede_failed", "list", v.ID, "err", err.Error())
			}
		}
	}
	return l, nil
}

// Withdraw takes a published list down, with the reason (shown to nobody but the bureau: the
// public sees the list gone).
func (s *Service) Withdraw(ctx context.Context, p auth.Principal, id, reason string) (List, error) {
	if err := bureau(p); err != nil {
		return List{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return List{}, apperr.Invalid("reason", "say why the list is withdrawn")
	}
	l, err := s.store.Get(ctx, id)
	if err != nil {
		return List{}, err
	}
	if l.State != Published {
		return List{}, fmt.Errorf("the list is %s; only a published list is withdrawn: %w", l.State, apperr.ErrConflict)
	}
	now := Stamp{At: s.now().UTC(), By: p.Subject}
	l.State, l.Ended, l.Reason = Withdrawn, &now, strings.TrimSpace(reason)
	if err := s.store.Replace(ctx, l); err != nil {
		return List{}, err
	}
	l.Rev++
	return l, nil
}

// Current returns the published lists the public sees, newest month first: per kind and month
// the newest published version.
func (s *Service) Current(ctx context.Context, limit int) ([]List, error) {
	ls, err := s.store.List(ctx, Published, "", "", limit*2+10)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := make([]List, 0, len(ls))
	for _, l := range ls {
		key := string(l.Kind) + ":" + string(l.Month)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, l)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// PublicList returns the month's list as published, for the public.
func (s *Service) PublicList(ctx context.Context, k disclosure.Kind, m disclosure.Month) (List, error) {
	vs, err := s.store.Versions(ctx, k, m)
	if err != nil {
		return List{}, err
	}
	for _, v := range vs {
		if v.State == Published {
			return v, nil
		}
	}
	return List{}, ErrNotFound
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }
