package detect

import (
	"slices"
	"time"
)

const testVIN = "LZZ1BLSB2KA000001"

var t0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// at returns t0 plus sec seconds.
func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// base returns a compliant sample at second sec: loaded engine (varying
// rpm), hot SCR, 85 % conversion, moving east at about 61 km/h.
func base(sec int) Sample {
	return Sample{
		VIN:             testVIN,
		At:              at(sec),
		Speed:           Of(60),
		EngineSpeed:     Of(1200 + float64(sec%7)*25),
		NetTorque:       Of(40),
		NOxUp:           Of(800),
		NOxDown:         Of(120 + float64(sec%5)),
		Reagent:         Of(50),
		SCRInletTemp:    Of(320),
		SCROutletTemp:   Of(300),
		Coolant:         Of(85),
		FuelLevel:       Of(60),
		DPFPressureDrop: Of(5),
		AirFlow:         Of(600),
		PositionValid:   true,
		Lon:             116.4 + float64(sec)*0.0002,
		Lat:             39.9,
		Mileage:         Of(100000 + float64(sec)/60),
	}
}

// series returns samples at seconds from, from+1, ... (n of them), each
// made by base and then edited by f (nil for none).
func series(from, n int, f func(i int, s *Sample)) []Sample {
	out := make([]Sample, n)
	for i := range out {
		out[i] = base(from + i)
		if f != nil {
			f(i, &out[i])
		}
	}
	return out
}

// step is one input of a scenario: a sample, or a Sweep at Sweep.
type step struct {
	sample Sample
	sweep  time.Time
}

// feed runs samples through tr and returns all changes, each tagged with
// the index of the sample that caused it.
func feed(tr *Truck, th Thresholds, samples []Sample) []indexed {
	var out []indexed
	for i, s := range samples {
		for _, c := range tr.Observe(s, th) {
			out = append(out, indexed{i, c})
		}
	}
	return out
}

// indexed is a change and the index of the input that caused it.
type indexed struct {
	i int
	c Change
}

// firstOpen returns the index of the input that opened kind k, or -1.
func firstOpen(changes []indexed, k Kind) int {
	for _, x := range changes {
		if x.c.Op == OpOpened && x.c.Alarm.Kind == k {
			return x.i
		}
	}
	return -1
}

// firstOp returns the index of the input that did op on kind k, or -1.
func firstOp(changes []indexed, op Op, k Kind) int {
	for _, x := range changes {
		if x.c.Op == op && x.c.Alarm.Kind == k {
			return x.i
		}
	}
	return -1
}

// ops lists the changes as "op kind" strings.
func ops(changes []Change) []string {
	var out []string
	for _, c := range changes {
		out = append(out, string(c.Op)+" "+string(c.Alarm.Kind))
	}
	return out
}

// openKinds returns the kinds of the truck's open alarms, sorted.
func openKinds(tr *Truck) []Kind {
	var out []Kind
	for _, a := range tr.Open {
		out = append(out, a.Kind)
	}
	slices.Sort(out)
	return out
}

// concat joins sample lists.
func concat(lists ...[]Sample) []Sample { return slices.Concat(lists...) }

func nan() float64 { z := 0.0; return z / z }
func inf() float64 { z := 0.0; return 1 / z }
