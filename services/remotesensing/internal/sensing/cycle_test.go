package sensing

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
)

var t0 = time.Date(2026, 1, 10, 2, 0, 0, 0, time.UTC)

const cycle = 182 * 24 * time.Hour

func exc(plate string, p limits.Parameter, days float64) Exceedance {
	at := t0.Add(time.Duration(days * 24 * float64(time.Hour)))
	key := fmt.Sprintf("RS-1|%s-%s-%g", plate, p, days)
	return Exceedance{Key: key + "|" + string(p), ReadingKey: key, ReadingID: key[5:], StationID: "RS-1", Plate: plate,
		PlateColour: vehicleid.Yellow, Pollutant: p, Value: 45, Limit: 30, Unit: "%", MeasuredAt: at}
}

func triggerDays(o Opening) []float64 {
	var out []float64
	for _, e := range o.Triggers {
		out = append(out, e.MeasuredAt.Sub(t0).Hours()/24)
	}
	return out
}

func TestTwoInACycle(t *testing.T) {
	const a, b = "晋F12345", "晋F23456"
	ended := func(days float64, s State) Case {
		return Case{ID: "old", Plate: a, PlateColour: vehicleid.Yellow, Pollutant: limits.Opacity, State: s,
			EndedAt: t0.Add(time.Duration(days * 24 * float64(time.Hour)))}
	}
	cases := []struct {
		name  string
		exc   []Exceedance
		cases []Case
		want  []string // "plate pollutant [trigger days]"
	}{
		{"a single exceedance opens nothing", []Exceedance{exc(a, limits.Opacity, 0)}, nil, nil},
		{"twice the same pollutant within the cycle", []Exceedance{exc(a, limits.Opacity, 0), exc(a, limits.Opacity, 30)}, nil,
			[]string{"晋F12345 opacity [0 30]"}},
		{"twice on the same day", []Exceedance{exc(a, limits.NO, 0), exc(a, limits.NO, 0.01)}, nil, []string{"晋F12345 no [0 0.01]"}},
		{"two different pollutants are not twice", []Exceedance{exc(a, limits.Opacity, 0), exc(a, limits.NO, 30)}, nil, nil},
		{"two different plates are not twice", []Exceedance{exc(a, limits.Opacity, 0), exc(b, limits.Opacity, 30)}, nil, nil},
		{"exactly one cycle apart counts", []Exceedance{exc(a, limits.Opacity, 0), exc(a, limits.Opacity, 182)}, nil, []string{"晋F12345 opacity [0 182]"}},
		{"more than a cycle apart does not", []Exceedance{exc(a, limits.Opacity, 0), exc(a, limits.Opacity, 182.5)}, nil, nil},
		{"three: the latest pair within a cycle", []Exceedance{exc(a, limits.Opacity, 0), exc(a, limits.Opacity, 300), exc(a, limits.Opacity, 400)}, nil,
			[]string{"晋F12345 opacity [300 400]"}},
		{"an old pair still opens (late upload)", []Exceedance{exc(a, limits.Opacity, 400), exc(a, limits.Opacity, 0), exc(a, limits.Opacity, 10)}, nil,
			[]string{"晋F12345 opacity [0 10]"}},
		{"the same exceedance twice is once", []Exceedance{exc(a, limits.Opacity, 0), exc(a, limits.Opacity, 0)}, nil, nil},
		{"an open case takes the exceedances", []Exceedance{exc(a, limits.Opacity, 0), exc(a, limits.Opacity, 30)},
			[]Case{{Plate: a, PlateColour: vehicleid.Yellow, Pollutant: limits.Opacity, State: Penalised}}, nil},
		{"an open case for another pollutant does not", []Exceedance{exc(a, limits.Opacity, 0), exc(a, limits.Opacity, 30)},
			[]Case{{Plate: a, PlateColour: vehicleid.Yellow, Pollutant: limits.NO, State: Penalised}}, []string{"晋F12345 opacity [0 30]"}},
		{"exceedances before a closed case count no more", []Exceedance{exc(a, limits.Opacity, 0), exc(a, limits.Opacity, 30), exc(a, limits.Opacity, 60)},
			[]Case{ended(40, Closed)}, nil},
		{"two after a dismissed case open a new one", []Exceedance{exc(a, limits.Opacity, 0), exc(a, limits.Opacity, 50), exc(a, limits.Opacity, 60)},
			[]Case{ended(40, Dismissed)}, []string{"晋F12345 opacity [50 60]"}},
		{"another colour is another vehicle", []Exceedance{exc(a, limits.Opacity, 0), func() Exceedance {
			e := exc(a, limits.Opacity, 5)
			e.PlateColour = vehicleid.Blue
			return e
		}()}, nil, nil},
		{"each plate and pollutant on its own", []Exceedance{exc(a, limits.Opacity, 0), exc(b, limits.NO, 1), exc(a, limits.Opacity, 2), exc(b, limits.NO, 3)}, nil,
			[]string{"晋F12345 opacity [0 2]", "晋F23456 no [1 3]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, o := range DecideOpenings(tc.exc, tc.cases, cycle, 2) {
				got = append(got, fmt.Sprintf("%s %s %v", o.Plate, o.Pollutant, triggerDays(o)))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("DecideOpenings = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("three in a cycle when the bureau says three", func(t *testing.T) {
		two := []Exceedance{exc(a, limits.Opacity, 0), exc(a, limits.Opacity, 30)}
		if got := DecideOpenings(two, nil, cycle, 3); len(got) != 0 {
			t.Fatalf("min 3 opened on two: %v", got)
		}
		if got := DecideOpenings(append(two, exc(a, limits.Opacity, 31)), nil, cycle, 3); len(got) != 1 || len(got[0].Triggers) != 3 {
			t.Fatalf("min 3 on three = %v", got)
		}
	})
}

func TestSummaryOf(t *testing.T) {
	const a = "晋F12345"
	now := t0.Add(200 * 24 * time.Hour)
	all := []Exceedance{exc(a, limits.Opacity, 0), exc(a, limits.Opacity, 100), exc(a, limits.NO, 150), exc(a, limits.NO, 150), exc("晋F99999", limits.NO, 199)}
	cases := []Case{
		{ID: "c2", Plate: a, PlateColour: vehicleid.Yellow, Pollutant: limits.NO, State: Notified, OpenedAt: t0.Add(160 * 24 * time.Hour)},
		{ID: "c1", Plate: a, PlateColour: vehicleid.Yellow, Pollutant: limits.Opacity, State: Penalised, OpenedAt: t0.Add(101 * 24 * time.Hour)},
		{ID: "c0", Plate: a, PlateColour: vehicleid.Yellow, Pollutant: limits.Opacity, State: Closed, OpenedAt: t0},
	}
	st := SummaryOf(a, vehicleid.Yellow, all, cases, now, 182)
	if !st.Exceeding || len(st.OpenCases) != 2 || st.OpenCases[0].ID != "c1" || st.OpenCases[1].State != "notified" {
		t.Fatalf("open cases = %+v", st.OpenCases)
	}
	// Day 0 is 200 days back: outside the cycle. The repeated key counts once.
	if st.ExceedancesInCycle != 2 || st.ExceedancesByPollutant["opacity"] != 1 || st.ExceedancesByPollutant["no"] != 1 {
		t.Fatalf("in cycle = %d %v", st.ExceedancesInCycle, st.ExceedancesByPollutant)
	}
	if st.LastExceedance == nil || st.LastExceedance.Pollutant != "no" || !st.LastExceedance.At.Equal(t0.Add(150*24*time.Hour)) {
		t.Fatalf("last = %+v", st.LastExceedance)
	}
	if !st.CycleFrom.Equal(now.Add(-182*24*time.Hour)) || st.CycleDays != 182 {
		t.Fatalf("cycle from %v", st.CycleFrom)
	}
	empty := SummaryOf("晋F00001", vehicleid.Blue, all, cases, now, 182)
	if empty.Exceeding || empty.OpenCases == nil || len(empty.OpenCases) != 0 || empty.ExceedancesInCycle != 0 || empty.LastExceedance != nil ||
		empty.ExceedancesByPollutant == nil || empty.PlateColour != "blue" {
		t.Fatalf("a plate with nothing = %+v", empty)
	}
}
