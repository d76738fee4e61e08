package detect

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/clearsky/clearsky/libs/localtime"
)

// isLoaded reports whether the engine is loaded: engine speed above idle
// and SCR inlet above the dosing temperature, both available.
func isLoaded(s *Sample, th Thresholds) bool {
	rpm, ok1 := s.EngineSpeed.Get()
	inlet, ok2 := s.SCRInletTemp.Get()
	return ok1 && ok2 && rpm > th.IdleRPM && inlet > th.SCRInletMinC
}

// moving reports whether speed v is known and above the moving threshold.
func moving(v Value, th Thresholds) bool { return v.OK && v.V > th.MovingAboveKmh }

// inNOxRange reports whether v is an available NOx value within the sensor
// range.
func inNOxRange(v Value) bool { return v.OK && v.V >= noxMinPPM && v.V <= noxMaxPPM }

// windowSeconds returns the window length clamped to the supported range.
func windowSeconds(th Thresholds) int { return min(max(th.WindowSeconds, 10), maxWindowSeconds) }

// floorMilli returns the upstream floor in thousandths of a ppm.
func floorMilli(th Thresholds) int32 {
	return toMilli(min(max(th.SCRUpstreamFloorPPM, 0), noxMaxPPM))
}

// windowEntry returns the window entry of a sample, if it belongs in the
// window: loaded, with an in-range downstream NOx.
func windowEntry(s *Sample, loaded bool) (WindowEntry, bool) {
	if !loaded || !inNOxRange(s.NOxDown) {
		return WindowEntry{}, false
	}
	e := WindowEntry{AtMs: s.At.UnixMilli(), Down: toMilli(s.NOxDown.V), Up: naMilli}
	if inNOxRange(s.NOxUp) {
		e.Up = toMilli(s.NOxUp.V)
	}
	return e, true
}

// ruleWindow slides the window to the sample and judges the NOx average and
// the SCR efficiency.
func (t *Truck) ruleWindow(s *Sample, loaded bool, th Thresholds, ch *[]Change) {
	w := &t.Window
	ws := windowSeconds(th)
	e, add := windowEntry(s, loaded)
	w.prepare(ws+1, floorMilli(th), add)
	w.evict(s.At.UnixMilli() - int64(ws)*1000)
	if add {
		w.push(e)
	}
	if w.Len == 0 {
		return
	}
	from := time.UnixMilli(w.at(0).AtMs).UTC()

	if avg, n := w.noxAvg(); n >= th.WindowMinSamples {
		i := t.find(KindNOxExceedance)
		switch {
		case i < 0 && avg > th.NOxLimitPPM:
			t.raise(Alarm{
				Kind:     KindNOxExceedance,
				OpenedAt: s.At,
				Message: fmt.Sprintf("downstream NOx averaged %.1f ppm over %d loaded samples in %d s, above %g ppm",
					avg, n, ws, th.NOxLimitPPM),
				Evidence: Evidence{Samples: n, WindowSeconds: ws, NOxDownAvgPPM: Of(avg),
					Limit: Of(th.NOxLimitPPM), From: from, To: s.At},
			}, ch)
		case i >= 0 && avg <= th.NOxLimitPPM-th.NOxHysteresisPPM:
			t.resolve(i, s.At, ClosedByRule, fmt.Sprintf("downstream NOx averaged %.1f ppm over %d loaded samples, at or below %g ppm",
				avg, n, th.NOxLimitPPM-th.NOxHysteresisPPM), ch)
		}
	}

	if pct, up, down, n := w.efficiency(); n >= th.WindowMinSamples && up > 0 {
		i := t.find(KindSCREfficiencyLow)
		switch {
		case i < 0 && pct < th.SCREfficiencyMinPct:
			t.raise(Alarm{
				Kind:     KindSCREfficiencyLow,
				OpenedAt: s.At,
				Message: fmt.Sprintf("SCR conversion efficiency %.1f %% over %d loaded samples in %d s (upstream %.1f ppm, downstream %.1f ppm), below %g %%",
					pct, n, ws, up, down, th.SCREfficiencyMinPct),
				Evidence: Evidence{Samples: n, WindowSeconds: ws, EfficiencyPct: Of(pct), NOxUpAvgPPM: Of(up),
					NOxDownAvgPPM: Of(down), Limit: Of(th.SCREfficiencyMinPct), From: from, To: s.At},
			}, ch)
		case i >= 0 && pct >= th.SCREfficiencyMinPct+th.SCREfficiencyHysteresisPct:
			t.resolve(i, s.At, ClosedByRule, fmt.Sprintf("SCR conversion efficiency %.1f %% over %d loaded samples, at or above %g %%",
				pct, n, th.SCREfficiencyMinPct+th.SCREfficiencyHysteresisPct), ch)
		}
	}
}

