package sensing

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
)

func fp(v float64) *float64 { return &v }

func goodInput() ReadingInput {
	return ReadingInput{ReadingID: "R-0001", StationID: "RS-01", Plate: " 晋f 12345 ", PlateColour: "Yellow", MeasuredAt: "2026-03-10T09:15:02+08:00",
		Opacity: fp(12), NO: fp(300), Ringelmann: fp(0), SpeedKmh: fp(42), AccelMS2: fp(0.4), WindMS: fp(1.5)}
}

func fieldsOf(err error) []string {
	var ve *apperr.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestNormaliseReading(t *testing.T) {
	now := time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC)
	r, err := goodInput().Normalise(now, "[0].")
	if err != nil {
		t.Fatal(err)
	}
	if r.Plate != "晋F12345" || r.PlateColour != "yellow" || !r.MeasuredAt.Equal(time.Date(2026, 3, 10, 1, 15, 2, 0, time.UTC)) ||
		r.Key != "RS-01|R-0001" || r.Hash == "" {
		t.Fatalf("normalised = %+v", r)
	}
	same := goodInput()
	same.Plate, same.MeasuredAt = "晋F12345", "2026-03-10T01:15:02Z"
	if r2, _ := same.Normalise(now, ""); r2.Hash != r.Hash {
		t.Fatal("the same reading spelled differently has another fingerprint")
	}
	other := goodInput()
	other.Opacity = fp(13)
	if r3, _ := other.Normalise(now, ""); r3.Hash == r.Hash {
		t.Fatal("a different reading has the same fingerprint")
	}
	cases := []struct {
		name   string
		change func(*ReadingInput)
		want   []string
	}{
		{"no reading id", func(in *ReadingInput) { in.ReadingID = "" }, []string{"[3].reading_id"}},
		{"reading id with spaces", func(in *ReadingInput) { in.ReadingID = "R 1" }, []string{"[3].reading_id"}},
		{"no station", func(in *ReadingInput) { in.StationID = "" }, []string{"[3].station_id"}},
		{"bad plate", func(in *ReadingInput) { in.Plate = "ABC" }, []string{"[3].plate"}},
		{"bad colour", func(in *ReadingInput) { in.PlateColour = "red" }, []string{"[3].plate_colour"}},
		{"not RFC 3339", func(in *ReadingInput) { in.MeasuredAt = "2026-03-10 09:15" }, []string{"[3].measured_at"}},
		{"in the future", func(in *ReadingInput) { in.MeasuredAt = "2026-03-10T02:10:00Z" }, []string{"[3].measured_at"}},
		{"no pollutant", func(in *ReadingInput) { in.Opacity, in.NO, in.Ringelmann = nil, nil, nil }, []string{"[3].no_ppm"}},
		{"opacity over 100", func(in *ReadingInput) { in.Opacity = fp(101) }, []string{"[3].opacity_pct"}},
		{"negative NO", func(in *ReadingInput) { in.NO = fp(-1) }, []string{"[3].no_ppm"}},
		{"half a Ringelmann grade", func(in *ReadingInput) { in.Ringelmann = fp(1.5) }, []string{"[3].ringelmann"}},
		{"no speed", func(in *ReadingInput) { in.SpeedKmh = nil }, []string{"[3].speed_kmh"}},
		{"no acceleration", func(in *ReadingInput) { in.AccelMS2 = nil }, []string{"[3].accel_ms2"}},
		{"impossible humidity", func(in *ReadingInput) { in.HumidityPct = fp(120) }, []string{"[3].humidity_pct"}},
		{"empty photo reference", func(in *ReadingInput) { in.Photos = []string{"ok.jpg", ""} }, []string{"[3].photos[1]"}},
		{"several at once", func(in *ReadingInput) { in.Plate, in.SpeedKmh = "x", nil }, []string{"[3].plate", "[3].speed_kmh"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := goodInput()
			tc.change(&in)
			_, err := in.Normalise(now, "[3].")
			if got := fieldsOf(err); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("fields = %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}

func TestStationValidate(t *testing.T) {
	now := time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC)
	good := func() Station {
		return Station{ID: "RS-01", Name: "Kaifa Road", Lat: 39.33, Lon: 112.43, OperatorID: "op-1", CalibratedOn: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)}
	}
	cases := []struct {
		name   string
		change func(*Station)
		want   []string
	}{
		{"good", func(*Station) {}, nil},
		{"no id", func(s *Station) { s.ID = "" }, []string{"station_id"}},
		{"no position", func(s *Station) { s.Lat, s.Lon = 0, 0 }, []string{"lat"}},
		{"no operator", func(s *Station) { s.OperatorID = " " }, []string{"operator_id"}},
		{"never calibrated", func(s *Station) { s.CalibratedOn = time.Time{} }, []string{"calibrated_on"}},
		{"calibrated tomorrow", func(s *Station) { s.CalibratedOn = time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC) }, []string{"calibrated_on"}},
		{"calibrated today (local)", func(s *Station) { s.CalibratedOn = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC) }, nil},
		{"negative validity", func(s *Station) { s.CalibrationValidDays = -1 }, []string{"calibration_valid_days"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := good()
			tc.change(&s)
			if got := fieldsOf(s.Validate(now)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("fields = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	r := func(id, hash string) Reading {
		return Reading{Key: ReadingKey("RS-1", id), ReadingID: id, StationID: "RS-1", Hash: hash, Verdict: Pass}
	}
	stored := map[string]Reading{
		"RS-1|a": {Key: "RS-1|a", Hash: "h1", Verdict: Exceed},
		"RS-1|b": {Key: "RS-1|b", Hash: "h2", Verdict: Pass},
	}
	rs := []Reading{
		r("a", "h1"), // stored, same content: duplicate with the stored verdict
		r("b", "hX"), // stored, other content: conflict
		r("c", "h3"), // new: created
		r("c", "h3"), // again in the batch, same content: duplicate of the first
		r("c", "h4"), // again in the batch, other content: conflict
		r("a", "h9"), // stored, other content, repeated in the batch: conflict
	}
	firstOf := map[string]int{"RS-1|a": 0, "RS-1|b": 1, "RS-1|c": 2}
	res, created := outcomes(rs, firstOf, stored)
	var got []Outcome
	for _, it := range res.Items {
		got = append(got, it.Status)
	}
	want := []Outcome{Duplicate, Conflict, Created, Duplicate, Conflict, Conflict}
	if !reflect.DeepEqual(got, want) || res.Created != 1 || res.Duplicates != 2 || res.Conflicts != 3 {
		t.Fatalf("outcomes = %v (%+v), want %v", got, res, want)
	}
	if res.Items[0].Reading.Verdict != Exceed || len(created) != 1 || created[0].ReadingID != "c" {
		t.Fatalf("a duplicate answers the stored verdict: %+v; created %v", res.Items[0].Reading, created)
	}
}
