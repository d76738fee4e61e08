package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestDataGap(t *testing.T) {
	th := DefaultThresholds() // gap > 60 s, grace 900 s
	gapAfter := func(n, gap int) []Sample {
		return concat(series(0, n, nil), series(n-1+gap, 10, nil))
	}
	reissue := func(from, to int) []Sample { return series(from, to-from, nil) }
	cases := []struct {
		name     string
		samples  []Sample
		late     []Sample      // reissued samples sent after the stream
		sweepAt  time.Duration // after the sample that ended the gap
		wantOpen bool
	}{
		{"61 s gap while moving, before the grace: pending", gapAfter(30, 61), nil, 899 * time.Second, false},
		{"61 s gap while moving, grace over: alarm", gapAfter(30, 61), nil, 900 * time.Second, true},
		{"60 s gap is allowed", gapAfter(30, 60), nil, time.Hour, false},
		{"stopped before the gap", func() []Sample {
			s := gapAfter(30, 600)
			s[29].Speed = Of(0)
			return s
		}(), nil, time.Hour, false},
		{"stopped after the gap", func() []Sample {
			s := gapAfter(30, 600)
			s[30].Speed = Of(0)
			return s
		}(), nil, time.Hour, false},
		{"ten minute gap filled by reissued samples", gapAfter(30, 600), reissue(30, 629), time.Hour, false},
		{"filled twice over (reissue repeated)", gapAfter(30, 600),
			concat(reissue(30, 629), reissue(30, 629)), time.Hour, false},
		{"filled with one sample a minute", gapAfter(30, 600), series(60, 10, func(i int, s *Sample) {
			s.At = at(29 + 60*(i+1))
		}), time.Hour, false},
		{"partial reissue repeated, then the rest", gapAfter(30, 600),
			concat(reissue(30, 300), reissue(30, 300), reissue(300, 629)), time.Hour, false},
		{"reissue leaves a 2 minute hole", gapAfter(30, 600),
			concat(reissue(30, 300), reissue(420, 629)), time.Hour, true},
		{"reissue stops short of the end", gapAfter(30, 600), reissue(30, 500), time.Hour, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTruck(testVIN)
			changes := feed(tr, th, tc.samples)
			if got := firstOpen(changes, KindDataGap); got != -1 {
				t.Fatalf("opened at sample %d, want only after the grace", got)
			}
			for _, c := range feed(tr, th, tc.late) {
				t.Fatalf("late sample %d: %v, want no change", c.i, ops([]Change{c.c}))
			}
			end := tc.samples[len(tc.samples)-10].At
			got := tr.Sweep(end.Add(tc.sweepAt), th)
			i := slices.Index(ops(got), "opened data_gap")
			if gotOpen := i >= 0; gotOpen != tc.wantOpen {
				t.Fatalf("sweep: %v, want data_gap opened %v", ops(got), tc.wantOpen)
			}
			if i >= 0 {
				ev := got[i].Alarm.Evidence
				if !ev.From.Equal(tc.samples[29].At) || !ev.To.Equal(end) || ev.SpeedKmh != Of(60) || ev.SpeedAfterKmh != Of(60) {
					t.Errorf("evidence %+v, want gap %s..%s", ev, tc.samples[29].At, end)
				}
			}
			if tc.sweepAt >= seconds(th.DataGapGraceSeconds) && len(tr.Gaps) != 0 {
				t.Errorf("%d gaps still pending after the grace", len(tr.Gaps))
			}
		})
	}
}

func TestDataGapGraceZeroOpensAtOnce(t *testing.T) {
	th := DefaultThresholds()
	th.DataGapGraceSeconds = 0
	samples := concat(series(0, 30, nil), series(100, 10, nil), series(300, 10, nil))
	changes := feed(NewTruck(testVIN), th, samples)
	if got, want := firstOpen(changes, KindDataGap), 30; got != want {
		t.Fatalf("opened at %d, want %d", got, want)
	}
	if got, want := firstOp(changes, OpUpdated, KindDataGap), 40; got != want {
		t.Fatalf("second gap updated at %d, want %d", got, want)
	}
}

