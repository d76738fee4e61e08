package handler

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/checkpoint/internal/verdict"
)

// The answer's shape as the answers' encoding (httpserver.MarshalJSON) writes it: appendAnswer
// must write exactly these bytes.

type reasonJSON struct {
	Code       string    `json:"code"`
	Message    string    `json:"message"`
	Severity   string    `json:"severity"`
	Source     string    `json:"source"`
	Rule       string    `json:"rule,omitempty"`
	State      string    `json:"source_state,omitempty"`
	UpdatedAt  time.Time `json:"source_updated_at,omitzero"`
	AgeSeconds *float64  `json:"source_age_seconds,omitempty"`
}

type partJSON struct {
	Part       string    `json:"part"`
	State      string    `json:"state"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
	AgeSeconds *float64  `json:"age_seconds,omitempty"`
}

type answerJSON struct {
	Plate   string       `json:"plate"`
	Colour  string       `json:"colour,omitempty"`
	Used    string       `json:"colour_used,omitempty"`
	VIN     string       `json:"vin,omitempty"`
	At      time.Time    `json:"at"`
	Verdict string       `json:"verdict"`
	Reasons []reasonJSON `json:"reasons"`
	Parts   []partJSON   `json:"parts"`
	Alerts  []alertJSON  `json:"alerts"`
}

func reference(a verdict.Answer) answerJSON {
	age := func(updated time.Time) *float64 {
		if updated.IsZero() {
			return nil
		}
		v := ageSeconds(a.At, updated)
		return &v
	}
	infos := map[summary.Part]verdict.PartInfo{}
	out := answerJSON{Plate: a.Plate, Colour: string(a.Colour), Used: string(a.ColourUsed), VIN: a.VIN, At: a.At, Verdict: string(a.Verdict),
		Reasons: []reasonJSON{}, Parts: []partJSON{}, Alerts: []alertJSON{}}
	for _, p := range a.Parts {
		if _, ok := infos[p.Part]; !ok {
			infos[p.Part] = p
		}
		out.Parts = append(out.Parts, partJSON{Part: string(p.Part), State: string(p.State), UpdatedAt: p.UpdatedAt, AgeSeconds: age(p.UpdatedAt)})
	}
	for _, r := range a.Reasons {
		rj := reasonJSON{Code: r.Code, Message: r.Message, Severity: string(r.Severity), Source: string(r.Source), Rule: r.Rule}
		if p, ok := infos[r.Source]; ok {
			rj.State, rj.UpdatedAt, rj.AgeSeconds = string(p.State), p.UpdatedAt, age(p.UpdatedAt)
		}
		out.Reasons = append(out.Reasons, rj)
	}
	for _, al := range a.Alerts {
		j, err := alertOut(al)
		if err != nil {
			panic(err)
		}
		out.Alerts = append(out.Alerts, j)
	}
	return out
}

func TestAppendAnswerWritesWhatEncodingJSONWrites(t *testing.T) {
	at := time.Date(2026, 11, 29, 8, 30, 15, 123456789, time.UTC)
	hours, err := localtime.ParseHours("07:00", "20:00")
	if err != nil {
		t.Fatal(err)
	}
	zone, err := geo.Parse([]byte(`{"type":"Polygon","coordinates":[[[112.4,39.3],[112.5,39.3],[112.5,39.4],[112.4,39.3]]]}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]verdict.Answer{
		"pass, every part cached": {Plate: "晋F23456", Colour: vehicleid.Yellow, VIN: "LZZ1CLVB4N0000002", At: at, Verdict: verdict.Pass,
			Parts: []verdict.PartInfo{
				{Part: summary.Registry, State: verdict.Cached, UpdatedAt: at.Add(-10*time.Second - 712*time.Millisecond)},
				{Part: summary.RemoteSensing, State: verdict.Cached, UpdatedAt: at},
				{Part: summary.OBD, State: verdict.Fetched, UpdatedAt: at.Add(-3 * time.Hour)},
				{Part: summary.Muck, State: verdict.Skipped},
			}},
		"unknown plate, no VIN, reasons from several sources": {Plate: "京A12345", Colour: vehicleid.Blue, At: at.In(time.FixedZone("CST", 8*3600)), Verdict: verdict.Inspect,
			Reasons: []verdict.Reason{
				{Code: "not_registered", Message: "the registry does not know this plate", Source: summary.Registry, Rule: "task 15", Severity: verdict.Inspect},
				{Code: "owner_unknown", Message: "remote sensing could not be asked <down> & \"timed out\"\n", Source: summary.RemoteSensing, Severity: verdict.Inspect},
				{Code: "alert", Message: "红色预警：国三及以下柴油货车禁行", Source: verdict.SourceCheckpoint, Rule: "task 33", Severity: verdict.Stop},
			},
			Parts: []verdict.PartInfo{
				{Part: summary.Registry, State: verdict.NotFound},
				{Part: summary.RemoteSensing, State: verdict.Unknown},
				{Part: summary.OBD, State: verdict.Skipped},
				{Part: summary.Muck, State: verdict.Skipped},
			},
			Alerts: []verdict.Alert{{ID: "alert-20261129-083000-red", Level: "red", StartsAt: at.Add(-time.Hour), EndsAt: at.Add(48 * time.Hour), Reason: "PM2.5 > 300 <μg/m³>",
				Restrictions: []verdict.Restriction{{Class: "china3_diesel", MaxStandard: "国III", Zone: &zone, ZoneName: "城区", Hours: &hours}, {Class: "heavy_diesel"}},
				CreatedBy:    "bureau@district"}}},
		"no colour given: the one the registry has": {Plate: "晋F89012", Colour: vehicleid.Yellow, ColourUsed: vehicleid.Yellow, At: at, Verdict: verdict.Stop,
			Parts: []verdict.PartInfo{{Part: summary.Registry, State: verdict.Cached, UpdatedAt: at}}},
		"no colour given, none registered": {Plate: "晋F00000", At: at, Verdict: verdict.Inspect,
			Parts: []verdict.PartInfo{{Part: summary.Registry, State: verdict.NotFound}}},
		"odd strings and ages": {Plate: "\x00\x1f\t\b\f\r\\/\u2028\u2029\xff\xfe<>&'", Colour: "", At: at, Verdict: verdict.Stop,
			Reasons: []verdict.Reason{{Code: "", Message: "\u007f\u0080\U0001F600", Source: summary.OBD}},
			Parts: []verdict.PartInfo{
				{Part: summary.OBD, State: "", UpdatedAt: at.Add(-time.Nanosecond)},
				{Part: summary.OBD, State: verdict.Cached, UpdatedAt: at.Add(time.Hour)},
				{Part: summary.Muck, State: verdict.Cached, UpdatedAt: at.Add(-1e6 * time.Hour)},
			}},
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			want, err := httpserver.MarshalJSON(reference(a))
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendAnswer([]byte("prefix"), a)
			if err != nil {
				t.Fatal(err)
			}
			if string(got[:6]) != "prefix" || string(got[6:]) != string(want) {
				t.Fatalf("appendAnswer wrote\n%s\nthe answers' encoding writes\n%s", got, want)
			}
		})
	}
}

