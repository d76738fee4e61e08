package detect

import (
	"slices"
	"testing"
	"time"
)

func TestNOxExceedanceOpens(t *testing.T) {
	high := func(v float64) func(int, *Sample) {
		return func(_ int, s *Sample) { s.NOxDown = Of(v) }
	}
	cases := []struct {
		name    string
		samples []Sample
		want    int // index of the sample that opens the alarm, -1 for none
	}{
		{"window filling: 59 loaded samples are not enough", series(0, 59, high(900)), -1},
		{"60th loaded sample judges and opens", series(0, 80, high(900)), 59},
		{"average exactly at the limit does not open", series(0, 300, high(500)), -1},
		{"average just above the limit opens", series(0, 300, high(500.05)), 59},
		{"engine at idle speed is not loaded", series(0, 300, func(_ int, s *Sample) {
			s.NOxDown, s.EngineSpeed = Of(900), Of(600)
		}), -1},
		{"engine speed not available is not loaded", series(0, 300, func(_ int, s *Sample) {
			s.NOxDown, s.EngineSpeed = Of(900), NA
		}), -1},
		{"SCR inlet at 200 C is not loaded", series(0, 300, func(_ int, s *Sample) {
			s.NOxDown, s.SCRInletTemp = Of(900), Of(200)
		}), -1},
		{"not-available downstream NOx is skipped, not counted as 0", series(0, 300, func(i int, s *Sample) {
			s.NOxDown = Of(900)
			if i%2 == 1 {
				s.NOxDown = NA // 59 valid samples at i=116, the 60th at i=118
			}
		}), 118},
		{"out-of-range downstream NOx is skipped", series(0, 300, func(i int, s *Sample) {
			s.NOxDown = Of(900)
			if i < 100 {
				s.NOxDown = Of(5000)
			}
		}), 159},
		{"loaded samples older than the window do not count", series(0, 600, func(i int, s *Sample) {
			s.NOxDown = Of(900)
			if i%10 != 0 {
				s.EngineSpeed = Of(500) // one loaded sample every 10 s: 30 per window
			}
		}), -1},
	}
	th := DefaultThresholds()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTruck(testVIN)
			changes := feed(tr, th, tc.samples)
			if got := firstOpen(changes, KindNOxExceedance); got != tc.want {
				t.Fatalf("opened at sample %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNOxExceedanceEvidenceAndHysteresis(t *testing.T) {
	th := DefaultThresholds() // limit 500, hysteresis 25: closes at <= 475
	// 300 samples at 600 fill the window; then k samples at 450 give a
	// window average of 600 - 0.5k: 480 at k=240 (still open), 475 at k=250.
	samples := concat(
		series(0, 300, func(_ int, s *Sample) { s.NOxUp, s.NOxDown = Of(2000), Of(600) }),
		series(300, 300, func(_ int, s *Sample) { s.NOxUp, s.NOxDown = Of(2000), Of(450) }),
	)
	tr := NewTruck(testVIN)
	changes := feed(tr, th, samples)

	if got, want := firstOpen(changes, KindNOxExceedance), 59; got != want {
		t.Fatalf("opened at %d, want %d", got, want)
	}
	var opened Change
	for _, x := range changes {
		if x.c.Op == OpOpened && x.c.Alarm.Kind == KindNOxExceedance {
			opened = x.c
		}
	}
	ev := opened.Alarm.Evidence
	if got, want := ev.Samples, 60; got != want {
		t.Errorf("evidence samples %d, want %d", got, want)
	}
	if got, want := ev.NOxDownAvgPPM, Of(600); got != want {
		t.Errorf("evidence average %v, want %v", got, want)
	}
	if !ev.From.Equal(at(0)) || !ev.To.Equal(at(59)) || !opened.At.Equal(at(59)) {
		t.Errorf("evidence window %s..%s opened %s, want %s..%s", ev.From, ev.To, opened.At, at(0), at(59))
	}
	if got, want := firstOp(changes, OpClosed, KindNOxExceedance), 300+250-1; got != want {
		t.Fatalf("closed at %d, want %d (the 250th sample at 450 ppm)", got, want)
	}
	if got := firstOp(changes, OpOpened, KindSCREfficiencyLow); got != -1 {
		t.Errorf("SCR alarm opened at %d with 70-78 %% efficiency, want none", got)
	}
}

func TestNOxAlarmStaysOpenWhileWindowCannotJudge(t *testing.T) {
	th := DefaultThresholds()
	samples := concat(
		series(0, 100, func(_ int, s *Sample) { s.NOxUp, s.NOxDown = Of(3000), Of(900) }),
		// the truck idles for ten minutes: the window empties
		series(100, 600, func(_ int, s *Sample) { s.NOxDown, s.EngineSpeed = Of(50), Of(550) }),
	)
	tr := NewTruck(testVIN)
	feed(tr, th, samples)
	if got, want := openKinds(tr), []Kind{KindNOxExceedance}; !slices.Equal(got, want) {
		t.Fatalf("open %v, want %v", got, want)
	}
	if got := tr.Window.Len; got != 0 {
		t.Fatalf("window holds %d entries after 600 s of idling, want 0", got)
	}
}

func TestSCREfficiency(t *testing.T) {
	with := func(up, down float64) func(int, *Sample) {
		return func(_ int, s *Sample) { s.NOxUp, s.NOxDown = Of(up), Of(down) }
	}
	cases := []struct {
		name    string
		samples []Sample
		want    int
	}{
		{"59.9 % opens once 60 samples", series(0, 100, with(1000, 401)), 59},
		{"60.1 % does not open", series(0, 300, with(1000, 399)), -1},
		{"59 samples are not enough", series(0, 59, with(1000, 450)), -1},
		{"upstream below the 100 ppm floor is skipped", series(0, 300, with(99.9, 90)), -1},
		{"upstream at the floor counts", series(0, 100, with(100, 90)), 59},
		{"upstream not available is skipped", series(0, 300, func(_ int, s *Sample) {
			s.NOxUp, s.NOxDown = NA, Of(300)
		}), -1},
		{"idle samples do not count", series(0, 300, func(_ int, s *Sample) {
			s.NOxUp, s.NOxDown, s.EngineSpeed = Of(1000), Of(450), Of(580)
		}), -1},
		{"only samples above the floor count toward the minimum", series(0, 300, func(i int, s *Sample) {
			s.NOxUp, s.NOxDown = Of(1000), Of(450)
			if i < 100 {
				s.NOxUp = Of(50)
			}
		}), 159},
	}
	th := DefaultThresholds()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTruck(testVIN)
			if got := firstOpen(feed(tr, th, tc.samples), KindSCREfficiencyLow); got != tc.want {
				t.Fatalf("opened at sample %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSCREfficiencyHysteresis(t *testing.T) {
	th := DefaultThresholds() // opens below 60 %, closes at >= 65 %
	// Window of 300 at up 800 / down 400 (50 %); then k samples at down 260:
	// efficiency = 1 - (120000 - 140k)/240000, >= 65 % from k = 258.
	samples := concat(
		series(0, 300, func(_ int, s *Sample) { s.NOxUp, s.NOxDown = Of(800), Of(400) }),
		series(300, 300, func(_ int, s *Sample) { s.NOxUp, s.NOxDown = Of(800), Of(260) }),
	)
	changes := feed(NewTruck(testVIN), th, samples)
	if got, want := firstOpen(changes, KindSCREfficiencyLow), 59; got != want {
		t.Fatalf("opened at %d, want %d", got, want)
	}
	if got, want := firstOp(changes, OpClosed, KindSCREfficiencyLow), 300+258-1; got != want {
		t.Fatalf("closed at %d, want %d", got, want)
	}
	for _, x := range changes {
		if x.c.Op == OpOpened && x.c.Alarm.Kind == KindSCREfficiencyLow {
			ev := x.c.Alarm.Evidence
			if ev.EfficiencyPct != Of(50) || ev.NOxUpAvgPPM != Of(800) || ev.NOxDownAvgPPM != Of(400) {
				t.Errorf("evidence %+v, want 50 %% from 800 / 400 ppm", ev)
			}
		}
	}
}

func TestReagent(t *testing.T) {
	levels := []Value{Of(50), Of(0.4), Of(0), NA, Of(0), Of(5), Of(9.6), Of(10), Of(0.4)}
	want := map[int]Op{2: OpOpened, 7: OpClosed}
	tr := NewTruck(testVIN)
	th := DefaultThresholds()
	for i, lv := range levels {
		s := base(i)
		s.Reagent = lv
		t.Run(lv.String(), func(t *testing.T) {
			var got []Change
			for _, c := range tr.Observe(s, th) {
				if c.Alarm.Kind == KindReagentEmpty {
					got = append(got, c)
				}
			}
			w, ok := want[i]
			switch {
			case !ok && len(got) > 0:
				t.Fatalf("sample %d (reagent %v): %v, want nothing", i, lv, ops(got))
			case ok && (len(got) != 1 || got[0].Op != w):
				t.Fatalf("sample %d (reagent %v): %v, want %s", i, lv, ops(got), w)
			}
			if ok && w == OpOpened && got[0].Alarm.Evidence.Value != Of(0) {
				t.Errorf("evidence value %v, want 0", got[0].Alarm.Evidence.Value)
			}
		})
	}
}

func TestMIL(t *testing.T) {
	cases := []struct {
		mil  MIL
		want []string
	}{
		{MILOff, nil},
		{MILOn, []string{"opened mil_on"}},
		{MILUnknown, nil},
		{MILOn, nil},
		{MILOff, []string{"closed mil_on"}},
		{MILUnknown, nil},
	}
	tr := NewTruck(testVIN)
	th := DefaultThresholds()
	for i, tc := range cases {
		t.Run(tc.mil.String(), func(t *testing.T) {
			s := base(i)
			s.MIL = tc.mil
			if got := ops(tr.Observe(s, th)); !slices.Equal(got, tc.want) {
				t.Fatalf("sample %d MIL %s: %v, want %v", i, tc.mil, got, tc.want)
			}
		})
	}
}

func TestFaultCodes(t *testing.T) {
	cases := []struct {
		name      string
		codes     []uint32
		want      []string
		wantCodes []uint32 // evidence after the change
	}{
		{"absent", nil, nil, nil},
		{"reported none", []uint32{}, nil, nil},
		{"one code opens", []uint32{0x00A1B2C3}, []string{"opened fault_codes"}, []uint32{0x00A1B2C3}},
		{"same code again", []uint32{0x00A1B2C3}, nil, nil},
		{"absent again keeps it open", nil, nil, nil},
		{"a new code updates", []uint32{0x00A1B2C3, 0x00D4E5F6, 0x00D4E5F6}, []string{"updated fault_codes"}, []uint32{0x00A1B2C3, 0x00D4E5F6}},
		{"zero codes closes", []uint32{}, []string{"closed fault_codes"}, []uint32{0x00A1B2C3, 0x00D4E5F6}},
	}
	tr := NewTruck(testVIN)
	th := DefaultThresholds()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := base(i)
			s.FaultCodes = tc.codes
			changes := tr.Observe(s, th)
			if got := ops(changes); !slices.Equal(got, tc.want) {
				t.Fatalf("%v, want %v", got, tc.want)
			}
			if len(changes) == 1 {
				if got := changes[0].Alarm.Evidence.FaultCodes; !slices.Equal(got, tc.wantCodes) {
					t.Fatalf("evidence codes %X, want %X", got, tc.wantCodes)
				}
			}
		})
	}
	if got := tr.FaultCodes; got == nil || len(got) != 0 {
		t.Fatalf("last fault codes %v, want empty non-nil", got)
	}
}

func TestOfflineWhileMoving(t *testing.T) {
	th := DefaultThresholds()
	cases := []struct {
		name     string
		last     func(*Sample)
		sweepAt  time.Duration // after the last sample
		wantOpen bool
	}{
		{"moving, 10 min exactly: not yet", nil, 10 * time.Minute, false},
		{"moving, 10 min 1 s: offline", nil, 10*time.Minute + time.Second, true},
		{"stopped: never", func(s *Sample) { s.Speed = Of(0) }, 5 * time.Hour, false},
		{"speed not available: never", func(s *Sample) { s.Speed = NA }, 5 * time.Hour, false},
		{"received late: silence runs from arrival", func(s *Sample) { s.ReceivedAt = s.At.Add(2 * time.Minute) },
			10*time.Minute + time.Second, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTruck(testVIN)
			samples := series(0, 10, nil)
			if tc.last != nil {
				tc.last(&samples[9])
			}
			feed(tr, th, samples)
			if got := tr.Sweep(at(9).Add(tc.sweepAt-time.Minute), th); len(got) != 0 {
				t.Fatalf("early sweep: %v, want nothing", ops(got))
			}
			got := tr.Sweep(at(9).Add(tc.sweepAt), th)
			if gotOpen := len(got) == 1 && got[0].Op == OpOpened && got[0].Alarm.Kind == KindOfflineWhileMoving; gotOpen != tc.wantOpen || (!tc.wantOpen && len(got) != 0) {
				t.Fatalf("sweep: %v, want open %v", ops(got), tc.wantOpen)
			}
			if !tc.wantOpen {
				return
			}
			if again := tr.Sweep(at(9).Add(tc.sweepAt+time.Hour), th); len(again) != 0 {
				t.Fatalf("second sweep: %v, want nothing (already open)", ops(again))
			}
			ev := got[0].Alarm.Evidence
			if !ev.From.Equal(at(9)) || ev.SpeedKmh != Of(60) || ev.FromPosition.At.IsZero() {
				t.Errorf("evidence %+v, want from %s at 60 km/h with position", ev, at(9))
			}
			next := base(9 + 3600)
			closed := tr.Observe(next, th)
			var closedAt time.Time
			for _, c := range closed {
				if c.Op == OpClosed && c.Alarm.Kind == KindOfflineWhileMoving {
					closedAt = c.At
				}
			}
			if !closedAt.Equal(next.At) {
				t.Fatalf("next sample: %v closed at %s, want offline closed at %s", ops(closed), closedAt, next.At)
			}
		})
	}
}

