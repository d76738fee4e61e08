package vehicle

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// Task 15: operating companies replace their taxis' three-way catalytic converters regularly.
// The companies record each replacement; the bureau sets the interval (with history) and sees
// the taxis overdue.

// CatalystReplacement is one recorded replacement of a taxi's catalytic converter.
type CatalystReplacement struct {
	ID         string
	VIN        string
	FleetID    string
	ReplacedOn time.Time // a day
	Shop       string
	Note       string
	RecordedBy string
	RecordedAt time.Time
}

// Setting is one version of a rule's parameter the bureau sets at run time.
type Setting struct {
	Key     string
	Value   int
	Version int
	SetBy   string
	SetAt   time.Time
	Reason  string
}

// CatalystIntervalKey names the taxi catalyst interval setting, in months.
const CatalystIntervalKey = "taxi_catalyst_interval_months"

// DefaultCatalystIntervalMonths applies until the bureau sets one: the action plan names no
// interval (to confirm with the bureau; two years is the common service life quoted for a
// taxi's converter).
const DefaultCatalystIntervalMonths = 24

// ErrSettingChanged: another version of the setting was stored meanwhile.
var ErrSettingChanged = fmt.Errorf("the setting was changed meanwhile: read it again: %w", apperr.ErrConflict)

// CatalystStore keeps replacements and settings.
type CatalystStore interface {
	InsertCatalyst(ctx context.Context, c CatalystReplacement) error
	// LatestCatalysts returns each VIN's latest replacement day.
	LatestCatalysts(ctx context.Context) (map[string]time.Time, error)
	// InsertSetting stores a new version (ErrSettingChanged when the version is taken).
	InsertSetting(ctx context.Context, s Setting) error
	// Settings returns a setting's versions, newest first.
	Settings(ctx context.Context, key string) ([]Setting, error)
}

// RecordCatalyst records a replacement on an active taxi: by its fleet, or the bureau.
func (s *Service) RecordCatalyst(ctx context.Context, p auth.Principal, vin string, c CatalystReplacement) (CatalystReplacement, error) {
	if !p.Is(auth.Fleet, auth.Bureau) {
		return CatalystReplacement{}, forbidden("role %s may not record catalyst replacements", p.Role)
	}
	vin, err := vehicleid.NormaliseVIN(vin)
	if err != nil {
		return CatalystReplacement{}, apperr.Invalid("vin", err.Error())
	}
	v, err := s.store.Get(ctx, vin)
	if err != nil {
		return CatalystReplacement{}, err
	}
	if !canSee(p, v) {
		return CatalystReplacement{}, ErrNotFound
	}
	var ve apperr.ValidationError
	if v.ServiceClass != Taxi || v.Status != Active {
		ve.Add("vin", "catalyst replacements are recorded for active taxis (service_class taxi)")
	}
	switch {
	case c.ReplacedOn.IsZero():
		ve.Add("replaced_on", "required: the day the converter was replaced")
	case c.ReplacedOn.After(s.today()):
		ve.Add("replaced_on", "a day not after today")
	case c.ReplacedOn.Before(v.RegisteredOn):
		ve.Add("replaced_on", "a day not before the vehicle's registration")
	}
	if strings.TrimSpace(c.Shop) == "" {
		ve.Add("shop", "required: the repair shop that replaced it")
	}
	if err := ve.Err(); err != nil {
		return CatalystReplacement{}, err
	}
	c.VIN, c.FleetID, c.RecordedBy, c.RecordedAt = v.VIN, v.FleetID, p.Subject, s.now().UTC()
	c.ID = v.VIN + ":" + c.ReplacedOn.Format(time.DateOnly)
	c.Shop, c.Note = strings.TrimSpace(c.Shop), strings.TrimSpace(c.Note)
	if err := s.store.InsertCatalyst(ctx, c); err != nil {
		return CatalystReplacement{}, err
	}
	return c, nil
}