func TestRemovalEvent(t *testing.T) {
	th := DefaultThresholds()
	tr := NewTruck(testVIN)
	feed(tr, th, series(0, 10, nil))
	ev := RemovalEvent{VIN: testVIN, At: at(20), Serial: 7, PositionValid: true, Lon: 116.5, Lat: 39.9}
	cases := []struct {
		name string
		ev   RemovalEvent
		want []string
	}{
		{"first event opens", ev, []string{"opened tamper_removal_alarm"}},
		{"same event again is ignored", ev, nil},
		{"older event is ignored", RemovalEvent{VIN: testVIN, At: at(15), Serial: 6}, nil},
		{"another VIN is rejected", RemovalEvent{VIN: "LZZ1BLSB2KA000002", At: at(40), Serial: 9}, nil},
		{"a later event counts on the open alarm", RemovalEvent{VIN: testVIN, At: at(30), Serial: 8}, []string{"updated tamper_removal_alarm"}},
	}
	var last []Change
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tr.ObserveRemoval(tc.ev, th)
			if !slices.Equal(ops(got), tc.want) {
				t.Fatalf("%v, want %v", ops(got), tc.want)
			}
			if len(got) > 0 {
				last = got
			}
		})
	}
	a := last[0].Alarm
	if a.Evidence.Count != 2 || a.Evidence.Serial == nil || *a.Evidence.Serial != 7 || a.Evidence.ToPosition.Lon != 116.5 {
		t.Fatalf("evidence %+v, want count 2, serial 7, position 116.5", a.Evidence)
	}
	feed(tr, th, series(10, 3600, nil))
	if !tr.IsOpen(KindTamperRemovalAlarm) {
		t.Fatal("removal alarm closed by itself")
	}
}

// TestUnsignedAlarm: an alarm opened by unsigned input says so; signed input confirming it
// clears the mark.
func TestUnsignedAlarm(t *testing.T) {
	th := DefaultThresholds()
	tr := NewTruck(testVIN)
	feed(tr, th, series(0, 10, nil))
	ch := tr.ObserveRemoval(RemovalEvent{VIN: testVIN, At: at(20), Serial: 7, Unsigned: true}, th)
	if len(ch) == 0 || !ch[len(ch)-1].Alarm.Unsigned || !tr.Open[0].Unsigned {
		t.Fatalf("removal alarm from unsigned input: %+v", ch)
	}
	tr.ObserveRemoval(RemovalEvent{VIN: testVIN, At: at(30), Serial: 8}, th)
	if tr.Open[0].Unsigned {
		t.Fatal("a signed event confirming the alarm left it marked unsigned")
	}
}

