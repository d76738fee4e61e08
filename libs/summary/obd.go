package summary

import "time"

// Truck is the OBD service's part: a heavy diesel truck's remote-monitoring state, stored under
// the truck's plate key.
type Truck struct {
	VIN string `json:"vin"`
	// Online reports whether the terminal sent anything within OfflineAfterSeconds of UpdatedAt
	// (the envelope's time); readers recompute it from LastArrivalAt at read time.
	Online              bool       `json:"online"`
	OfflineAfterSeconds int        `json:"offline_after_seconds"`
	LastArrivalAt       time.Time  `json:"last_arrival_at,omitzero"`
	LastSampleAt        time.Time  `json:"last_sample_at,omitzero"`
	LastPosition        *Position  `json:"last_position,omitempty"`
	OpenAlarms          []OBDAlarm `json:"open_alarms"`
	// ExemptionEligible: stable compliance over the bureau's window; the truck may be exempted
	// from the periodic on-line emission test (task 15).
	ExemptionEligible bool      `json:"exemption_eligible"`
	EligibleSince     time.Time `json:"eligible_since,omitzero"`
}

// OBDAlarm is one open alarm in the OBD part.
type OBDAlarm struct {
	Kind     string    `json:"kind"`
	OpenedAt time.Time `json:"opened_at"`
	Message  string    `json:"message"`
	// Unsigned: the alarm rests only on telemetry no signature proves.
	Unsigned bool `json:"unsigned,omitempty"`
}

// Position is a WGS 84 position at an instant.
type Position struct {
	Lon float64   `json:"lon"`
	Lat float64   `json:"lat"`
	At  time.Time `json:"at,omitzero"`
}