func TestAppendAnswerRefusesAYearJSONCannotHold(t *testing.T) {
	if _, err := appendAnswer(nil, verdict.Answer{At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Fatal("year 10000 encoded; encoding/json refuses it")
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "晋F23456", "a\"b\\c", "<script>&</script>", "\x00\x01\x1f\x7f", "\xff", "\xe2\x80\xa8\xe2\x80\xa9", "\xe2\x80", "\U0010FFFF\ufffd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := httpserver.MarshalJSON(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, the answers' encoding writes %s", s, got, want)
		}
	})
}

func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, math.Copysign(0, -1), 0.1, -2.5, 1e-7, 1e-6, 123456789.1, 1e20, 1e21, -1e300, 5e-324} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return // ages are finite; encoding/json refuses these
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendFloat(nil, v); string(got) != string(want) {
			t.Fatalf("appendFloat(%v) = %s, encoding/json writes %s", v, got, want)
		}
	})
}

func FuzzAppendTime(f *testing.F) {
	for _, sec := range []int64{0, 1, 1795927507, -62135596800, -62135596801, 253402300799, 253402300800} {
		for _, nsec := range []int64{0, 1, 100_000_000, 123_456_789, 999_999_999} {
			f.Add(sec, nsec, int32(0))
			f.Add(sec, nsec, int32(8*3600))
			f.Add(sec, nsec, int32(-37))
		}
	}
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int32) {
		u := time.Unix(sec, nsec)
		for _, at := range []time.Time{
			u.UTC(),
			u.In(time.FixedZone("Z0", 0)), // a zone named otherwise, with no offset
			u.In(time.FixedZone("X", int(offset%(18*3600)))),
		} {
			want, werr := httpserver.MarshalJSON(at)
			got, gerr := appendTime(nil, at)
			if (werr == nil) != (gerr == nil) || (werr == nil && string(got) != string(want)) {
				t.Fatalf("appendTime(%v) = %s, %v; the answers' encoding writes %s, %v", at, got, gerr, want, werr)
			}
		}
	})
}
