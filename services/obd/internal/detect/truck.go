package detect

import (
	"fmt"
	"slices"
	"time"
)

// Truck is the detection state of one truck. The zero value is ready to use
// (it adopts the VIN of its first sample); NewTruck names the VIN up front.
//
// All fields are exported with JSON tags so that the service can persist a
// snapshot with encoding/json and restore it after a restart; apart from the
// read-only fields documented as such, treat them as opaque and change them
// only through the methods.
type Truck struct {
	// VIN identifies the truck.
	VIN string `json:"vin"`
	// LastAt is the collection instant of the newest in-order sample.
	LastAt time.Time `json:"last_at,omitzero"`
	// LastArrival is the newest arrival instant (ReceivedAt, or At when
	// unknown) of any accepted sample or event: the liveness clock.
	LastArrival time.Time `json:"last_arrival,omitzero"`
	// Last is the newest in-order sample (without its fault codes).
	Last Sample `json:"last"`
	// LastPosition is the newest plausible valid position.
	LastPosition Position `json:"last_position,omitzero"`
	// MIL is the last known MIL status.
	MIL MIL `json:"mil,omitzero"`
	// FaultCodes are the last reported fault codes, nil until a frame
	// reported them.
	FaultCodes []uint32 `json:"fault_codes"`
	// Open are the open alarms, oldest first, at most one per Kind.
	Open []Alarm `json:"open,omitempty"`
	// Window is the NOx / SCR averaging window.
	Window Window `json:"window"`
	// Seen is the set of recently seen collection seconds.
	Seen SeenSet `json:"seen"`
	// Flatline is the current run of identical downstream NOx values.
	Flatline FlatlineRun `json:"flatline"`
	// Implausible counts the consecutive failures of each plausibility
	// check (see Evidence.Field for the order).
	Implausible [numChecks]int `json:"implausible"`
	// Gaps are the data gaps waiting for reissued samples, oldest first.
	Gaps []PendingGap `json:"pending_gaps,omitempty"`
	// LastRemovalAt is the instant of the newest removal event.
	LastRemovalAt time.Time `json:"last_removal_at,omitzero"`
	// Exemption is the exemption-eligibility clock.
	Exemption Exemption `json:"exemption"`
	// unsigned says the input being observed is unsigned (set for the
	// duration of one Observe or ObserveRemoval).
	unsigned bool
	// Stats counts what happened to the input.
	Stats Stats `json:"stats"`
}

// FlatlineRun is a run of consecutive loaded samples with exactly the same
// downstream NOx value.
type FlatlineRun struct {
	// Value is the repeated downstream NOx in ppm.
	Value float64 `json:"value"`
	// Run is the number of samples in the run, 0 when none.
	Run int `json:"run"`
	// Since is the collection instant of the run's first sample.
	Since time.Time `json:"since,omitzero"`
	// RPMMin is the lowest engine speed in the run.
	RPMMin float64 `json:"rpm_min"`
	// RPMMax is the highest engine speed in the run.
	RPMMax float64 `json:"rpm_max"`
}

// PendingGap is a data gap waiting for reissued samples to fill it.
type PendingGap struct {
	// From is the collection instant of the sample before the gap.
	From time.Time `json:"from"`
	// To is the collection instant of the sample after the gap.
	To time.Time `json:"to"`
	// DetectedAt is the arrival instant of the sample after the gap; the
	// grace period runs from it.
	DetectedAt time.Time `json:"detected_at"`
	// Cursor is the newest collection instant filled so far (From at first).
	Cursor time.Time `json:"cursor"`
	// Holed is true once the reissued samples left a hole longer than the
	// gap limit: the gap can then no longer be filled.
	Holed bool `json:"holed,omitempty"`
	// SpeedBefore is the speed before the gap.
	SpeedBefore Value `json:"speed_before_kmh"`
	// SpeedAfter is the speed after the gap.
	SpeedAfter Value `json:"speed_after_kmh"`
}

// maxPendingGaps bounds Truck.Gaps; the oldest gap is judged at once when a
// newer one would exceed it.
const maxPendingGaps = 8

// Exemption is the clock of exemption eligibility: it runs while no alarm
// is open, from the first sample or from the closing of the last alarm.
type Exemption struct {
	// CleanSince is when the current alarm-free period began; zero while an
	// alarm is open.
	CleanSince time.Time `json:"clean_since,omitzero"`
	// LoadedSamples counts the in-order loaded samples since CleanSince.
	LoadedSamples int64 `json:"loaded_samples"`
	// Eligible reports whether the truck is eligible for exemption from the
	// periodic on-line emission test.
	Eligible bool `json:"eligible"`
	// EligibleSince is when it became eligible; zero when not.
	EligibleSince time.Time `json:"eligible_since,omitzero"`
}