// ruleReagent opens the reagent alarm on an empty tank and closes it on a
// refill.
func (t *Truck) ruleReagent(s *Sample, th Thresholds, ch *[]Change) {
	r, ok := s.Reagent.Get()
	if !ok {
		return
	}
	i := t.find(KindReagentEmpty)
	switch {
	case i < 0 && r <= th.ReagentEmptyPct:
		t.raise(Alarm{
			Kind:     KindReagentEmpty,
			OpenedAt: s.At,
			Message:  fmt.Sprintf("reagent (urea) tank at %g %%", r),
			Evidence: Evidence{Value: Of(r), Limit: Of(th.ReagentEmptyPct)},
		}, ch)
	case i >= 0 && r >= th.ReagentRefillPct:
		t.resolve(i, s.At, ClosedByRule, fmt.Sprintf("reagent refilled to %g %%", r), ch)
	}
}

// ruleOBD follows the MIL and the fault codes of the frame's OBD item.
func (t *Truck) ruleOBD(s *Sample, ch *[]Change) {
	switch s.MIL {
	case MILOn:
		t.MIL = MILOn
		if t.find(KindMILOn) < 0 {
			t.raise(Alarm{Kind: KindMILOn, OpenedAt: s.At, Message: "malfunction indicator lamp on"}, ch)
		}
	case MILOff:
		t.MIL = MILOff
		if i := t.find(KindMILOn); i >= 0 {
			t.resolve(i, s.At, ClosedByRule, "malfunction indicator lamp off", ch)
		}
	}

	codes := s.FaultCodes
	if codes == nil {
		return
	}
	if t.FaultCodes == nil {
		t.FaultCodes = make([]uint32, 0, len(codes))
	}
	t.FaultCodes = append(t.FaultCodes[:0], codes...)
	i := t.find(KindFaultCodes)
	switch {
	case len(codes) == 0:
		if i >= 0 {
			t.resolve(i, s.At, ClosedByRule, "no fault codes reported", ch)
		}
	case i < 0:
		list := addCodes(nil, codes)
		t.raise(Alarm{
			Kind:     KindFaultCodes,
			OpenedAt: s.At,
			Message:  fmt.Sprintf("OBD reports %d fault code(s): %s", len(list), formatCodes(list)),
			Evidence: Evidence{FaultCodes: list},
		}, ch)
	default:
		a := &t.Open[i]
		if list := addCodes(a.Evidence.FaultCodes, codes); len(list) > len(a.Evidence.FaultCodes) {
			a.Evidence.FaultCodes = list
			a.Message = fmt.Sprintf("OBD reports %d fault code(s): %s", len(a.Evidence.FaultCodes), formatCodes(a.Evidence.FaultCodes))
			t.update(i, s.At, ch)
		}
	}
}

// maxEvidenceCodes bounds the fault codes kept as evidence (the frame's
// count byte allows 253).
const maxEvidenceCodes = 253

// addCodes appends to list the codes it does not hold yet. It does not
// allocate when there is nothing to add.
func addCodes(list, codes []uint32) []uint32 {
	for _, c := range codes {
		if len(list) < maxEvidenceCodes && !slices.Contains(list, c) {
			list = append(list, c)
		}
	}
	return list
}