func TestDuplicateAndLateSamples(t *testing.T) {
	th := DefaultThresholds()
	hot := func(_ int, s *Sample) { s.NOxUp, s.NOxDown = Of(3000), Of(900) }
	// 58 loaded samples at 0..58 without second 30: one short of judging.
	stream := slices.Delete(series(0, 59, hot), 30, 31)
	late30 := series(30, 1, hot)[0]

	t.Run("exact duplicate is ignored", func(t *testing.T) {
		tr := NewTruck(testVIN)
		feed(tr, th, stream)
		if got := tr.Observe(stream[len(stream)-1], th); got != nil {
			t.Fatalf("duplicate: %v", ops(got))
		}
		if got, want := tr.Window.Len, 58; got != want {
			t.Fatalf("window %d, want %d", got, want)
		}
		if got, want := tr.Stats.Duplicates, int64(1); got != want {
			t.Fatalf("duplicates %d, want %d", got, want)
		}
	})
	t.Run("late sample inside the window counts once and opens nothing itself", func(t *testing.T) {
		tr := NewTruck(testVIN)
		feed(tr, th, stream)
		for range 3 { // a reissue delivered three times
			if got := tr.Observe(late30, th); got != nil {
				t.Fatalf("late sample: %v, want no change", ops(got))
			}
		}
		if got, want := tr.Window.Len, 59; got != want {
			t.Fatalf("window %d, want %d", got, want)
		}
		if got, want := tr.Stats, (Stats{Accepted: 58, Late: 1, Duplicates: 2}); got != want {
			t.Fatalf("stats %+v, want %+v", got, want)
		}
		got := tr.Observe(series(59, 1, hot)[0], th)
		if !slices.Contains(ops(got), "opened nox_exceedance") {
			t.Fatalf("next sample: %v, want the alarm judged on 60 samples", ops(got))
		}
		for i := 0; i < tr.Window.Len; i++ {
			if i > 0 && tr.Window.at(i).AtMs <= tr.Window.at(i-1).AtMs {
				t.Fatalf("window out of order at %d", i)
			}
		}
	})
	t.Run("late sample older than the window is ignored", func(t *testing.T) {
		tr := NewTruck(testVIN)
		feed(tr, th, slices.Delete(series(0, 400, nil), 50, 51))
		old := series(50, 1, hot)[0] // never seen, but 349 s old
		tr.Observe(old, th)
		if got, want := tr.Stats.Stale, int64(1); got != want {
			t.Fatalf("stale %d, want %d", got, want)
		}
		if got, want := tr.Window.Len, 300; got != want {
			t.Fatalf("window %d, want %d", got, want)
		}
	})
	t.Run("late samples do not re-fire closed alarms", func(t *testing.T) {
		tr := NewTruck(testVIN)
		stream := series(0, 20, func(i int, s *Sample) {
			switch {
			case i == 5:
				s.Reagent, s.MIL = Of(0), MILOn
			case i > 5 && i < 10:
				s.Reagent = Of(0)
			case i >= 10:
				s.Reagent, s.MIL = Of(60), MILOff
			}
		})
		feed(tr, th, stream)
		for _, s := range stream[5:10] {
			s.At = s.At.Add(500 * time.Millisecond) // not a duplicate second... still late
			if got := tr.Observe(s, th); got != nil {
				t.Fatalf("late sample: %v, want nothing", ops(got))
			}
		}
		if len(tr.Open) != 0 {
			t.Fatalf("open %v, want none", openKinds(tr))
		}
	})
	t.Run("another VIN, no time, clock far ahead are rejected", func(t *testing.T) {
		tr := NewTruck(testVIN)
		other := base(1)
		other.VIN = "LZZ1BLSB2KA000002"
		notime := base(2)
		notime.At = time.Time{}
		ahead := base(3)
		ahead.ReceivedAt = ahead.At.Add(-11 * time.Minute)
		for _, s := range []Sample{other, notime, ahead} {
			tr.Observe(s, th)
		}
		if got, want := tr.Stats, (Stats{Rejected: 3}); got != want || !tr.LastAt.IsZero() {
			t.Fatalf("stats %+v last %s, want %+v and nothing accepted", got, tr.LastAt, want)
		}
	})
}