// CatalystInterval returns the interval's versions, newest first; with none set, the default
// as version 0.
func (s *Service) CatalystInterval(ctx context.Context, p auth.Principal) ([]Setting, error) {
	if !p.Is(auth.Bureau, auth.Transport, auth.Admin) {
		return nil, forbidden("role %s may not read the catalyst interval", p.Role)
	}
	return s.catalystInterval(ctx)
}

func (s *Service) catalystInterval(ctx context.Context) ([]Setting, error) {
	vs, err := s.store.Settings(ctx, CatalystIntervalKey)
	if err != nil || len(vs) > 0 {
		return vs, err
	}
	return []Setting{{Key: CatalystIntervalKey, Value: DefaultCatalystIntervalMonths, SetBy: "release", Reason: "the default"}}, nil
}

// SetCatalystInterval stores a new interval as the next version (the bureau), with its reason.
func (s *Service) SetCatalystInterval(ctx context.Context, p auth.Principal, months int, reason string) (Setting, error) {
	if !p.Is(auth.Bureau) {
		return Setting{}, forbidden("only the bureau sets the catalyst interval, not %s", p.Role)
	}
	var ve apperr.ValidationError
	if months < 1 || months > 120 {
		ve.Add("months", "a whole number of months from 1 to 120")
	}
	if strings.TrimSpace(reason) == "" {
		ve.Add("reason", "say why (the decision the change follows)")
	}
	if err := ve.Err(); err != nil {
		return Setting{}, err
	}
	return s.putSetting(ctx, CatalystIntervalKey, months, p.Subject, reason)
}

// putSetting stores value as key's next version (ErrSettingChanged when another replica took
// that version meanwhile).
func (s *Service) putSetting(ctx context.Context, key string, value int, by, reason string) (Setting, error) {
	cur, err := s.store.Settings(ctx, key)
	if err != nil {
		return Setting{}, err
	}
	version := 1
	if len(cur) > 0 {
		version = cur[0].Version + 1
	}
	st := Setting{Key: key, Value: value, Version: version, SetBy: by, SetAt: s.now().UTC(), Reason: strings.TrimSpace(reason)}
	if err := s.store.InsertSetting(ctx, st); err != nil {
		return Setting{}, err
	}
	return st, nil
}

// TaxiCatalyst is one active taxi's converter: the last replacement (none: counted from
// registration), when the next is due, and whether it is overdue today.
type TaxiCatalyst struct {
	VIN, Plate, PlateColour, FleetID string
	LastReplaced                     time.Time // zero: none recorded
	Due                              time.Time
	Overdue                          bool
}

// TaxiCatalystReport lists the active taxis with their converters' due days, overdue first (a
// fleet sees its own), and the interval in force.
func (s *Service) TaxiCatalystReport(ctx context.Context, p auth.Principal, overdueOnly bool) ([]TaxiCatalyst, Setting, error) {
	f := Filter{Status: Active, ServiceClass: Taxi}
	switch {
	case p.Role == auth.Fleet:
		f.FleetID = p.Tenant
	case p.Is(auth.Bureau, auth.Transport, auth.Admin):
	default:
		return nil, Setting{}, forbidden("role %s may not read the taxi catalyst report", p.Role)
	}
	iv, err := s.catalystInterval(ctx)
	if err != nil {
		return nil, Setting{}, err
	}
	last, err := s.store.LatestCatalysts(ctx)
	if err != nil {
		return nil, Setting{}, err
	}
	today := s.today()
	var out []TaxiCatalyst
	err = s.store.Each(ctx, f, func(v Vehicle) error {
		from := v.RegisteredOn
		lr, ok := last[v.VIN]
		if ok {
			from = lr
		}
		due := from.AddDate(0, iv[0].Value, 0)
		t := TaxiCatalyst{VIN: v.VIN, Plate: v.Plate, PlateColour: string(v.PlateColour), FleetID: v.FleetID, LastReplaced: lr, Due: due, Overdue: today.After(due)}
		if !overdueOnly || t.Overdue {
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, Setting{}, err
	}
	slices.SortStableFunc(out, func(a, b TaxiCatalyst) int { return a.Due.Compare(b.Due) })
	return out, iv[0], err
}
