package vehicle

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Policy is the bureau's registration policy: which emission standard new registrations must
// meet from when, the phase-out deadlines, and how long an inspection report stays valid. It is
// data: the all-in-one loads seeds/registry-policy.json, and DefaultPolicy is the fallback.
type Policy struct {
	// NewRegistration lists, oldest first, the minimum standard for new registrations from a date.
	NewRegistration []StandardFrom `json:"new_registration"`
	// DieselTruckPhaseOut is the deadline for operating diesel trucks of China III and below.
	DieselTruckPhaseOut Day `json:"diesel_truck_phase_out"`
	// GasPhaseOut is the deadline for lean-burn and petrol-to-gas converted gas vehicles.
	GasPhaseOut Day `json:"gas_phase_out"`
	// InspectionValidDays is how old a passing inspection report may be for an inspection mark.
	InspectionValidDays int `json:"inspection_valid_days"`
	// CleanEnergyShare is the quota of new and replaced vehicles of the quota classes that must
	// be new-energy or clean-energy (task 13: 0.8).
	CleanEnergyShare float64 `json:"clean_energy_share"`
	// AllNewEnergyFrom is when buses, taxis and sanitation vehicles must all be new-energy.
	AllNewEnergyFrom Day `json:"all_new_energy_from"`
}

// StandardFrom is a minimum standard in force from a day.
type StandardFrom struct {
	From    Day      `json:"from"`
	Minimum Standard `json:"minimum"`
	Source  string   `json:"source"`
}

// Day is a calendar day in policy files ("2019-07-01").
type Day struct{ time.Time }

// UnmarshalJSON parses "YYYY-MM-DD".
func (d *Day) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return fmt.Errorf("day %q: %w", s, err)
	}
	d.Time = t
	return nil
}

// MarshalJSON writes "YYYY-MM-DD".
func (d Day) MarshalJSON() ([]byte, error) { return json.Marshal(d.Format(time.DateOnly)) }

func day(s string) Day {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return Day{t}
}

// DefaultPolicy is the policy used when no file is loaded. The dates are the national China VI
// schedule as key regions applied it early (light vehicles VIa from 2019-07-01 in key regions,
// nationwide 2020-07-01; VIb from 2023-07-01), and the end of 2020 for the task 13 phase-outs;
// the bureau sets its own dates in the policy file.
func DefaultPolicy() Policy {
	return Policy{
		NewRegistration: []StandardFrom{
			{From: day("2017-01-01"), Minimum: StdV, Source: "GB 18352.5 / GB 17691-2005 stage V"},
			{From: day("2019-07-01"), Minimum: StdVIa, Source: "GB 18352.6-2016 / GB 17691-2018 VIa, key-region early implementation"},
			{From: day("2023-07-01"), Minimum: StdVIb, Source: "GB 18352.6-2016 VIb"},
		},
		DieselTruckPhaseOut: day("2020-12-31"),
		GasPhaseOut:         day("2020-12-31"),
		InspectionValidDays: 365,
		CleanEnergyShare:    0.8,
		AllNewEnergyFrom:    day("2021-01-01"),
	}
}

// LoadPolicy reads a policy file; fields it leaves out keep their defaults.
func LoadPolicy(path string) (Policy, error) {
	p := DefaultPolicy()
	b, err := os.ReadFile(path)
	if err != nil {
		return p, fmt.Errorf("read registry policy: %w", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("parse registry policy %s: %w", path, err)
	}
	for i, s := range p.NewRegistration {
		if s.Minimum.Rank() == 0 {
			return p, fmt.Errorf("registry policy %s: new_registration[%d].minimum %q is not a standard", path, i, s.Minimum)
		}
	}
	return p, nil
}

// MinimumOn returns the minimum standard for a new registration on day, and where it comes from.
func (p Policy) MinimumOn(day time.Time) (StandardFrom, bool) {
	var found StandardFrom
	ok := false
	for _, s := range p.NewRegistration {
		if !day.Before(s.From.Time) {
			found, ok = s, true
		}
	}
	return found, ok
}