func TestFlatline(t *testing.T) {
	stuck := func(v float64) func(int, *Sample) {
		return func(_ int, s *Sample) { s.NOxDown = Of(v) }
	}
	cases := []struct {
		name    string
		samples []Sample
		want    int
	}{
		{"119 identical loaded samples: not yet", series(0, 119, stuck(35.5)), -1},
		{"120th identical loaded sample opens", series(0, 200, stuck(35.5)), 119},
		{"stuck at 0 counts too", series(0, 200, stuck(0)), 119},
		{"engine idling: no flat-line", series(0, 600, func(_ int, s *Sample) {
			s.NOxDown, s.EngineSpeed = Of(35.5), Of(550)
		}), -1},
		{"constant engine speed: no flat-line", series(0, 600, func(_ int, s *Sample) {
			s.NOxDown, s.EngineSpeed = Of(35.5), Of(1200)
		}), -1},
		{"one different value restarts the run", series(0, 200, func(i int, s *Sample) {
			s.NOxDown = Of(35.5)
			if i == 60 {
				s.NOxDown = Of(35.55)
			}
		}), 180},
		{"not-available value restarts the run", series(0, 200, func(i int, s *Sample) {
			s.NOxDown = Of(35.5)
			if i == 60 {
				s.NOxDown = NA
			}
		}), 180},
		{"idle samples neither count nor break", series(0, 300, func(i int, s *Sample) {
			s.NOxDown = Of(35.5)
			if i >= 60 && i < 110 {
				s.EngineSpeed = Of(550)
			}
		}), 169},
	}
	th := DefaultThresholds()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := firstOpen(feed(NewTruck(testVIN), th, tc.samples), KindTamperNOxFlatline); got != tc.want {
				t.Fatalf("opened at %d, want %d", got, tc.want)
			}
		})
	}
}

