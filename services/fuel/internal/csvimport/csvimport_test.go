package csvimport

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

func fields(err error) []string {
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

func TestPerParameter(t *testing.T) {
	file := "\ufeffSample_ID,site_id,product,grade,sampled_at,parameter,value,unit\n" +
		"L1-001,st-1,gasoline,92,2026-03-05T10:30:00+08:00,olefins,16.2,%(v/v)\n" +
		"L1-001,st-1,gasoline,92,2026-03-05T10:30:00+08:00,sulfur,8,ppm\n" +
		"\n" +
		"L1-002,dep-1,diesel,0,2026-03-05 11:00,cetane_number,52,\n"
	f, err := Parse(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if f.Layout != PerParameter || len(f.Items) != 2 {
		t.Fatalf("layout %s, %d items", f.Layout, len(f.Items))
	}
	a := f.Items[0]
	want := []limits.Reading{{Parameter: "olefins", Value: 16.2, Unit: "%(v/v)"}, {Parameter: "sulfur", Value: 8, Unit: "ppm"}}
	if a.Input.ID != "L1-001" || a.Input.SiteID != "st-1" || !slices.Equal(a.Input.Results, want) || !a.Input.SampledAt.Equal(time.Date(2026, 3, 5, 2, 30, 0, 0, time.UTC)) {
		t.Fatalf("first sample = %+v", a.Input)
	}
	if row, col := a.Locate("results[1].unit"); row != 3 || col != "unit" {
		t.Fatalf("Locate(results[1].unit) = %d %s, want row 3 unit", row, col)
	}
	if row, col := a.Locate("grade"); row != 2 || col != "grade" {
		t.Fatalf("Locate(grade) = %d %s", row, col)
	}
	b := f.Items[1]
	if b.Row != 5 || !b.Input.SampledAt.Equal(time.Date(2026, 3, 5, 3, 0, 0, 0, time.UTC)) || b.Input.Results[0].Unit != "" {
		t.Fatalf("second sample (China local time, blank line skipped) = row %d %+v", b.Row, b.Input)
	}
	if got := len(f.Inputs()); got != 2 {
		t.Fatalf("Inputs = %d", got)
	}
}

func TestPerSample(t *testing.T) {
	file := "sample_id;site_id;product;grade;sampled_at;sulfur (mg/kg);olefins [%];research_octane;cetane_number\n" +
		"L1-003;st-1;gasoline;95;2026-03-06T09:00:00Z;7;14.5;95.5;\n" +
		"L1-004;st-1;diesel;-10;2026-03-06T09:00:00Z;6;;;51.5\n"
	f, err := Parse(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if f.Layout != PerSample || len(f.Items) != 2 {
		t.Fatalf("layout %s, %d items", f.Layout, len(f.Items))
	}
	want := []limits.Reading{{Parameter: "sulfur", Value: 7, Unit: "mg/kg"}, {Parameter: "olefins", Value: 14.5, Unit: "%"}, {Parameter: "research_octane", Value: 95.5}}
	if !slices.Equal(f.Items[0].Input.Results, want) {
		t.Fatalf("results = %+v, want %+v", f.Items[0].Input.Results, want)
	}
	d := f.Items[1]
	if len(d.Input.Results) != 2 || d.Input.Results[1].Parameter != "cetane_number" {
		t.Fatalf("empty cells must be skipped: %+v", d.Input.Results)
	}
	if row, col := d.Locate("results[1].unit"); row != 3 || col != "cetane_number" {
		t.Fatalf("Locate = %d %s, want row 3 column cetane_number", row, col)
	}
	if row, col := f.Items[0].Locate("results[0].parameter"); Field(row, col) != "rows[2].sulfur (mg/kg)" {
		t.Fatalf("Field = %s", Field(row, col))
	}
}

func TestParseRefuses(t *testing.T) {
	head := "sample_id,site_id,product,grade,sampled_at,parameter,value,unit\n"
	cases := []struct {
		name   string
		file   string
		fields []string
	}{
		{"empty", "", []string{"body"}},
		{"header only", head, []string{"body"}},
		{"missing column", "sample_id,site_id,product,parameter,value,unit\nA,s,gasoline,sulfur,1,ppm\n", []string{"rows[1].sampled_at"}},
		{"unknown column in a per-parameter file", "sample_id,site_id,product,grade,sampled_at,parameter,value,unit,colour\nA,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,ppm,red\n", []string{"rows[1].colour"}},
		{"repeated column", "sample_id,site_id,product,sampled_at,sulfur (ppm),SULFUR (ppm)\nA,s,gasoline,2026-03-01T00:00:00Z,1,2\n", []string{"rows[1].SULFUR (ppm)"}},
		{"bad parameter header", "sample_id,site_id,product,sampled_at,sulfur in ppm\nA,s,gasoline,2026-03-01T00:00:00Z,1\n", []string{"rows[1].sulfur in ppm"}},
		{"no parameter columns", "sample_id,site_id,product,sampled_at\nA,s,gasoline,2026-03-01T00:00:00Z\n", []string{"rows[1]"}},
		{"bad numbers and times, every row reported", head +
			"A,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1;5,ppm\n" +
			"B,s,gasoline,92,yesterday,sulfur,3,ppm\n" +
			"C,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,,ppm\n", []string{"rows[2].value", "rows[3].sampled_at", "rows[4].value"}},
		{"rows of one sample disagree", head +
			"A,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,ppm\n" +
			"A,s,gasoline,95,2026-03-01T00:00:00Z,olefins,10,%\n", []string{"rows[3].grade"}},
		{"too many cells", head + "A,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,ppm,extra\n", []string{"rows[2]"}},
		{"a bad cell in a per-sample file", "sample_id,site_id,product,sampled_at,sulfur (ppm)\nA,s,gasoline,2026-03-01T00:00:00Z,low\n", []string{"rows[2].sulfur (ppm)"}},
		{"broken quoting", head + "A,s,gasoline,92,2026-03-01T00:00:00Z,\"sulfur,1,ppm\n", []string{"rows[2].parameter"}},
		{"a stray quote in the first cell", head + "A\"1,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,ppm\n", []string{"rows[2].sample_id"}},
		{"a stray quote after a quoted cell", head + "\"A\"1,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,ppm\n", []string{"rows[2].sample_id"}},
		{"a stray quote in a later row", head + "A,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,ppm\nB,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,p\"pm\n", []string{"rows[3].unit"}},
		{"a NUL in a cell", head + "A,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,pp\x00m\n", []string{"rows[2].unit"}},
		{"a bidi override in a cell", head + "A\u202e1,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,ppm\n", []string{"rows[2].sample_id"}},
		{"an isolate in a cell", head + "A,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,ppm\nB,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,\u2066ppm\n", []string{"rows[3].unit"}},
		{"a line break inside a quoted cell", head + "A,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,\"pp\nm\"\n", []string{"rows[2].unit"}},
		{"a control character in the header", "sample_id,site_id\x07,product,grade,sampled_at,parameter,value,unit\n", []string{"rows[1].column 2"}},
		{"a cell too long", head + "A,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1," + strings.Repeat("m", 300) + "\n", []string{"rows[2].unit"}},
		{"not UTF-8", head + "A,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,\xff\n", []string{"rows[2].unit"}},
		{"too many rows", head + strings.Repeat("A,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1,ppm\n", MaxRows+1), []string{fmt.Sprintf("rows[%d]", MaxRows+2)}},
		{"an unterminated quote", head + "\"A,s,gasoline\n", []string{"rows[2].sample_id"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.file))
			if !errors.Is(err, apperr.ErrInvalid) {
				t.Fatalf("Parse = %v, want invalid input", err)
			}
			if got := fields(err); !slices.Equal(got, tc.fields) {
				t.Fatalf("fields = %v, want %v", got, tc.fields)
			}
		})
	}
}
