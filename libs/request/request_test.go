package request

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/cursor"
)

type body struct {
	VIN  string `json:"vin"`
	Mass int    `json:"gross_mass_kg"`
	Day  Date   `json:"day"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantField string
	}{
		{"valid", `{"vin":"X","gross_mass_kg":3,"day":"2024-02-29"}`, ""},
		{"empty", ``, "body"},
		{"malformed", `{"vin":`, "body"},
		{"syntax", `{"vin" "x"}`, "body"},
		{"unknown field", `{"vin":"X","colour":"y"}`, "colour"},
		{"wrong type", `{"gross_mass_kg":"heavy"}`, "gross_mass_kg"},
		{"impossible date", `{"day":"2023-02-29"}`, "body"},
		{"date not a string", `{"day":20230101}`, "body"},
		{"trailing data", `{"vin":"X"} {"vin":"Y"}`, "body"},
		{"trailing garbage", `{"vin":"X"} x`, "body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b body
			err := Decode(strings.NewReader(tc.in), &b)
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("Decode = %v, want nil", err)
				}
				return
			}
			var ve *apperr.ValidationError
			if !errors.As(err, &ve) || ve.Fields[0].Field != tc.wantField {
				t.Fatalf("Decode = %v, want a validation error on %q", err, tc.wantField)
			}
		})
	}
}

func TestCursorRoundTrip(t *testing.T) {
	if got := EncodeCursor(""); got != "" {
		t.Fatalf("EncodeCursor(\"\") = %q", got)
	}
	if EncodeCursor("LZZ1") == "LZZ1" {
		t.Fatal("cursor is not opaque")
	}
}

func TestNextCursor(t *testing.T) {
	at := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	key := func(id string) cursor.Key { return cursor.Key{At: at, ID: id} }
	if got := NextCursor([]string{"a", "b"}, 3, key); got != "" {
		t.Fatalf("a short page has next_cursor %q", got)
	}
	if got := NextCursor([]string{}, 0, key); got != "" {
		t.Fatalf("an empty page has next_cursor %q", got)
	}
	got := NextCursor([]string{"a", "b"}, 2, key)
	if got != EncodeCursor(key("b").String()) {
		t.Fatalf("a full page's next_cursor = %q, want the last item's key", got)
	}
}

func TestFloat(t *testing.T) {
	for _, s := range []string{"39.33", "-90", " 112.5 ", "0", "1e-400", "1.5e3"} {
		if _, err := Float(s); err != nil {
			t.Errorf("Float(%q) = %v, want a number", s, err)
		}
	}
	for _, s := range []string{"NaN", "nan", "Inf", "+Inf", "-inf", "Infinity", "-infinity", "1e999", "-1e400"} {
		if _, err := Float(s); !errors.Is(err, ErrNotFinite) {
			t.Errorf("Float(%q) = %v, want ErrNotFinite", s, err)
		}
	}
	for _, s := range []string{"", "abc", "1,5", "39.3N", "-NaN"} {
		if _, err := Float(s); err == nil || errors.Is(err, ErrNotFinite) {
			t.Errorf("Float(%q) = %v, want not a number", s, err)
		}
	}
}

// TestDecodeRefusesOverflow: a JSON body cannot carry NaN or an infinity, and a number that
// overflows a float64 is refused naming its field.
func TestDecodeRefusesOverflow(t *testing.T) {
	var b struct {
		Lat  float64  `json:"lat"`
		Lon  *float64 `json:"lon"`
		Vals []any    `json:"vals"`
	}
	for in, field := range map[string]string{`{"lat": 1e999}`: "lat", `{"lon": -1e400}`: "lon", `{"lat": NaN}`: "body",
		`{"lon": Infinity}`: "body", `{"vals": [1e999]}`: "vals"} {
		err := Decode(strings.NewReader(in), &b)
		var ve *apperr.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Field != field {
			t.Errorf("Decode(%s) = %v, want invalid %s", in, err, field)
		}
	}
}