func TestTamperAlarmsCloseOnlyByHand(t *testing.T) {
	th := DefaultThresholds()
	tr := NewTruck(testVIN)
	feed(tr, th, series(0, 130, func(_ int, s *Sample) { s.NOxDown = Of(35.5) }))
	feed(tr, th, series(130, 600, nil)) // the sensor works again
	if !tr.IsOpen(KindTamperNOxFlatline) {
		t.Fatal("flat-line alarm closed by itself")
	}
	if _, err := tr.Close(KindTamperNOxFlatline, at(10), "inspector"); err == nil {
		t.Fatal("closing before the opening succeeded")
	}
	if _, err := tr.Close(KindTamperNOxFlatline, at(800), ""); err == nil {
		t.Fatal("closing by nobody succeeded")
	}
	c, err := tr.Close(KindTamperNOxFlatline, at(800), "inspector wang")
	if err != nil {
		t.Fatalf("close: %v", err)
	}
	if c.Op != OpClosed || !c.At.Equal(at(800)) || c.Alarm.ClosedBy != "inspector wang" || c.Alarm.IsOpen() {
		t.Fatalf("close change %+v", c)
	}
	if _, err := tr.Close(KindTamperNOxFlatline, at(801), "inspector wang"); err == nil {
		t.Fatal("closing twice succeeded")
	}
}