// Stats counts what Observe did with its input.
type Stats struct {
	// Accepted counts in-order samples.
	Accepted int64 `json:"accepted"`
	// Late counts late samples used for a window or a gap.
	Late int64 `json:"late"`
	// Duplicates counts samples and events ignored as already seen.
	Duplicates int64 `json:"duplicates"`
	// Stale counts late samples too old for any rule.
	Stale int64 `json:"stale"`
	// Rejected counts input with no time, another VIN, or a clock too far
	// ahead of its arrival.
	Rejected int64 `json:"rejected"`
}

// NewTruck returns the empty state of the truck with the given VIN.
func NewTruck(vin string) *Truck { return &Truck{VIN: vin} }

// Observe feeds one sample and returns the changes it caused, nil when none.
// See the package documentation for the handling of late and duplicate
// samples. It allocates nothing when nothing changes.
func (t *Truck) Observe(s Sample, th Thresholds) []Change {
	at, arrival, ok := t.admit(s.VIN, s.At, s.ReceivedAt, th)
	if !ok {
		return nil
	}
	s.At, s.ReceivedAt = at, s.ReceivedAt.UTC()
	if !t.LastAt.IsZero() && !at.After(t.LastAt) {
		if at.Equal(t.LastAt) {
			t.Stats.Duplicates++
			return nil
		}
		return t.observeLate(&s, arrival, th)
	}

	var ch []Change
	t.unsigned = s.Unsigned
	t.Stats.Accepted++
	t.Seen.advance(at.Unix(), t.LastAt.IsZero())
	t.touch(arrival, &ch)
	loaded := isLoaded(&s, th)
	t.ruleGap(&s, arrival, th, &ch) // before Last moves on
	t.ruleWindow(&s, loaded, th, &ch)
	t.ruleReagent(&s, th, &ch)
	t.ruleOBD(&s, &ch)
	t.ruleFlatline(&s, loaded, th, &ch)
	t.rulePlausible(&s, loaded, th, &ch)
	t.rulePosition(&s, th, &ch)
	t.judgeGaps(arrival, th, &ch)

	t.Last = s
	t.Last.VIN, t.Last.FaultCodes = t.VIN, nil
	t.LastAt = at
	t.exemptionStep(at, loaded, th, &ch)
	return ch
}

// admit checks the identity and time of an input and returns its collection
// and arrival instants in UTC.
func (t *Truck) admit(vin string, at, received time.Time, th Thresholds) (time.Time, time.Time, bool) {
	if at.IsZero() || (t.VIN != "" && vin != "" && vin != t.VIN) {
		t.Stats.Rejected++
		return at, at, false
	}
	at = at.UTC()
	arrival := at
	if !received.IsZero() {
		arrival = received.UTC()
		if th.MaxClockAheadSeconds > 0 && at.Sub(arrival) > seconds(th.MaxClockAheadSeconds) {
			t.Stats.Rejected++
			return at, at, false
		}
	}
	if t.VIN == "" {
		t.VIN = vin
	}
	return at, arrival, true
}

// observeLate handles a sample older than the newest one (package doc).
func (t *Truck) observeLate(s *Sample, arrival time.Time, th Thresholds) []Change {
	dup, inSpan := t.Seen.late(s.At.Unix())
	if dup {
		t.Stats.Duplicates++
		return nil
	}
	used := false
	if inSpan && s.At.After(t.LastAt.Add(-seconds(windowSeconds(th)))) {
		used = true
		if e, ok := windowEntry(s, isLoaded(s, th)); ok {
			t.Window.prepare(windowSeconds(th)+1, floorMilli(th), true)
			t.Window.insert(e)
		}
	}
	if t.fillGaps(s.At, th) {
		used = true
	}
	if used {
		t.Stats.Late++
	} else {
		t.Stats.Stale++
	}
	var ch []Change
	t.touch(arrival, &ch)
	t.judgeGaps(arrival, th, &ch)
	return ch
}

// touch advances the liveness clock and closes the offline alarm.
func (t *Truck) touch(arrival time.Time, ch *[]Change) {
	if !arrival.After(t.LastArrival) {
		return
	}
	t.LastArrival = arrival
	if i := t.find(KindOfflineWhileMoving); i >= 0 {
		at := arrival
		if at.Before(t.Open[i].OpenedAt) {
			at = t.Open[i].OpenedAt
		}
		t.resolve(i, at, ClosedByRule, "data arrived", ch)
	}
}

