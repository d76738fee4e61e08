package detect

import (
	"errors"
	"time"
)

// Kind names an alarm rule. At most one alarm of each Kind is open per truck.
type Kind string

// Alarm kinds.
const (
	// KindNOxExceedance: window average of downstream NOx over loaded
	// samples above the limit. Closes when the average is back at or below
	// the limit minus the hysteresis.
	KindNOxExceedance Kind = "nox_exceedance"
	// KindSCREfficiencyLow: window SCR conversion efficiency below the
	// minimum. Closes at minimum plus hysteresis.
	KindSCREfficiencyLow Kind = "scr_efficiency_low"
	// KindReagentEmpty: reagent level at or below the empty level. Closes
	// when refilled to the refill level.
	KindReagentEmpty Kind = "reagent_empty"
	// KindMILOn: malfunction indicator lamp on. Closes when reported off.
	KindMILOn Kind = "mil_on"
	// KindFaultCodes: the OBD information lists fault codes. Closes when a
	// frame reports zero codes; new codes while open update the evidence.
	KindFaultCodes Kind = "fault_codes"
	// KindOfflineWhileMoving: nothing arrived for longer than the offline
	// limit while the last known speed was moving (opened by Sweep).
	// Closes when data arrives.
	KindOfflineWhileMoving Kind = "offline_while_moving"
	// KindTamperNOxFlatline: downstream NOx exactly constant over many
	// consecutive loaded samples while the engine speed varied.
	KindTamperNOxFlatline Kind = "tamper_nox_flatline"
	// KindTamperOutOfRange: a physically implausible value, persistently
	// (see Thresholds and the checks documented on Evidence.Field).
	KindTamperOutOfRange Kind = "tamper_out_of_range"
	// KindTamperPositionJump: two consecutive valid positions imply an
	// impossible speed.
	KindTamperPositionJump Kind = "tamper_position_jump"
	// KindDataGap: consecutive samples far apart in collection time while
	// the truck moved before and after, not filled by reissued samples
	// within the grace period.
	KindDataGap Kind = "data_gap"
	// KindTamperRemovalAlarm: the terminal sent an anti-tamper / removal
	// alarm (command 0x06).
	KindTamperRemovalAlarm Kind = "tamper_removal_alarm"
)

// Kinds returns every alarm Kind.
func Kinds() []Kind {
	return []Kind{
		KindNOxExceedance, KindSCREfficiencyLow, KindReagentEmpty, KindMILOn,
		KindFaultCodes, KindOfflineWhileMoving, KindTamperNOxFlatline,
		KindTamperOutOfRange, KindTamperPositionJump, KindDataGap,
		KindTamperRemovalAlarm,
	}
}

// ManualCloseOnly reports whether alarms of kind k stay open until the
// bureau closes them with Truck.Close: the tamper signs and data gaps.
// The other kinds close by rule and may also be closed by hand.
func (k Kind) ManualCloseOnly() bool {
	switch k {
	case KindTamperNOxFlatline, KindTamperOutOfRange, KindTamperPositionJump,
		KindDataGap, KindTamperRemovalAlarm:
		return true
	}
	return false
}

// ClosedByRule is Alarm.ClosedBy when a rule closed the alarm.
const ClosedByRule = "rule"

// Alarm is one alarm of one truck, open while ClosedAt is zero.
type Alarm struct {
	// Kind is the rule that opened it.
	Kind Kind `json:"kind"`
	// OpenedAt is the instant the rule found the condition: the collection
	// instant of the deciding sample, or the now of Sweep.
	OpenedAt time.Time `json:"opened_at"`
	// ClosedAt is zero while open.
	ClosedAt time.Time `json:"closed_at,omitzero"`
	// ClosedBy is ClosedByRule or who closed it by hand; empty while open.
	ClosedBy string `json:"closed_by,omitempty"`
	// CloseReason says why it closed.
	CloseReason string `json:"close_reason,omitempty"`
	// Message describes the condition for people.
	Message string `json:"message"`
	// Evidence holds the numbers behind the decision.
	Evidence Evidence `json:"evidence"`
	// Unsigned: the alarm rests only on unsigned data (Sample.Unsigned);
	// signed data confirming it clears the mark.
	Unsigned bool `json:"unsigned,omitempty"`
}

// IsOpen reports whether the alarm is open.
func (a Alarm) IsOpen() bool { return a.ClosedAt.IsZero() }

