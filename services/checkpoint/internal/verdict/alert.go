package verdict

import (
	"fmt"
	"slices"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/emission"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/localtime"
)

// Level is a heavy-pollution alert level (task 27: the national key-region grading).
type Level string

// Alert levels, mildest first.
const (
	Yellow Level = "yellow"
	Orange Level = "orange"
	Red    Level = "red"
)

// Class is a class of vehicle an alert restricts.
type Class string

// Vehicle classes.
const (
	// HeavyDiesel: heavy (N2, N3, M3, M2 > 3.5 t) diesel vehicles.
	HeavyDiesel Class = "heavy_diesel"
	// BulkMaterial: trucks carrying bulk material (muck trucks and the bulk-transport fleets of
	// task 28's emergency transport response).
	BulkMaterial Class = "bulk_material"
	// AnyFuel: every vehicle, of any fuel, below the restriction's standard (e.g. China III and below).
	AnyFuel Class = "any"
)

// Classes lists the valid classes.
var Classes = []Class{HeavyDiesel, BulkMaterial, AnyFuel}

// Restriction bars a class of vehicles from a zone (or the whole district) while an alert is in
// force. New-energy vehicles are never restricted.
type Restriction struct {
	Class Class
	// MaxStandard: only vehicles of this China standard or below are barred; empty bars all.
	MaxStandard string
	// Zone is where the restriction applies; nil is the whole district.
	Zone     *geo.Shape
	ZoneName string
	// Hours, when set, limits the restriction to a daily window of local time.
	Hours *localtime.Hours
}

// Alert is a heavy-pollution alert the bureau declares.
type Alert struct {
	ID           string
	Level        Level
	StartsAt     time.Time
	EndsAt       time.Time
	Reason       string
	Restrictions []Restriction
	CreatedBy    string
	CreatedAt    time.Time
	EndedAt      time.Time // set when the bureau lifts it early
	EndedBy      string
}

// ActiveAt reports whether the alert is in force at t.
func (a Alert) ActiveAt(t time.Time) bool {
	if !a.EndedAt.IsZero() && !t.Before(a.EndedAt) {
		return false
	}
	return !t.Before(a.StartsAt) && t.Before(a.EndsAt)
}

// DefaultRestrictions are the restrictions a level brings when the bureau names none. They
// follow the graded emergency measures of task 28 (bulk-material transport restricted from
// yellow up) and common key-region practice for heavy diesel trucks; the bureau sets its own per
// alert.
func DefaultRestrictions(l Level) []Restriction {
	switch l {
	case Yellow:
		return []Restriction{{Class: HeavyDiesel, MaxStandard: "III"}, {Class: BulkMaterial, MaxStandard: "IV"}}
	case Orange:
		return []Restriction{{Class: HeavyDiesel, MaxStandard: "IV"}, {Class: BulkMaterial}}
	case Red:
		return []Restriction{{Class: HeavyDiesel, MaxStandard: "V"}, {Class: BulkMaterial}, {Class: AnyFuel, MaxStandard: "III"}}
	}
	return nil
}

// Validate checks an alert as the bureau declares it, naming the field at fault.
func (a *Alert) Validate() error {
	var ve apperr.ValidationError
	if !slices.Contains([]Level{Yellow, Orange, Red}, a.Level) {
		ve.Add("level", "must be yellow, orange or red")
	}
	if a.StartsAt.IsZero() {
		ve.Add("starts_at", "required, RFC 3339")
	}
	if a.EndsAt.IsZero() || !a.EndsAt.After(a.StartsAt) {
		ve.Add("ends_at", "required, after starts_at")
	} else if a.EndsAt.Sub(a.StartsAt) > 30*24*time.Hour {
		ve.Add("ends_at", "an alert lasts at most 30 days; declare a new one to extend it")
	}
	for i, r := range a.Restrictions {
		at := fmt.Sprintf("restrictions[%d].", i)
		if !slices.Contains(Classes, r.Class) {
			ve.Add(at+"class", "must be heavy_diesel, bulk_material or any")
		}
		if r.MaxStandard != "" && emission.Rank(r.MaxStandard) == 0 {
			ve.Add(at+"max_standard", "must be one of I, II, III, IV, V, VI, VIa, VIb")
		}
	}
	if len(a.Restrictions) == 0 {
		a.Restrictions = DefaultRestrictions(a.Level)
	}
	return ve.Err()
}