func TestExemption(t *testing.T) {
	th := DefaultThresholds()
	th.ExemptionDays = 1
	th.ExemptionMinLoadedSamples = 1000
	th.DataGapSeconds = 3600 // samples a minute apart below
	minute := func(from, n int, f func(int, *Sample)) []Sample {
		out := series(0, n, f)
		for i := range out {
			out[i].At = at(60 * (from + i))
		}
		return out
	}
	t.Run("eligible after a clean day with enough loaded samples", func(t *testing.T) {
		tr := NewTruck(testVIN)
		changes := feed(tr, th, minute(0, 1500, nil))
		if got, want := firstOp(changes, OpExemptionGained, ""), 1440; got != want {
			t.Fatalf("gained at %d, want %d", got, want)
		}
		sum := tr.Summary(at(60*1500), th)
		if !sum.ExemptionEligible || !sum.EligibleSince.Equal(at(60*1440)) || !sum.CleanSince.Equal(at(0)) {
			t.Fatalf("summary %+v", sum)
		}
	})
	t.Run("unsigned data never earns it", func(t *testing.T) {
		tr := NewTruck(testVIN)
		changes := feed(tr, th, minute(0, 3000, func(_ int, s *Sample) { s.Unsigned = true }))
		if got := firstOp(changes, OpExemptionGained, ""); got != -1 {
			t.Fatalf("an unsigned clean stream gained the exemption at sample %d", got)
		}
		// Signed data from then on does: a day of it, with enough loaded samples.
		tr = NewTruck(testVIN)
		mixed := minute(0, 3000, func(i int, s *Sample) { s.Unsigned = i < 1500 })
		changes = feed(tr, th, mixed)
		if got := firstOp(changes, OpExemptionGained, ""); got < 1500+1440 {
			t.Fatalf("gained at sample %d; the clock must start with the first signed sample (1500) and run a day", got)
		}
	})
	t.Run("not enough loaded samples", func(t *testing.T) {
		tr := NewTruck(testVIN)
		changes := feed(tr, th, minute(0, 3000, func(i int, s *Sample) {
			if i%3 != 0 {
				s.EngineSpeed = Of(0)
			}
		}))
		if got, want := firstOp(changes, OpExemptionGained, ""), 2997; got != want {
			t.Fatalf("gained at %d, want %d (the 1000th loaded sample)", got, want)
		}
	})
	t.Run("an alarm revokes it and the clock restarts when it closes", func(t *testing.T) {
		tr := NewTruck(testVIN)
		changes := feed(tr, th, minute(0, 4000, func(i int, s *Sample) {
			switch {
			case i >= 2000 && i < 2010:
				s.Reagent = Of(0)
			case i == 1600:
				s.MIL = MILOn
			case i == 1700:
				s.MIL = MILOff
			}
		}))
		want := []struct {
			i  int
			op Op
			k  Kind
		}{
			{1440, OpExemptionGained, ""},
			{1600, OpOpened, KindMILOn},
			{1600, OpExemptionRevoked, KindMILOn},
			{1700, OpClosed, KindMILOn},
			{2000, OpOpened, KindReagentEmpty},
			{2010, OpClosed, KindReagentEmpty},
			{2010 + 1440, OpExemptionGained, ""},
		}
		if len(changes) != len(want) {
			t.Fatalf("%d changes %v, want %d", len(changes), changes, len(want))
		}
		if sum := tr.Summary(at(60*4000), th); !sum.ExemptionEligible || !sum.EligibleSince.Equal(at(60*(2010+1440))) {
			t.Errorf("summary eligible %v since %s, want since %s", sum.ExemptionEligible, sum.EligibleSince, at(60*(2010+1440)))
		}
		mid := NewTruck(testVIN)
		feed(mid, th, minute(0, 2005, func(i int, s *Sample) {
			if i >= 2000 {
				s.Reagent = Of(0)
			}
		}))
		if sum := mid.Summary(at(60*2005), th); sum.ExemptionEligible || !sum.CleanSince.IsZero() || sum.CleanLoadedSamples != 0 {
			t.Errorf("while an alarm is open: eligible %v clean since %s loaded %d, want not eligible and the clock stopped",
				sum.ExemptionEligible, sum.CleanSince, sum.CleanLoadedSamples)
		}
		for j, w := range want {
			if g := changes[j]; g.i != w.i || g.c.Op != w.op || g.c.Alarm.Kind != w.k {
				t.Errorf("change %d: %d %s %s, want %d %s %s", j, g.i, g.c.Op, g.c.Alarm.Kind, w.i, w.op, w.k)
			}
		}
	})
}

func TestSummary(t *testing.T) {
	th := DefaultThresholds()
	tr := NewTruck(testVIN)
	feed(tr, th, series(0, 10, func(i int, s *Sample) {
		if i == 9 {
			s.MIL, s.FaultCodes = MILOn, []uint32{0x1234}
		}
	}))
	cases := []struct {
		now        time.Time
		wantOnline bool
	}{
		{at(9).Add(10 * time.Minute), true},
		{at(9).Add(10*time.Minute + time.Second), false},
	}
	for _, tc := range cases {
		sum := tr.Summary(tc.now, th)
		if sum.Online != tc.wantOnline {
			t.Errorf("online at %s: %v, want %v", tc.now, sum.Online, tc.wantOnline)
		}
		if len(sum.OpenAlarms) != 2 || sum.MIL != MILOn || !slices.Equal(sum.FaultCodes, []uint32{0x1234}) ||
			!sum.LastSampleAt.Equal(at(9)) || sum.LastPosition.Lon != base(9).Lon || sum.Last.NOxDown != base(9).NOxDown {
			t.Errorf("summary %+v", sum)
		}
	}
	sum := tr.Summary(at(10), th)
	sum.OpenAlarms[1].Evidence.FaultCodes[0] = 0
	sum.FaultCodes[0] = 0
	if tr.Open[1].Evidence.FaultCodes[0] != 0x1234 || tr.FaultCodes[0] != 0x1234 {
		t.Fatal("summary shares memory with the truck")
	}
}