// Evidence is the data behind an alarm. Each kind fills the fields that
// apply to it; the others stay zero and are omitted from JSON.
type Evidence struct {
	// Samples: loaded samples in the window (NOx, SCR), consecutive samples
	// (flat-line, plausibility).
	Samples int `json:"samples,omitempty"`
	// WindowSeconds is the window length used (NOx, SCR).
	WindowSeconds int `json:"window_seconds,omitempty"`
	// NOxDownAvgPPM is the window mean downstream NOx (NOx, SCR).
	NOxDownAvgPPM Value `json:"nox_down_avg_ppm,omitzero"`
	// NOxUpAvgPPM is the window mean upstream NOx (SCR).
	NOxUpAvgPPM Value `json:"nox_up_avg_ppm,omitzero"`
	// EfficiencyPct is the window SCR conversion efficiency (SCR).
	EfficiencyPct Value `json:"efficiency_pct,omitzero"`
	// Limit is the threshold crossed, in the unit of the value judged.
	Limit Value `json:"limit,omitzero"`
	// Field names the plausibility check that failed (out of range):
	// speed_kmh, engine_speed_rpm, coolant_c, reagent_pct, fuel_level_pct,
	// nox_ppm, position or nox_down_above_up.
	Field string `json:"field,omitempty"`
	// Value is the offending or deciding value (reagent level, stuck NOx,
	// out-of-range value, downstream minus upstream NOx).
	Value Value `json:"value,omitzero"`
	// EngineSpeedMinRPM and EngineSpeedMaxRPM bound the engine speed over a
	// flat-line run.
	EngineSpeedMinRPM Value `json:"engine_speed_min_rpm,omitzero"`
	// EngineSpeedMaxRPM: see EngineSpeedMinRPM.
	EngineSpeedMaxRPM Value `json:"engine_speed_max_rpm,omitzero"`
	// FaultCodes are the codes reported while the alarm was open (fault
	// codes), in order of first appearance.
	FaultCodes []uint32 `json:"fault_codes,omitempty"`
	// From and To bound the interval judged: window, flat-line run, data
	// gap, or last arrival and Sweep instant (offline).
	From time.Time `json:"from,omitzero"`
	// To: see From.
	To time.Time `json:"to,omitzero"`
	// SpeedKmh is the last known speed (offline) or the speed before a gap.
	SpeedKmh Value `json:"speed_kmh,omitzero"`
	// SpeedAfterKmh is the speed after a gap.
	SpeedAfterKmh Value `json:"speed_after_kmh,omitzero"`
	// FromPosition is the last known position (offline, position jump).
	FromPosition Position `json:"from_position,omitzero"`
	// ToPosition is the position jumped to, or the removal event position.
	ToPosition Position `json:"to_position,omitzero"`
	// DistanceKm is the great-circle distance of a position jump.
	DistanceKm Value `json:"distance_km,omitzero"`
	// ImpliedSpeedKmh is the speed a position jump implies.
	ImpliedSpeedKmh Value `json:"implied_speed_kmh,omitzero"`
	// Serial is the information serial of the first removal event.
	Serial *uint16 `json:"serial,omitempty"`
	// Count is how many occurrences the open alarm covers (data gaps,
	// removal events); 0 means one.
	Count int `json:"count,omitempty"`
}

// Op is what a Change did.
type Op string

// Change operations.
const (
	// OpOpened: Alarm was opened.
	OpOpened Op = "opened"
	// OpUpdated: the open Alarm's evidence grew (new fault codes, another
	// gap or removal event).
	OpUpdated Op = "updated"
	// OpClosed: Alarm was closed.
	OpClosed Op = "closed"
	// OpExemptionGained: the truck became eligible for exemption from the
	// periodic on-line test; Alarm is zero.
	OpExemptionGained Op = "exemption_gained"
	// OpExemptionRevoked: eligibility was revoked; Alarm is the alarm that
	// revoked it.
	OpExemptionRevoked Op = "exemption_revoked"
)

// Change is one consequence of an Observe, Sweep, ObserveRemoval or Close
// call, for the service to persist and publish.
type Change struct {
	// Op says what happened.
	Op Op `json:"op"`
	// At is when it happened (opening, update or closing instant).
	At time.Time `json:"at"`
	// VIN identifies the truck.
	VIN string `json:"vin"`
	// Alarm is a copy of the alarm concerned (zero for OpExemptionGained).
	Alarm Alarm `json:"alarm,omitzero"`
}

// Errors returned by Truck.Close.
var (
	// ErrNotOpen: no alarm of that kind is open.
	ErrNotOpen = errors.New("alarm not open")
	// ErrBadClose: closing instant before the opening, or no closer named.
	ErrBadClose = errors.New("bad close")
)