func TestOutOfRange(t *testing.T) {
	cases := []struct {
		name      string
		samples   []Sample
		want      int
		wantField string
	}{
		{"reagent 101.6 % twice: a glitch", series(0, 10, func(i int, s *Sample) {
			if i == 3 || i == 4 {
				s.Reagent = Of(101.6)
			}
		}), -1, ""},
		{"reagent 101.6 % three times", series(0, 10, func(i int, s *Sample) {
			if i >= 3 {
				s.Reagent = Of(101.6)
			}
		}), 5, "reagent_pct"},
		{"alternating glitches never persist", series(0, 100, func(i int, s *Sample) {
			if i%2 == 0 {
				s.Speed = Of(240)
			}
		}), -1, ""},
		{"speed 170 km/h", series(0, 10, func(_ int, s *Sample) { s.Speed = Of(170) }), 2, "speed_kmh"},
		{"speed 160 km/h is the limit", series(0, 10, func(_ int, s *Sample) { s.Speed = Of(160) }), -1, ""},
		{"negative speed", series(0, 10, func(_ int, s *Sample) { s.Speed = Of(-3) }), 2, "speed_kmh"},
		{"engine speed 5000 rpm", series(0, 10, func(_ int, s *Sample) { s.EngineSpeed = Of(5000) }), 2, "engine_speed_rpm"},
		{"coolant 160 C with the engine stopped", series(0, 10, func(_ int, s *Sample) {
			s.Coolant, s.EngineSpeed = Of(160), Of(0)
		}), -1, ""},
		{"coolant 160 C with the engine running", series(0, 10, func(_ int, s *Sample) { s.Coolant = Of(160) }), 2, "coolant_c"},
		{"fuel level -1 %", series(0, 10, func(_ int, s *Sample) { s.FuelLevel = Of(-1) }), 2, "fuel_level_pct"},
		{"NOx beyond the sensor range", series(0, 10, func(_ int, s *Sample) { s.NOxUp = Of(3100) }), 2, "nox_ppm"},
		{"latitude beyond 90", series(0, 10, func(_ int, s *Sample) { s.Lat = 91 }), 2, "position"},
		{"latitude beyond 90 without a valid fix", series(0, 10, func(_ int, s *Sample) {
			s.Lat, s.PositionValid = 91, false
		}), -1, ""},
		{"downstream above upstream by 250 ppm for 60 loaded samples", series(0, 100, func(_ int, s *Sample) {
			s.NOxUp, s.NOxDown = Of(200), Of(450)
		}), 59, "nox_down_above_up"},
		{"downstream above upstream by 150 ppm is tolerated", series(0, 300, func(_ int, s *Sample) {
			s.NOxUp, s.NOxDown = Of(200), Of(350)
		}), -1, ""},
		{"downstream above upstream only at idle", series(0, 300, func(_ int, s *Sample) {
			s.NOxUp, s.NOxDown, s.EngineSpeed = Of(200), Of(450), Of(550)
		}), -1, ""},
	}
	th := DefaultThresholds()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			changes := feed(NewTruck(testVIN), th, tc.samples)
			got := firstOpen(changes, KindTamperOutOfRange)
			if got != tc.want {
				t.Fatalf("opened at %d, want %d", got, tc.want)
			}
			for _, x := range changes {
				if x.c.Op == OpOpened && x.c.Alarm.Kind == KindTamperOutOfRange && x.c.Alarm.Evidence.Field != tc.wantField {
					t.Fatalf("field %q, want %q", x.c.Alarm.Evidence.Field, tc.wantField)
				}
			}
		})
	}
}