// scenario is a day in the life of a bad truck: every rule fires at least
// once, with sweeps between the samples.
func scenario() []step {
	var steps []step
	add := func(ss []Sample) {
		for _, s := range ss {
			steps = append(steps, step{sample: s})
		}
	}
	add(series(0, 400, func(i int, s *Sample) {
		if i >= 100 && i < 250 {
			s.NOxDown = Of(1500) // NOx, SCR and downstream above upstream
		}
		if i == 50 {
			s.MIL, s.FaultCodes = MILOn, []uint32{0xAB}
		}
		if i == 300 {
			s.MIL, s.FaultCodes = MILOff, []uint32{}
		}
		if i >= 320 {
			s.Reagent = Of(0)
		}
	}))
	steps = append(steps, step{sweep: at(399 + 601)})
	add(series(1100, 300, func(i int, s *Sample) {
		s.Reagent = Of(30)
		if i < 150 {
			s.NOxDown = Of(44.25) // flat-line
		}
		if i == 200 {
			s.Lon += 1 // jump
		}
	}))
	// a reissue of part of the silence, then more data and a late sweep
	add(series(450, 100, nil))
	add(series(1400, 100, func(i int, s *Sample) {
		if i > 50 {
			s.Reagent = Of(103)
		}
	}))
	steps = append(steps, step{sweep: at(1499 + 400)}, step{sweep: at(1499 + 2000)})
	add(series(3600, 200, nil))
	return steps
}

// run applies steps to tr and returns the changes.
func run(tr *Truck, th Thresholds, steps []step) []Change {
	var out []Change
	for _, st := range steps {
		if st.sweep.IsZero() {
			out = append(out, tr.Observe(st.sample, th)...)
		} else {
			out = append(out, tr.Sweep(st.sweep, th)...)
		}
	}
	return out
}

func TestScenarioCoversEveryRule(t *testing.T) {
	th := DefaultThresholds()
	tr := NewTruck(testVIN)
	changes := run(tr, th, scenario())
	tr.ObserveRemoval(RemovalEvent{VIN: testVIN, At: at(4000)}, th)
	seen := map[Kind]bool{}
	for _, c := range changes {
		seen[c.Alarm.Kind] = true
	}
	for _, k := range Kinds() {
		if k != KindTamperRemovalAlarm && !seen[k] {
			t.Errorf("scenario never touched %s", k)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	th := DefaultThresholds()
	steps := scenario()
	whole := NewTruck(testVIN)
	want := run(whole, th, steps)
	wantState, err := json.Marshal(whole)
	if err != nil {
		t.Fatal(err)
	}
	for _, split := range []int{0, 1, 59, 120, 250, 400, 401, 600, 750, 905, 1000, len(steps)} {
		t.Run(fmt.Sprint("split at ", split), func(t *testing.T) {
			first := NewTruck("")
			got := run(first, th, steps[:split])
			b, err := json.Marshal(first)
			if err != nil {
				t.Fatal(err)
			}
			var restored Truck
			if err := json.Unmarshal(b, &restored); err != nil {
				t.Fatal(err)
			}
			got = append(got, run(&restored, th, steps[split:])...)
			if !reflect.DeepEqual(got, want) {
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(want)
				t.Fatalf("changes differ after a restore at %d:\n got %s\nwant %s", split, gb, wb)
			}
			gotState, err := json.Marshal(&restored)
			if err != nil {
				t.Fatal(err)
			}
			if string(gotState) != string(wantState) {
				t.Fatalf("state differs after a restore at %d:\n got %s\nwant %s", split, gotState, wantState)
			}
		})
	}
}

func TestThresholds(t *testing.T) {
	th := DefaultThresholds()
	if err := th.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	b, err := json.Marshal(th)
	if err != nil {
		t.Fatal(err)
	}
	var back Thresholds
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != th {
		t.Fatalf("round trip %+v, want %+v", back, th)
	}
	bad := []func(*Thresholds){
		func(th *Thresholds) { th.WindowSeconds = 5 },
		func(th *Thresholds) { th.WindowMinSamples = 302 },
		func(th *Thresholds) { th.NOxHysteresisPPM = -1 },
		func(th *Thresholds) { th.SCREfficiencyMinPct = 100 },
		func(th *Thresholds) { th.ReagentRefillPct = 0 },
		func(th *Thresholds) { th.FlatlineSamples = 1 },
		func(th *Thresholds) { th.OfflineAfterSeconds = 0 },
	}
	for i, f := range bad {
		th := DefaultThresholds()
		f(&th)
		if err := th.Validate(); !errors.Is(err, ErrInvalidThresholds) {
			t.Errorf("case %d: Validate() = %v, want ErrInvalidThresholds", i, err)
		}
	}
}

func TestSampleJSON(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want func(Sample) bool
	}{
		{"not available is null", `{"nox_down_ppm":null,"speed_kmh":0}`,
			func(s Sample) bool { return !s.NOxDown.OK && s.Speed == Of(0) }},
		{"absent fault codes stay nil", `{"fault_codes":null}`,
			func(s Sample) bool { return s.FaultCodes == nil }},
		{"zero fault codes are empty, not nil", `{"fault_codes":[]}`,
			func(s Sample) bool { return s.FaultCodes != nil && len(s.FaultCodes) == 0 }},
		{"MIL on", `{"mil":"on"}`, func(s Sample) bool { return s.MIL == MILOn }},
		{"MIL missing is unknown", `{}`, func(s Sample) bool { return s.MIL == MILUnknown }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s Sample
			if err := json.Unmarshal([]byte(tc.in), &s); err != nil {
				t.Fatal(err)
			}
			if !tc.want(s) {
				t.Fatalf("decoded %+v", s)
			}
		})
	}
	var s Sample
	if err := json.Unmarshal([]byte(`{"speed_kmh":"fast"}`), &s); err == nil {
		t.Fatal("a string speed decoded")
	}
	if err := json.Unmarshal([]byte(`{"mil":"blinking"}`), &s); err == nil {
		t.Fatal("an unknown MIL decoded")
	}
	in := base(7)
	in.FaultCodes, in.MIL, in.Coolant = []uint32{}, MILOff, NA
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Sample
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip\n got %+v\nwant %+v", out, in)
	}
}