// formatCodes renders fault codes as 8 hex digits each.
func formatCodes(codes []uint32) string {
	b := make([]byte, 0, len(codes)*9)
	for i, c := range codes {
		if i > 0 {
			b = append(b, ' ')
		}
		b = fmt.Appendf(b, "%08X", c)
	}
	return string(b)
}

// ruleFlatline detects a downstream NOx sensor stuck on one value while
// the engine works. Idle samples neither count nor break a run; a loaded
// sample with another value or no value starts over.
func (t *Truck) ruleFlatline(s *Sample, loaded bool, th Thresholds, ch *[]Change) {
	if !loaded {
		return
	}
	f := &t.Flatline
	d, ok := s.NOxDown.Get()
	if !ok {
		*f = FlatlineRun{}
		return
	}
	rpm := s.EngineSpeed.V
	if f.Run > 0 && d == f.Value {
		f.Run++
		f.RPMMin, f.RPMMax = min(f.RPMMin, rpm), max(f.RPMMax, rpm)
	} else {
		*f = FlatlineRun{Value: d, Run: 1, Since: s.At, RPMMin: rpm, RPMMax: rpm}
	}
	if f.Run >= th.FlatlineSamples && f.RPMMax-f.RPMMin >= th.FlatlineMinRPMSpread && t.find(KindTamperNOxFlatline) < 0 {
		t.raise(Alarm{
			Kind:     KindTamperNOxFlatline,
			OpenedAt: s.At,
			Message: fmt.Sprintf("downstream NOx stuck at %g ppm for %d loaded samples while engine speed ranged %.0f-%.0f rpm",
				d, f.Run, f.RPMMin, f.RPMMax),
			Evidence: Evidence{Samples: f.Run, Value: Of(d), EngineSpeedMinRPM: Of(f.RPMMin),
				EngineSpeedMaxRPM: Of(f.RPMMax), From: f.Since, To: s.At},
		}, ch)
		// A new alarm, once the bureau closed this one, needs a full run.
		*f = FlatlineRun{}
	}
}

// Plausibility checks, in the order of Truck.Implausible.
const (
	chkSpeed = iota
	chkEngineSpeed
	chkCoolant
	chkReagent
	chkFuel
	chkNOx
	chkPosition
	chkNOxDownAboveUp
	numChecks
)

// checkNames are the Evidence.Field of each check.
var checkNames = [numChecks]string{
	"speed_kmh", "engine_speed_rpm", "coolant_c", "reagent_pct", "fuel_level_pct",
	"nox_ppm", "position", "nox_down_above_up",
}