// Sweep runs the time-driven rules at instant now: it opens the offline
// alarm when nothing arrived for longer than OfflineAfterSeconds while the
// last known speed was moving, and opens the data-gap alarm for gaps whose
// grace period expired unfilled. The service calls it periodically (e.g.
// every minute) for every truck.
func (t *Truck) Sweep(now time.Time, th Thresholds) []Change {
	now = now.UTC()
	var ch []Change
	if !t.LastArrival.IsZero() && now.Sub(t.LastArrival) > seconds(th.OfflineAfterSeconds) &&
		moving(t.Last.Speed, th) && t.find(KindOfflineWhileMoving) < 0 {
		silent := now.Sub(t.LastArrival)
		t.raise(Alarm{
			Kind:     KindOfflineWhileMoving,
			OpenedAt: now,
			Message: fmt.Sprintf("terminal silent for %s while the truck was moving at %.1f km/h",
				silent.Round(time.Second), t.Last.Speed.V),
			Evidence: Evidence{
				From:         t.LastArrival,
				To:           now,
				SpeedKmh:     t.Last.Speed,
				FromPosition: t.LastPosition,
				Limit:        Of(float64(th.OfflineAfterSeconds)),
			},
		}, &ch)
	}
	t.judgeGaps(now, th, &ch)
	return ch
}

// ObserveRemoval feeds an anti-tamper / removal alarm (command 0x06). It
// opens KindTamperRemovalAlarm, or counts one more event on the open alarm.
// An event not newer than the last one is a duplicate and ignored.
func (t *Truck) ObserveRemoval(e RemovalEvent, th Thresholds) []Change {
	at, arrival, ok := t.admit(e.VIN, e.At, e.ReceivedAt, th)
	if !ok {
		return nil
	}
	if !at.After(t.LastRemovalAt) {
		t.Stats.Duplicates++
		return nil
	}
	t.LastRemovalAt = at
	t.unsigned = e.Unsigned
	var ch []Change
	t.touch(arrival, &ch)
	var pos Position
	if e.PositionValid {
		pos = Position{Lon: e.Lon, Lat: e.Lat, At: at}
	}
	if i := t.find(KindTamperRemovalAlarm); i >= 0 {
		a := &t.Open[i]
		a.Evidence.Count = max(a.Evidence.Count, 1) + 1
		t.update(i, at, &ch)
		return ch
	}
	serial := e.Serial
	// The position before the event: the last one known, unless that is later than the event
	// (a removal event delivered after frames newer than it), which would not be "from".
	var from Position
	if !t.LastPosition.At.After(at) {
		from = t.LastPosition
	}
	t.raise(Alarm{
		Kind:     KindTamperRemovalAlarm,
		OpenedAt: at,
		Message:  fmt.Sprintf("terminal reported an anti-tamper / removal alarm (serial %d)", e.Serial),
		Evidence: Evidence{FromPosition: from, ToPosition: pos, Serial: &serial, Count: 1},
	}, &ch)
	return ch
}

// Close closes the open alarm of the given kind by hand, at instant at, by
// the named person or system. It returns ErrNotOpen when no such alarm is
// open and ErrBadClose when by is empty or at precedes the opening.
// Rule-closed kinds may be closed by hand too; their rule may reopen them.
func (t *Truck) Close(kind Kind, at time.Time, by string) (Change, error) {
	i := t.find(kind)
	if i < 0 {
		return Change{}, fmt.Errorf("close %s of %s: %w", kind, t.VIN, ErrNotOpen)
	}
	if by == "" || at.IsZero() || at.Before(t.Open[i].OpenedAt) {
		return Change{}, fmt.Errorf("close %s of %s at %s by %q: %w", kind, t.VIN, at, by, ErrBadClose)
	}
	var ch []Change
	t.resolve(i, at.UTC(), by, "closed by "+by, &ch)
	return ch[0], nil
}

// Summary is the state of a truck at a given instant, for status pages and
// the checkpoint verdict.
type Summary struct {
	// VIN identifies the truck.
	VIN string `json:"vin"`
	// Online is true when something arrived within OfflineAfterSeconds.
	Online bool `json:"online"`
	// LastSampleAt is the collection instant of the newest sample.
	LastSampleAt time.Time `json:"last_sample_at,omitzero"`
	// LastArrivalAt is the newest arrival instant.
	LastArrivalAt time.Time `json:"last_arrival_at,omitzero"`
	// LastPosition is the newest plausible valid position.
	LastPosition Position `json:"last_position,omitzero"`
	// Last holds the newest values.
	Last Sample `json:"last"`
	// MIL is the last known MIL status.
	MIL MIL `json:"mil"`
	// FaultCodes are the last reported fault codes.
	FaultCodes []uint32 `json:"fault_codes"`
	// OpenAlarms are the open alarms, oldest first.
	OpenAlarms []Alarm `json:"open_alarms"`
	// ExemptionEligible reports eligibility for exemption from the
	// periodic on-line test.
	ExemptionEligible bool `json:"exemption_eligible"`
	// EligibleSince is when it became eligible.
	EligibleSince time.Time `json:"eligible_since,omitzero"`
	// CleanSince is when the current alarm-free period began (zero while
	// an alarm is open).
	CleanSince time.Time `json:"clean_since,omitzero"`
	// CleanLoadedSamples counts loaded samples since CleanSince.
	CleanLoadedSamples int64 `json:"clean_loaded_samples"`
	// Stats counts what happened to the input.
	Stats Stats `json:"stats"`
}

