package sensing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
)

// StoredLimitVersion is a limit-table version the bureau added at run time, with who added it.
type StoredLimitVersion struct {
	Version limits.Version
	AddedAt time.Time
	AddedBy string
}

// ErrLimitVersionExists: a version with that name or that effective day is stored.
var ErrLimitVersionExists = fmt.Errorf("limit version %w", apperr.ErrConflict)

// AddLimitVersion adds a version to the limit table at run time (the bureau), in force from its
// effective day: today at the earliest, so that no reading already judged would have been
// judged otherwise. Every replica takes it up at its next RefreshLimits; this one at once.
func (s *Service) AddLimitVersion(ctx context.Context, p auth.Principal, v limits.Version) (limits.Version, error) {
	if !p.Is(auth.Bureau, auth.Admin) {
		return limits.Version{}, forbidden("role %s may not change the limit table", p.Role)
	}
	if today := limits.LocalDay(s.now()); !v.EffectiveFrom.IsZero() && v.EffectiveFrom.Before(today) {
		return limits.Version{}, apperr.Invalid("effective_from", fmt.Sprintf("must be today (%s) or later: readings already judged keep the verdicts of the version they were judged by",
			today.Format(time.DateOnly)))
	}
	if err := s.RefreshLimits(ctx); err != nil { // against every version stored so far
		return limits.Version{}, err
	}
	cur := s.table()
	if _, err := cur.With([]limits.Version{v}); err != nil {
		return limits.Version{}, versionErrors(err, cur, v)
	}
	if err := s.store.InsertLimitVersion(ctx, StoredLimitVersion{Version: v, AddedAt: s.now().UTC(), AddedBy: p.Subject}); err != nil {
		if errors.Is(err, ErrLimitVersionExists) {
			return limits.Version{}, fmt.Errorf("a version named %q or in force from %s is stored (added meanwhile?): %w", v.Version,
				v.EffectiveFrom.Format(time.DateOnly), err)
		}
		return limits.Version{}, err
	}
	s.log.InfoContext(ctx, "remotesensing_limit_version_added", "version", v.Version, "effective_from", v.EffectiveFrom.Format(time.DateOnly), "by", p.Subject)
	return v, s.RefreshLimits(ctx)
}

// versionErrors names the new version's faults by its own fields ("limits[0].unit"), as the
// bureau sent them, instead of by its place in the merged table.
func versionErrors(err error, cur limits.Table, v limits.Version) error {
	var ve *apperr.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := &apperr.ValidationError{}
	for _, f := range ve.Fields {
		field := f.Field
		if rest, ok := strings.CutPrefix(field, "versions["); ok {
			if _, path, ok := strings.Cut(rest, "]"); ok {
				field = strings.TrimPrefix(path, ".")
			}
		}
		switch {
		case field == "version" && strings.Contains(f.Message, "used twice"):
			f.Message = fmt.Sprintf("%q names a version the table has", v.Version)
		case field == "effective_from" && strings.Contains(f.Message, "increasing date order"):
			f.Message = fmt.Sprintf("another version is in force from %s: one version a day", v.EffectiveFrom.Format(time.DateOnly))
		}
		if field == "" {
			field = "version"
		}
		out.Add(field, f.Message)
	}
	return out
}

// RefreshLimits reloads the versions added at run time and puts the merged table in force. A
// stored version that no longer fits the table (a release brought a version with its name or
// day) is refused with an error and the table in force is kept.
func (s *Service) RefreshLimits(ctx context.Context) error {
	stored, err := s.store.LimitVersions(ctx)
	if err != nil {
		return err
	}
	added := make([]limits.Version, len(stored))
	for i, sv := range stored {
		added[i] = sv.Version
	}
	t, err := s.opt.Limits.With(added)
	if err != nil {
		return fmt.Errorf("the limit versions added at run time do not fit the table of this release (remove or rename the one named below from rs_limit_versions): %w", err)
	}
	s.limits.Store(&t)
	return nil
}
