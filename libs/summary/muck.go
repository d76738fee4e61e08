package summary

import (
	"encoding/json"
	"time"
)

// MuckStatus is the muck-truck service's part (Part Muck; task 18 of the action plan): a
// plate's transport permits, its restricted-road passes with their zones and hours, and its
// recent violations. A plate the service knows nothing about has PermitState "none" and empty
// lists: a clean answer from the owner, not a missing one.
//
// States are as of the envelope's UpdatedAt: a reader must still compare the validity windows
// with its own clock (an "approved" permit past ValidTo is expired; the service rewrites the
// part when its sweep marks it so).
type MuckStatus struct {
	Plate       string `json:"plate"`
	PlateColour string `json:"plate_colour"`
	VIN         string `json:"vin,omitempty"`
	// PermitState is the state of the plate's most favourable permit: approved, suspended,
	// pending, revoked, expired, refused, or none.
	PermitState string `json:"permit_state"`
	// Permits lists the plate's permits still in force or ended within the last 30 days, newest
	// first.
	Permits []MuckPermit `json:"permits"`
	// Passes lists the restricted-road passes not cancelled and not yet past ValidTo.
	Passes []MuckPass `json:"passes"`
	// RecentViolations lists the violations observed within the last 90 days, newest first.
	RecentViolations []MuckViolation `json:"recent_violations"`
	// Timezone is the zone the pass hours are read in: "Asia/Shanghai".
	Timezone string `json:"timezone"`
}

// MuckPermit is one transport permit (《渣土运输许可证》).
type MuckPermit struct {
	PermitID    string    `json:"permit_id"`
	State       string    `json:"state"` // pending | approved | refused | suspended | revoked | expired
	StateReason string    `json:"state_reason,omitempty"`
	ValidFrom   time.Time `json:"valid_from"`
	ValidTo     time.Time `json:"valid_to"`
	FromSite    string    `json:"from_site"` // construction site the loads come from
	ToSite      string    `json:"to_site"`   // disposal site the loads go to
}

// MuckPass is one restricted-road pass (《限行道路通行证》): the truck may be inside Zone
// between Hours.From and Hours.To local time, from ValidFrom to ValidTo, while its permit is
// approved.
type MuckPass struct {
	PassID   string `json:"pass_id"`
	PermitID string `json:"permit_id"`
	// Zone is a GeoJSON Polygon or MultiPolygon (lon/lat); libs/geo parses and tests it.
	Zone json.RawMessage `json:"zone"`
	// BBox is the zone's bounding box [min_lon, min_lat, max_lon, max_lat], for a quick test.
	BBox      [4]float64 `json:"bbox"`
	Hours     MuckHours  `json:"hours"`
	ValidFrom time.Time  `json:"valid_from"`
	ValidTo   time.Time  `json:"valid_to"`
}

// MuckHours is a daily window "HH:MM"-"HH:MM" in Timezone, From included and To excluded; a
// window with To before From runs across midnight ("22:00"-"05:00"); To may be "24:00".
type MuckHours struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// MuckViolation is one recorded violation.
type MuckViolation struct {
	ViolationID string    `json:"violation_id"`
	Kind        string    `json:"kind"` // leaky_cover | muddy_wheels | off_route | outside_hours | unauthorised_dumping | no_permit
	ObservedAt  time.Time `json:"observed_at"`
	FromSite    string    `json:"from_site,omitempty"`
	PermitID    string    `json:"permit_id,omitempty"`
	// Revoked is true when the violation revoked the plate's permits.
	Revoked bool `json:"revoked"`
}