// Summary returns the truck's state at instant now. The result shares
// nothing with the truck.
func (t *Truck) Summary(now time.Time, th Thresholds) Summary {
	open := make([]Alarm, len(t.Open))
	for i, a := range t.Open {
		open[i] = a.clone()
	}
	return Summary{
		VIN:                t.VIN,
		Online:             !t.LastArrival.IsZero() && now.Sub(t.LastArrival) <= seconds(th.OfflineAfterSeconds),
		LastSampleAt:       t.LastAt,
		LastArrivalAt:      t.LastArrival,
		LastPosition:       t.LastPosition,
		Last:               t.Last,
		MIL:                t.MIL,
		FaultCodes:         slices.Clone(t.FaultCodes),
		OpenAlarms:         open,
		ExemptionEligible:  t.Exemption.Eligible,
		EligibleSince:      t.Exemption.EligibleSince,
		CleanSince:         t.Exemption.CleanSince,
		CleanLoadedSamples: t.Exemption.LoadedSamples,
		Stats:              t.Stats,
	}
}

// IsOpen reports whether an alarm of kind k is open.
func (t *Truck) IsOpen(k Kind) bool { return t.find(k) >= 0 }

// find returns the index of the open alarm of kind k, or -1.
func (t *Truck) find(k Kind) int {
	for i := range t.Open {
		if t.Open[i].Kind == k {
			return i
		}
	}
	return -1
}

// raise opens alarm a, stops the exemption clock and revokes eligibility.
func (t *Truck) raise(a Alarm, ch *[]Change) {
	a.Unsigned = t.unsigned
	t.Open = append(t.Open, a)
	*ch = append(*ch, Change{Op: OpOpened, At: a.OpenedAt, VIN: t.VIN, Alarm: a.clone()})
	ex := &t.Exemption
	if ex.Eligible {
		*ch = append(*ch, Change{Op: OpExemptionRevoked, At: a.OpenedAt, VIN: t.VIN, Alarm: a.clone()})
	}
	*ex = Exemption{}
}

// update reports the grown evidence of open alarm i.
func (t *Truck) update(i int, at time.Time, ch *[]Change) {
	t.Open[i].Unsigned = t.Open[i].Unsigned && t.unsigned
	*ch = append(*ch, Change{Op: OpUpdated, At: at, VIN: t.VIN, Alarm: t.Open[i].clone()})
}

// resolve closes open alarm i; closing the last one restarts the exemption
// clock.
func (t *Truck) resolve(i int, at time.Time, by, reason string, ch *[]Change) {
	a := t.Open[i]
	a.ClosedAt, a.ClosedBy, a.CloseReason = at, by, reason
	t.Open = slices.Delete(t.Open, i, i+1)
	*ch = append(*ch, Change{Op: OpClosed, At: at, VIN: t.VIN, Alarm: a})
	if len(t.Open) == 0 {
		t.Exemption = Exemption{CleanSince: at}
	}
}

// clone returns a copy of a that shares no memory with it.
func (a Alarm) clone() Alarm {
	a.Evidence.FaultCodes = slices.Clone(a.Evidence.FaultCodes)
	if a.Evidence.Serial != nil {
		s := *a.Evidence.Serial
		a.Evidence.Serial = &s
	}
	return a
}

// exemptionStep runs the exemption clock on an in-order sample.
func (t *Truck) exemptionStep(at time.Time, loaded bool, th Thresholds, ch *[]Change) {
	ex := &t.Exemption
	if len(t.Open) > 0 || t.unsigned {
		return // unsigned data never earns an exemption
	}
	if ex.CleanSince.IsZero() {
		ex.CleanSince = at
	}
	if loaded {
		ex.LoadedSamples++
	}
	if !ex.Eligible && at.Sub(ex.CleanSince) >= time.Duration(th.ExemptionDays)*24*time.Hour &&
		ex.LoadedSamples >= th.ExemptionMinLoadedSamples {
		ex.Eligible, ex.EligibleSince = true, at
		*ch = append(*ch, Change{Op: OpExemptionGained, At: at, VIN: t.VIN})
	}
}
