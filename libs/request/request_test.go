package request

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/cursor"
)

type body struct {
	VIN  string `json:"vin"`
	Mass int    `json:"gross_mass_kg"`
	Day  Date   `json:"day"`
	In   *struct {
		On *Date `json:"on"`
	} `json:"inner"`
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
		{"impossible date", `{"day":"2023-02-29"}`, "day"},
		{"date not a string", `{"day":20230101}`, "day"},
		{"nested date", `{"inner":{"on":"2023-13-01"}}`, "inner.on"},
		{"trailing data", `{"vin":"X"} {"vin":"Y"}`, "body"},
		{"trailing garbage", `{"vin":"X"} x`, "body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantDecode(t, tc.in, &body{}, tc.wantField) })
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

func TestPage(t *testing.T) {
	tests := []struct {
		query     string
		wantLimit int
		wantAfter string
		wantField string
	}{
		{"", DefaultLimit, "", ""},
		{"limit=1", 1, "", ""},
		{"limit=500", MaxLimit, "", ""},
		{"limit=0", 0, "", "limit"},
		{"limit=501", 0, "", "limit"},
		{"limit=ten", 0, "", "limit"},
		{"cursor=" + EncodeCursor("LZZ1"), DefaultLimit, "LZZ1", ""},
		{"limit=5&cursor=" + EncodeCursor("k|2"), 5, "k|2", ""},
		{"cursor=%25%25", 0, "", "cursor"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest("GET", "/v1/x?"+tc.query, nil)
			limit, after, err := Page(c)
			if tc.wantField != "" {
				var ve *apperr.ValidationError
				if !errors.As(err, &ve) || ve.Fields[0].Field != tc.wantField {
					t.Fatalf("Page = %v, want a validation error on %q", err, tc.wantField)
				}
				return
			}
			if err != nil || limit != tc.wantLimit || after != tc.wantAfter {
				t.Fatalf("Page = %d, %q, %v; want %d, %q", limit, after, err, tc.wantLimit, tc.wantAfter)
			}
		})
	}
}

func TestQueryPeriod(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	tests := []struct {
		query      string
		want       Period
		wantFields []string
	}{
		{"", Period{}, nil},
		{"from=2026-01-01", Period{From: day("2026-01-01"), HasFrom: true}, nil},
		{"to=2026-02-01", Period{To: day("2026-02-01"), HasTo: true}, nil},
		{"from=2026-01-01&to=2026-02-01", Period{From: day("2026-01-01"), To: day("2026-02-01"), HasFrom: true, HasTo: true}, nil},
		{"from=2026-02-30", Period{}, []string{"from"}},
		{"from=yesterday&to=2026-13-01", Period{}, []string{"from", "to"}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest("GET", "/v1/x?"+tc.query, nil)
			got, err := QueryPeriod(c)
			if tc.wantFields == nil {
				if err != nil || got != tc.want {
					t.Fatalf("QueryPeriod = %+v, %v; want %+v", got, err, tc.want)
				}
				return
			}
			var ve *apperr.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) != len(tc.wantFields) {
				t.Fatalf("QueryPeriod = %v, want validation errors on %v", err, tc.wantFields)
			}
			for i, f := range tc.wantFields {
				if ve.Fields[i].Field != f || ve.Fields[i].Message != "must be a YYYY-MM-DD date" {
					t.Errorf("field %d = %+v, want %q: must be a YYYY-MM-DD date", i, ve.Fields[i], f)
				}
			}
		})
	}
}

