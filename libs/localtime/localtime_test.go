package localtime

import (
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
