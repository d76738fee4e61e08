package localtime

import (
	"encoding/json"
	"testing"
	"time"
)

func TestHours(t *testing.T) {
	loc := Shanghai()
	at := func(hhmm string) time.Time {
		tm, _ := time.ParseInLocation("2006-01-02 15:04", "2026-11-29 "+hhmm, loc)
		return tm
	}
	tests := []struct {
		from, to string
		at       string
		want     bool
	}{
		{"22:00", "05:00", "23:30", true},
		{"22:00", "05:00", "04:59", true},
		{"22:00", "05:00", "05:00", false},
		{"22:00", "05:00", "21:59", false},
		{"22:00", "05:00", "22:00", true},
		{"08:00", "18:00", "12:00", true},
		{"08:00", "18:00", "18:00", false},
		{"00:00", "24:00", "23:59", true},
	}
	for _, tc := range tests {
		h, err := ParseHours(tc.from, tc.to)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.Contains(at(tc.at), loc); got != tc.want {
			t.Errorf("%s-%s contains %s = %v, want %v", tc.from, tc.to, tc.at, got, tc.want)
		}
	}
	for _, bad := range [][2]string{{"25:00", "05:00"}, {"22:00", "22:00"}, {"2200", "05:00"}, {"24:00", "05:00"}} {
		if _, err := ParseHours(bad[0], bad[1]); err == nil {
			t.Errorf("ParseHours(%q, %q) accepted", bad[0], bad[1])
		}
	}
	if got := Clock(22*60 + 5); got != "22:05" {
		t.Errorf("Clock = %q", got)
	}
}

func TestDayOf(t *testing.T) {
	tests := []struct {
		at   string
		want string
	}{
		{"2022-12-31T15:59:59Z", "2022-12-31"},
		{"2022-12-31T16:00:00Z", "2023-01-01"}, // midnight in China
		{"2022-12-31T20:00:00Z", "2023-01-01"},
		{"2023-01-01T00:00:00+08:00", "2023-01-01"},
		{"2024-02-29T23:59:59+08:00", "2024-02-29"},
	}
	for _, tc := range tests {
		at, err := time.Parse(time.RFC3339, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		got := DayOf(at)
		if got.Format(time.DateOnly) != tc.want || got.Location() != time.UTC || got.Hour() != 0 {
			t.Errorf("DayOf(%s) = %v, want %s at midnight UTC", tc.at, got, tc.want)
		}
	}
}

func TestDayJSON(t *testing.T) {
	var d Day
	if err := json.Unmarshal([]byte(`"2023-01-01"`), &d); err != nil || !d.Equal(time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Unmarshal = %v, %v", d, err)
	}
	if b, err := json.Marshal(d); err != nil || string(b) != `"2023-01-01"` || d.String() != "2023-01-01" {
		t.Fatalf("Marshal = %s, %v; String = %s", b, err, d)
	}
	for _, bad := range []string{`"2023-02-30"`, `"2023-1-1"`, `20230101`} {
		var d Day
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("Unmarshal(%s) = %v, want an error", bad, d)
		}
	}
}

func TestAppendRFC3339(t *testing.T) {
	for _, in := range []time.Time{
		time.Date(2026, 12, 3, 8, 21, 55, 0, time.UTC),
		time.Date(2026, 12, 3, 23, 59, 59, 123456789, time.UTC),
		time.Date(2026, 12, 3, 16, 0, 0, 120000000, time.FixedZone("X", -5*3600)),
		time.Date(1988, 7, 1, 12, 0, 0, 0, time.UTC),
		{},
	} {
		want := in.In(CST).Format(time.RFC3339Nano)
		if got := string(AppendRFC3339(nil, in)); got != want {
			t.Errorf("AppendRFC3339(%v) = %s, want %s", in, got, want)
		}
	}
	if got := Format(time.Date(2026, 12, 3, 8, 21, 55, 999, time.UTC)); got != "2026-12-03T16:21:55+08:00" {
		t.Errorf("Format = %s", got)
	}
}

func TestParseRFC3339Offsets(t *testing.T) {
	for _, s := range []string{"2026-01-02T15:04:05+08:00", "2026-01-02T15:04:05Z", "2026-01-02T15:04:05+14:00", "2026-01-02T15:04:05-12:00", "2026-01-02T15:04:05.123-14:00"} {
		if _, err := ParseRFC3339(s); err != nil {
			t.Errorf("ParseRFC3339(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"2026-01-02T15:04:05+24:00", "2026-01-02T15:04:05+14:01", "2026-01-02T15:04:05-15:00", "2026-01-02T15:04:05+99:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-02:00", "tonight"} {
		if _, err := ParseRFC3339(s); err == nil {
			t.Errorf("ParseRFC3339(%q) took it", s)
		}
	}
}