func TestValue(t *testing.T) {
	cases := []struct {
		in      Value
		json    string
		wantStr string
	}{
		{Of(0), "0", "0"},
		{Of(-200), "-200", "-200"},
		{Of(3012.75), "3012.75", "3012.75"},
		{NA, "null", "n/a"},
		{Value{V: 12, OK: false}, "null", "n/a"},
	}
	for _, tc := range cases {
		t.Run(tc.wantStr, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != tc.json {
				t.Fatalf("json %s, want %s", got, tc.json)
			}
			if got := tc.in.String(); got != tc.wantStr {
				t.Fatalf("string %s, want %s", got, tc.wantStr)
			}
		})
	}
	for _, f := range []float64{nan(), inf()} {
		if v := Of(f); v.OK {
			t.Errorf("Of(%v) is available", f)
		}
	}
}

// A removal alarm's from_position comes before its to_position: the last position known before
// the event, never one from frames newer than the event.
func TestRemovalEvidenceInOrder(t *testing.T) {
	th := DefaultThresholds()
	for _, tc := range []struct {
		name     string
		eventAt  int
		wantFrom bool
	}{{"event after the last frame", 120, true}, {"event delivered after newer frames", 50, false}} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTruck(testVIN)
			feed(tr, th, series(0, 100, nil))
			got := tr.ObserveRemoval(RemovalEvent{VIN: testVIN, At: at(tc.eventAt), Serial: 1, PositionValid: true, Lon: 116.3, Lat: 39.8}, th)
			if len(got) != 1 {
				t.Fatalf("changes %v", ops(got))
			}
			ev := got[0].Alarm.Evidence
			if ev.FromPosition.At.After(ev.ToPosition.At) {
				t.Fatalf("from_position at %v after to_position at %v", ev.FromPosition.At, ev.ToPosition.At)
			}
			if tc.wantFrom != !ev.FromPosition.At.IsZero() {
				t.Fatalf("from_position %+v, want it given: %v", ev.FromPosition, tc.wantFrom)
			}
		})
	}
}
