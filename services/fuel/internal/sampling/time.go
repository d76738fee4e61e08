package sampling

import (
	"fmt"
	"time"

	"github.com/clearsky/clearsky/libs/localtime"
)

// chinaTime is China Standard Time, the zone of calendar days and months in this service. The
// day a sample is judged on is localtime.DayOf its sampling time.
var chinaTime = localtime.Shanghai()

// Month is a calendar month in China.
type Month struct {
	Year  int
	Month time.Month
}

// ParseMonth reads "YYYY-MM".
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return Month{}, fmt.Errorf("%q is not a YYYY-MM month", s)
	}
	return Month{t.Year(), t.Month()}, nil
}

// MonthOf returns the month, in China, of instant t.
func MonthOf(t time.Time) Month {
	y, m, _ := t.In(chinaTime).Date()
	return Month{y, m}
}

// String is "YYYY-MM".
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// Start is the instant the month begins.
func (m Month) Start() time.Time { return time.Date(m.Year, m.Month, 1, 0, 0, 0, 0, chinaTime).UTC() }

// End is the instant the next month begins.
func (m Month) End() time.Time { return time.Date(m.Year, m.Month+1, 1, 0, 0, 0, 0, chinaTime).UTC() }

// FirstDay and LastDay are the month's first and last calendar days (as midnight UTC dates).
func (m Month) FirstDay() time.Time { return time.Date(m.Year, m.Month, 1, 0, 0, 0, 0, time.UTC) }

// LastDay is the month's last calendar day (as a midnight UTC date).
func (m Month) LastDay() time.Time { return time.Date(m.Year, m.Month+1, 0, 0, 0, 0, 0, time.UTC) }

// Next is the following month.
func (m Month) Next() Month {
	if m.Month == time.December {
		return Month{m.Year + 1, time.January}
	}
	return Month{m.Year, m.Month + 1}
}

// Before reports whether m comes before o.
func (m Month) Before(o Month) bool {
	return m.Year < o.Year || (m.Year == o.Year && m.Month < o.Month)
}
