// Package localtime holds local (China Standard) time as the services read it: the daily
// windows that passes, restrictions and alerts are written in ("22:00"-"05:00" across midnight,
// "00:00"-"24:00" the whole day), and the calendar days that limit tables take effect on and
// samples and readings are judged on.
package localtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
)

// shanghai loads the zone once: time.LoadLocation reads the time-zone database on every call.
var shanghai = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
})

// Shanghai returns the Asia/Shanghai zone pass hours and calendar days are read in, or a fixed
// +08:00 zone when the system has no time-zone data (China has kept +08:00 without daylight
// saving since 1991, so both agree on every date the services handle).
func Shanghai() *time.Location { return shanghai() }

// DayOf returns the calendar day of instant t in China, as midnight UTC of that date (the form
// Day values take): a sample taken at 2022-12-31T20:00Z is one of 2023-01-01.
func DayOf(t time.Time) time.Time {
	y, m, d := t.In(shanghai()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Day is a calendar day in a table ("2023-01-01"), as midnight UTC of that date. It decodes
// strictly from, and encodes to, a JSON string "YYYY-MM-DD".
type Day struct{ time.Time }

// UnmarshalJSON parses "YYYY-MM-DD", refusing impossible dates such as 2023-02-30.
func (d *Day) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return apperr.ValueError(Day{}, "a day is a string \"YYYY-MM-DD\"")
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return apperr.ValueError(Day{}, fmt.Sprintf("day %q is not a real YYYY-MM-DD day", s))
	}
	d.Time = t
	return nil
}

// MarshalJSON writes "YYYY-MM-DD".
func (d Day) MarshalJSON() ([]byte, error) { return json.Marshal(d.Format(time.DateOnly)) }

// String is the day as "YYYY-MM-DD".
func (d Day) String() string { return d.Format(time.DateOnly) }

// Hours is a daily window in local time, in minutes after midnight: From included, To excluded.
// To before From runs across midnight (22:00-05:00); To may be 24:00 (1440). From equal to To is
// not a window.
type Hours struct {
	From int
	To   int
}

// ParseHours reads "HH:MM" bounds; its error is an *apperr.ValidationError naming "from" or "to".
func ParseHours(from, to string) (Hours, error) {
	var ve apperr.ValidationError
	f, err := parseClock(from, false)
	if err != nil {
		ve.Add("from", err.Error())
	}
	t, err := parseClock(to, true)
	if err != nil {
		ve.Add("to", err.Error())
	}
	if ve.Err() == nil && f == t {
		ve.Add("to", "equals from; for the whole day use 00:00 to 24:00")
	}
	if err := ve.Err(); err != nil {
		return Hours{}, err
	}
	return Hours{From: f, To: t}, nil
}

func parseClock(s string, allow24 bool) (int, error) {
	digit := func(b byte) (int, bool) { return int(b - '0'), b >= '0' && b <= '9' }
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	h1, ok1 := digit(s[0])
	h2, ok2 := digit(s[1])
	m1, ok3 := digit(s[3])
	m2, ok4 := digit(s[4])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	h, m := h1*10+h2, m1*10+m2
	if allow24 && h == 24 && m == 0 {
		return 24 * 60, nil
	}
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("%q is not a time of day HH:MM (00:00 to 23:59, or 24:00 as the end)", s)
	}
	return h*60 + m, nil
}

// Contains reports whether the local clock time of t (seconds ignored) falls in the window.
func (h Hours) Contains(t time.Time, loc *time.Location) bool {
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	if h.From < h.To {
		return m >= h.From && m < h.To
	}
	return m >= h.From || m < h.To
}

// String writes the window as "HH:MM-HH:MM".
func (h Hours) String() string { return Clock(h.From) + "-" + Clock(h.To) }

// Clock writes minutes after midnight as "HH:MM".
func Clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// CST is the district's zone in every answer: China Standard Time, +08:00, which Asia/Shanghai
// has kept all year since 1991. Answers write every instant in it (RFC 3339 with +08:00), and a
// day as a plain YYYY-MM-DD.
var CST = time.FixedZone("CST", 8*3600)

// AppendRFC3339 appends t as RFC 3339 with +08:00, its fraction of a second as time.RFC3339Nano
// writes it (trailing zeros left out): what time.Time.MarshalJSON writes for t.In(CST), without
// the quotes, in a third of the time.
func AppendRFC3339(b []byte, t time.Time) []byte {
	lt := t.In(CST)
	y, mo, d := lt.Date()
	h, mi, s := lt.Clock()
	if y < 0 || y > 9999 {
		return lt.AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10))
	if ns := lt.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, "+08:00"...)
}

// Format writes t to the second as RFC 3339 with +08:00 ("2026-12-03T16:21:55+08:00"), for
// times in messages.
func Format(t time.Time) string { return t.In(CST).Format(time.RFC3339) }

// MaxOffset is the largest UTC offset an instant may carry. The world's zones run from -12:00
// to +14:00 (Kiribati); Go's RFC 3339 parser takes any two-digit hour, +24:00 to +99:59 alike,
// and such a time is nobody's clock.
const MaxOffset = 14 * time.Hour

// CheckInstant reports what is wrong with an instant a client sent, or "": an offset beyond
// ±14:00, or a year that is not four digits in UTC and in +08:00 (answers could not write it).
func CheckInstant(t time.Time) string {
	_, off := t.Zone()
	if d := time.Duration(off) * time.Second; d > MaxOffset || d < -MaxOffset {
		return fmt.Sprintf("the UTC offset %s is out of range: offsets run from -14:00 to +14:00 (China is +08:00)", t.Format("-07:00"))
	}
	for _, y := range []int{t.UTC().Year(), t.In(CST).Year()} {
		if y < 1 || y > 9999 {
			return "the year must be from 0001 to 9999"
		}
	}
	return ""
}

// ParseRFC3339 parses an instant a client sent (time.RFC3339Nano, "2026-01-02T15:04:05+08:00"),
// refusing what CheckInstant refuses. The time keeps the offset it was written with.
func ParseRFC3339(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("must be an RFC 3339 time such as 2026-01-02T15:04:05+08:00")
	}
	if msg := CheckInstant(t); msg != "" {
		return time.Time{}, errors.New(msg)
	}
	return t, nil
}
