package vehicle

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/localtime"
)

// Task 13's phase-out with targets: the bureau sets each year how many vehicles on the
// phase-out lists (China III-and-below operating diesel trucks, lean-burn and converted gas
// vehicles) are to be retired; the report shows the year's retirements month by month against
// it, and the vehicles left.

func targetKey(year int) string { return fmt.Sprintf("phase_out_target_%d", year) }

func checkYear(year int) error {
	if year < 2018 || year > 2100 {
		return apperr.Invalid("year", "a year from 2018 (the action plan) to 2100")
	}
	return nil
}

// PhaseOutTarget returns a year's target versions, newest first (none: no target set).
func (s *Service) PhaseOutTarget(ctx context.Context, p auth.Principal, year int) ([]Setting, error) {
	if !p.Is(auth.Bureau, auth.Transport, auth.Admin) {
		return nil, forbidden("role %s may not read the phase-out targets", p.Role)
	}
	if err := checkYear(year); err != nil {
		return nil, err
	}
	return s.store.Settings(ctx, targetKey(year))
}

// SetPhaseOutTarget stores a year's target as the next version (the bureau), with its reason.
func (s *Service) SetPhaseOutTarget(ctx context.Context, p auth.Principal, year, vehicles int, reason string) (Setting, error) {
	if !p.Is(auth.Bureau) {
		return Setting{}, forbidden("only the bureau sets the phase-out targets, not %s", p.Role)
	}
	var ve apperr.ValidationError
	if err := checkYear(year); err != nil {
		ve.Add("year", "a year from 2018 (the action plan) to 2100")
	}
	if vehicles < 0 || vehicles > 1_000_000 {
		ve.Add("vehicles", "a whole number of vehicles from 0 to 1000000")
	}
	if strings.TrimSpace(reason) == "" {
		ve.Add("reason", "say why (the decision the target follows)")
	}
	if err := ve.Err(); err != nil {
		return Setting{}, err
	}
	return s.putSetting(ctx, targetKey(year), vehicles, p.Subject, reason)
}

// PhaseOutProgress is a year's retirements of listed vehicles against its target.
type PhaseOutProgress struct {
	Year    int
	Target  *Setting // nil: none set
	Monthly [12]int  // vehicles retired (scrapped or deregistered) in each month, China time
	Retired int
	Left    int // listed vehicles still active
}

// PhaseOutProgressOf counts a year's retirements of vehicles on the phase-out lists, month by
// month (a vehicle retired before status changes were dated counts at its last update), and
// the listed vehicles still active (bureau, transport, admin).
func (s *Service) PhaseOutProgressOf(ctx context.Context, p auth.Principal, year int) (PhaseOutProgress, error) {
	targets, err := s.PhaseOutTarget(ctx, p, year)
	if err != nil {
		return PhaseOutProgress{}, err
	}
	out := PhaseOutProgress{Year: year}
	if len(targets) > 0 {
		out.Target = &targets[0]
	}
	now, loc := s.now(), localtime.Shanghai()
	err = s.store.Each(ctx, Filter{}, func(v Vehicle) error {
		if !PhaseOutOf(v, s.policy, now).Listed {
			return nil
		}
		switch v.Status {
		case Active:
			out.Left++
		case Scrapped, Deregistered:
			at := v.StatusChangedAt
			if at.IsZero() {
				at = v.UpdatedAt
			}
			if t := at.In(loc); t.Year() == year {
				out.Monthly[t.Month()-time.January]++
				out.Retired++
			}
		}
		return nil
	})
	return out, err
}