func TestOnlyQuery(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for _, tc := range []struct{ query, field string }{
		{"", ""},
		{"colour=yellow&lat=1&lon=2", ""},
		{"colour=", ""},
		{"&&colour=yellow&", ""},
		{"color=yellow", "color"},
		{"colour=yellow&plate_colour=blue", "plate_colour"},
		{"col%6Fr=yellow", "color"},
		{"colour", ""},
	} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/v1/x?"+tc.query, nil)
		err := OnlyQuery(c, "colour", "lat", "lon")
		var ve *apperr.ValidationError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%q: %v, want accepted", tc.query, err)
		case tc.field != "" && (!errors.As(err, &ve) || ve.Fields[0].Field != tc.field):
			t.Errorf("%q: %v, want refused naming %s", tc.query, err, tc.field)
		}
	}
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/v1/x?colour=yellow&lat=39.3&lon=112.4", nil)
	if n := testing.AllocsPerRun(100, func() { _ = OnlyQuery(c, "colour", "lat", "lon") }); n != 0 {
		t.Errorf("OnlyQuery allocates %v times for plain names; the checkpoint's lookup calls it", n)
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

type bounded struct {
	Name  string     `json:"name"`
	ID    string     `json:"id" input:"id"`
	Note  string     `json:"note" input:"text"`
	Lane  string     `json:"lane" input:"name,max=4"`
	Tags  []string   `json:"tags" input:"id,items=2"`
	Mass  int        `json:"mass" input:"min=0,max=100"`
	At    *time.Time `json:"at"`
	Items []struct {
		U string `json:"unit" input:"id"`
	} `json:"items"`
	Extra map[string]string `json:"extra"`
	Inner *bounded          `json:"inner"`
}

func TestDecodeBounds(t *testing.T) {
	long := strings.Repeat("长", MaxName)
	tests := []struct {
		name, in, wantField string
	}{
		{"valid", `{"name":"` + long + `","id":"site-1","note":"line 1\nline 2\ttab","lane":"左2","tags":["a","b"],"mass":100,"at":"2026-01-02T03:04:05+14:00","items":[{"unit":"mg/L"}],"extra":{"k":"v"}}`, ""},
		{"name too long (runes)", `{"name":"` + long + `长"}`, "name"},
		{"id too long", `{"id":"` + strings.Repeat("x", MaxID+1) + `"}`, "id"},
		{"text too long", `{"note":"` + strings.Repeat("x", MaxText+1) + `"}`, "note"},
		{"own max", `{"lane":"abcde"}`, "lane"},
		{"NUL in name", `{"name":"a\u0000b"}`, "name"},
		{"newline in name", `{"name":"a\nb"}`, "name"},
		{"C1 in text", `{"note":"a\u0085b"}`, "note"},
		{"NUL in text", `{"note":"a\u0000b"}`, "note"},
		{"RLO in name", `{"name":"abc\u202edcba"}`, "name"},
		{"isolate in text", `{"note":"x\u2067y"}`, "note"},
		{"RLM in id", `{"id":"site\u200f1"}`, "id"},
		{"too many items", `{"tags":["a","b","c"]}`, "tags"},
		{"bad item", `{"tags":["a","b\u0000"]}`, "tags[1]"},
		{"nested item", `{"items":[{"unit":"ok"},{"unit":"a\u202eb"}]}`, "items[1].unit"},
		{"number above", `{"mass":101}`, "mass"},
		{"number below", `{"mass":-1}`, "mass"},
		{"offset +24:00", `{"at":"2026-01-02T03:04:05+24:00"}`, "at"},
		{"offset -14:01", `{"at":"2026-01-02T03:04:05-14:01"}`, "at"},
		{"year 0 in UTC", `{"at":"0001-01-01T00:00:00+01:00"}`, "at"},
		{"map value", `{"extra":{"k":"a\u202eb"}}`, "extra.k"},
		{"map key", `{"extra":{"k\u0000":"v"}}`, "extra.k\x00"},
		{"duplicate key", `{"name":"a","name":"b"}`, "name"},
		{"duplicate nested key", `{"inner":{"id":"a","note":"x","id":"b"}}`, "inner.id"},
		{"duplicate key in array item", `{"items":[{"unit":"a"},{"unit":"a","unit":"b"}]}`, "items[1].unit"},
		{"invalid UTF-8", "{\"name\":\"\xff\"}", "name"},
		{"deep bound", `{"inner":{"inner":{"name":"\u202e"}}}`, "inner.inner.name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantDecode(t, tc.in, &bounded{}, tc.wantField) })
	}
}

func TestDecodeTopLevelArrayIsNotBoundByMaxItems(t *testing.T) {
	var xs []int
	in := "[" + strings.Repeat("1,", MaxItems) + "1]"
	if err := Decode(strings.NewReader(in), &xs); err != nil || len(xs) != MaxItems+1 {
		t.Fatalf("Decode = %v (%d items)", err, len(xs))
	}
}

func TestCheckString(t *testing.T) {
	if err := CheckString("plate", "晋A12345", "id"); err != nil {
		t.Fatal(err)
	}
	var ve *apperr.ValidationError
	if err := CheckString("plate", "晋A\u202e12345", "id"); !errors.As(err, &ve) || ve.Fields[0].Field != "plate" {
		t.Fatalf("CheckString = %v", err)
	}
}

// wantDecode decodes in into v and wants no error (wantField "") or a validation error whose
// first field is wantField.
func wantDecode(t *testing.T, in string, v any, wantField string) {
	t.Helper()
	err := Decode(strings.NewReader(in), v)
	if wantField == "" {
		if err != nil {
			t.Fatalf("Decode = %v, want nil", err)
		}
		return
	}
	var ve *apperr.ValidationError
	if !errors.As(err, &ve) || ve.Fields[0].Field != wantField {
		t.Fatalf("Decode = %v, want a validation error on %q", err, wantField)
	}
}