// rulePlausible runs the plausibility checks. Each value the codec can
// produce is already within its encoding range, so these look for values a
// working truck cannot have (REST input is not range-limited at all):
//
//   - speed_kmh: below 0 or above MaxSpeedKmh (heavy trucks are limited to
//     about 90-100 km/h);
//   - engine_speed_rpm: below 0 or above MaxEngineRPM (heavy diesels are
//     governed near 2 500 rpm);
//   - coolant_c: above MaxCoolantC while the engine turns (the pressurised
//     circuit boils near 125 C);
//   - reagent_pct, fuel_level_pct: below 0 or above 100 % (the encoding
//     reaches 101.6 %);
//   - nox_ppm: upstream or downstream outside the sensor range -200 to
//     3012.75 ppm;
//   - position: a valid fix outside +-90 latitude or +-180 longitude;
//   - nox_down_above_up: on a loaded sample, downstream NOx above upstream by
//     more than NOxDownAboveUpMarginPPM (swapped or spoofed sensors).
//
// The first five need OutOfRangeSamples consecutive failures (one glitch is
// not tampering); the last needs NOxDownAboveUpSamples consecutive loaded
// samples, idle samples neither counting nor breaking the run.
func (t *Truck) rulePlausible(s *Sample, loaded bool, th Thresholds, ch *[]Change) {
	need := th.OutOfRangeSamples
	v, ok := s.Speed.Get()
	t.check(s, chkSpeed, ok && (v < 0 || v > th.MaxSpeedKmh), v, bound(v, 0, th.MaxSpeedKmh), need, ch)
	rpm, rpmOK := s.EngineSpeed.Get()
	t.check(s, chkEngineSpeed, rpmOK && (rpm < 0 || rpm > th.MaxEngineRPM), rpm, bound(rpm, 0, th.MaxEngineRPM), need, ch)
	v, ok = s.Coolant.Get()
	t.check(s, chkCoolant, ok && rpmOK && rpm > 0 && v > th.MaxCoolantC, v, th.MaxCoolantC, need, ch)
	v, ok = s.Reagent.Get()
	t.check(s, chkReagent, ok && (v < 0 || v > 100), v, bound(v, 0, 100), need, ch)
	v, ok = s.FuelLevel.Get()
	t.check(s, chkFuel, ok && (v < 0 || v > 100), v, bound(v, 0, 100), need, ch)

	bad, v := false, 0.0
	for _, x := range [2]Value{s.NOxUp, s.NOxDown} {
		if x.OK && !inNOxRange(x) {
			bad, v = true, x.V
		}
	}
	t.check(s, chkNOx, bad, v, bound(v, noxMinPPM, noxMaxPPM), need, ch)

	bad, v = false, 0
	lim := 0.0
	if s.PositionValid {
		switch {
		case math.IsNaN(s.Lat) || math.Abs(s.Lat) > 90:
			bad, v, lim = true, s.Lat, 90
		case math.IsNaN(s.Lon) || math.Abs(s.Lon) > 180:
			bad, v, lim = true, s.Lon, 180
		}
	}
	t.check(s, chkPosition, bad, v, lim, need, ch)

	up, down := s.NOxUp, s.NOxDown
	if loaded && inNOxRange(up) && inNOxRange(down) {
		diff := down.V - up.V
		t.check(s, chkNOxDownAboveUp, diff > th.NOxDownAboveUpMarginPPM, diff,
			th.NOxDownAboveUpMarginPPM, th.NOxDownAboveUpSamples, ch)
	}
}

// bound returns the bound v violates: lo when below it, else hi.
func bound(v, lo, hi float64) float64 {
	if v < lo {
		return lo
	}
	return hi
}

// check counts a failure of plausibility check c and opens the
// out-of-range alarm after need consecutive ones.
func (t *Truck) check(s *Sample, c int, bad bool, v, limit float64, need int, ch *[]Change) {
	if !bad {
		t.Implausible[c] = 0
		return
	}
	t.Implausible[c] = min(t.Implausible[c]+1, need)
	if t.Implausible[c] < need || t.find(KindTamperOutOfRange) >= 0 {
		return
	}
	t.raise(Alarm{
		Kind:     KindTamperOutOfRange,
		OpenedAt: s.At,
		Message:  fmt.Sprintf("implausible %s %g (limit %g) on %d consecutive samples", checkNames[c], v, limit, need),
		Evidence: Evidence{Field: checkNames[c], Value: Of(v), Limit: Of(limit), Samples: need},
	}, ch)
	t.Implausible[c] = 0
}

// rulePosition detects impossible jumps between consecutive valid
// positions. Fixes at exactly (0, 0) are terminals' "no fix yet" and are
// skipped, as are fixes outside the coordinate ranges.
func (t *Truck) rulePosition(s *Sample, th Thresholds, ch *[]Change) {
	if !s.PositionValid || !(math.Abs(s.Lat) <= 90 && math.Abs(s.Lon) <= 180) || (s.Lat == 0 && s.Lon == 0) {
		return
	}
	p := Position{Lon: s.Lon, Lat: s.Lat, At: s.At}
	prev := t.LastPosition
	t.LastPosition = p
	if prev.At.IsZero() {
		return
	}
	hours := p.At.Sub(prev.At).Hours()
	if hours <= 0 || t.find(KindTamperPositionJump) >= 0 {
		return
	}
	// Cheap upper bound of the distance (along a meridian, then along the
	// equator): most consecutive fixes are metres apart and need no
	// trigonometry.
	dLon := math.Abs(p.Lon - prev.Lon)
	if dLon > 180 {
		dLon = 360 - dLon
	}
	bound := (math.Abs(p.Lat-prev.Lat) + dLon) * math.Pi / 180 * earthRadiusKm
	if bound < th.PositionJumpMinKm || bound/hours <= th.PositionJumpKmh {
		return
	}
	km := haversineKm(prev, p)
	if km < th.PositionJumpMinKm || km/hours <= th.PositionJumpKmh {
		return
	}
	t.raise(Alarm{
		Kind:     KindTamperPositionJump,
		OpenedAt: s.At,
		Message: fmt.Sprintf("position jumped %.2f km in %s (%.0f km/h)",
			km, p.At.Sub(prev.At), km/hours),
		Evidence: Evidence{FromPosition: prev, ToPosition: p, DistanceKm: Of(km),
			ImpliedSpeedKmh: Of(km / hours), Limit: Of(th.PositionJumpKmh)},
	}, ch)
}

