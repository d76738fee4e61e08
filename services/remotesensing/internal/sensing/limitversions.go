package sensing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/localtime"
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
	if !p.Is(auth.Bureau) {
		return limits.Version{}, forbidden("role %s may not change the limit table", p.Role)
	}
	if today := localtime.DayOf(s.now()); !v.EffectiveFrom.IsZero() && v.EffectiveFrom.Before(today) {
		return limits.Version{}, apperr.Invalid("effective_from", fmt.Sprintf("must be today (%s) or later: readings already judged keep the verdicts of the version they were judged by",
			today.Format(time.DateOnly)))
	}
	if err := s.RefreshLimits(ctx); err != nil { // against every version stored so far
		return limits.Version{}, err
	}
	if err := checkVersion(s.table(), v); err != nil {
		return limits.Version{}, err
	}
	if err := s.limitStore.InsertLimitVersion(ctx, StoredLimitVersion{Version: v, AddedAt: s.now().UTC(), AddedBy: p.Subject}); err != nil {
		if errors.Is(err, ErrLimitVersionExists) {
			return limits.Version{}, fmt.Errorf("a version named %q or in force from %s is stored (added meanwhile?): %w", v.Version,
				v.EffectiveFrom.Format(time.DateOnly), err)
		}
		return limits.Version{}, err
	}
	s.log.InfoContext(ctx, "remotesensing_limit_version_added", "version", v.Version, "effective_from", v.EffectiveFrom.Format(time.DateOnly), "by", p.Subject)
	return v, s.RefreshLimits(ctx)
}

// checkVersion checks v alone, naming its faults by its own fields ("limits[0].unit") as the
// bureau sent them, then against the table: a name and a day of its own.
func checkVersion(t limits.Table, v limits.Version) error {
	out := &apperr.ValidationError{}
	var ve *apperr.ValidationError
	if err := (limits.Table{Versions: []limits.Version{v}}).Validate(); errors.As(err, &ve) {
		for _, f := range ve.Fields {
			out.Add(strings.TrimPrefix(f.Field, "versions[0]."), f.Message)
		}
	} else if err != nil {
		return err
	}
	for _, o := range t.Versions {
		if o.Version == v.Version {
			out.Add("version", fmt.Sprintf("%q names a version the table has", v.Version))
		}
		if !v.EffectiveFrom.IsZero() && o.EffectiveFrom.Equal(v.EffectiveFrom.Time) {
			out.Add("effective_from", fmt.Sprintf("version %q is in force from %s: one version a day", o.Version, v.EffectiveFrom.Format(time.DateOnly)))
		}
	}
	return out.Err()
}

// RefreshLimits reloads the versions added at run time and puts the merged table in force. A
// stored version that no longer fits the table (a release brought a version with its name or
// day) is refused with an error and the table in force is kept.
func (s *Service) RefreshLimits(ctx context.Context) error {
	stored, err := s.limitStore.LimitVersions(ctx)
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