func TestPositionJump(t *testing.T) {
	jumpAt := func(i int, dLon float64) func(int, *Sample) {
		return func(j int, s *Sample) {
			if j >= i {
				s.Lon += dLon
			}
		}
	}
	// at latitude 39.9, 0.01 degree of longitude is about 0.854 km
	cases := []struct {
		name    string
		samples []Sample
		want    int
	}{
		{"2.6 km in one second", series(0, 20, jumpAt(10, 0.03)), 10},
		{"0.85 km in one second: under the minimum distance", series(0, 20, jumpAt(10, 0.01)), -1},
		{"normal driving", series(0, 600, nil), -1},
		{"(0, 0) fix between two good ones", series(0, 20, func(j int, s *Sample) {
			if j == 10 {
				s.Lon, s.Lat = 0, 0
			}
		}), -1},
		{"invalid fix far away", series(0, 20, func(j int, s *Sample) {
			if j == 10 {
				s.Lon, s.PositionValid = 100, false
			}
		}), -1},
		{"valid fix far away", series(0, 20, func(j int, s *Sample) {
			if j == 10 {
				s.Lon = 100
			}
		}), 10},
		{"10 km in 6 minutes (100 km/h) across missing fixes", series(0, 400, func(j int, s *Sample) {
			s.PositionValid = j < 10 || j >= 370
			if j >= 370 {
				s.Lon += 0.117 - 0.0002*float64(j)
			}
		}), -1},
		{"10 km in 2 minutes (300 km/h) across missing fixes", series(0, 400, func(j int, s *Sample) {
			s.PositionValid = j < 10 || j >= 130
			if j >= 130 {
				s.Lon += 0.117 - 0.0002*float64(j)
			}
		}), 130},
	}
	th := DefaultThresholds()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := firstOpen(feed(NewTruck(testVIN), th, tc.samples), KindTamperPositionJump); got != tc.want {
				t.Fatalf("opened at %d, want %d", got, tc.want)
			}
		})
	}
}

func TestHaversine(t *testing.T) {
	// Beijing Tiananmen to Shanghai People's Square: about 1067 km.
	got := haversineKm(Position{Lon: 116.3975, Lat: 39.9087}, Position{Lon: 121.4737, Lat: 31.2304})
	if got < 1060 || got > 1075 {
		t.Fatalf("distance %.1f km, want about 1067", got)
	}
}