// ruleGap notes a data gap between the previous in-order sample and s
// when the truck moved on both sides; the gap waits for reissued samples.
func (t *Truck) ruleGap(s *Sample, arrival time.Time, th Thresholds, ch *[]Change) {
	if t.LastAt.IsZero() || s.At.Sub(t.LastAt) <= seconds(th.DataGapSeconds) ||
		!moving(t.Last.Speed, th) || !moving(s.Speed, th) {
		return
	}
	t.Gaps = append(t.Gaps, PendingGap{
		From: t.LastAt, To: s.At, DetectedAt: arrival, Cursor: t.LastAt,
		SpeedBefore: t.Last.Speed, SpeedAfter: s.Speed,
	})
	if len(t.Gaps) > maxPendingGaps {
		t.reportGap(0, arrival, ch)
	}
}

// fillGaps lets a late sample at instant at fill the pending gap holding
// it, and reports whether it did. Reissued samples are consumed in time
// order: one not after the gap's cursor is a repeat and is ignored.
func (t *Truck) fillGaps(at time.Time, th Thresholds) bool {
	limit := seconds(th.DataGapSeconds)
	for i := range t.Gaps {
		g := &t.Gaps[i]
		if !at.After(g.From) || !at.Before(g.To) {
			continue
		}
		if !at.After(g.Cursor) {
			return false
		}
		if at.Sub(g.Cursor) > limit {
			g.Holed = true
		}
		g.Cursor = at
		if !g.Holed && g.To.Sub(at) <= limit {
			t.Gaps = slices.Delete(t.Gaps, i, i+1)
		}
		return true
	}
	return false
}

// judgeGaps reports the pending gaps whose grace period ended by now.
func (t *Truck) judgeGaps(now time.Time, th Thresholds, ch *[]Change) {
	for i := 0; i < len(t.Gaps); {
		if now.Sub(t.Gaps[i].DetectedAt) >= seconds(th.DataGapGraceSeconds) {
			t.reportGap(i, now, ch)
			continue
		}
		i++
	}
}

// reportGap removes pending gap i and opens the data-gap alarm for it, or
// counts it on the open one.
func (t *Truck) reportGap(i int, now time.Time, ch *[]Change) {
	g := t.Gaps[i]
	t.Gaps = slices.Delete(t.Gaps, i, i+1)
	if j := t.find(KindDataGap); j >= 0 {
		a := &t.Open[j]
		a.Evidence.Count = max(a.Evidence.Count, 1) + 1
		t.update(j, now, ch)
		return
	}
	t.raise(Alarm{
		Kind:     KindDataGap,
		OpenedAt: now,
		Message: fmt.Sprintf("no data for %s between %s and %s while moving (%.1f then %.1f km/h), not filled by reissued data",
			g.To.Sub(g.From), localtime.Format(g.From), localtime.Format(g.To), g.SpeedBefore.V, g.SpeedAfter.V),
		Evidence: Evidence{From: g.From, To: g.To, SpeedKmh: g.SpeedBefore, SpeedAfterKmh: g.SpeedAfter, Count: 1},
	}, ch)
}
