package permit

import (
	"errors"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/localtime"
)

// Shanghai returns the zone pass hours are read in (see localtime.Shanghai).
func Shanghai() *time.Location { return localtime.Shanghai() }

// Hours is a daily window in local time (see localtime.Hours).
type Hours = localtime.Hours

// ParseHours reads "HH:MM" bounds (see localtime.ParseHours).
func ParseHours(from, to string) (Hours, error) { return localtime.ParseHours(from, to) }

// Clock writes minutes after midnight as "HH:MM".
func Clock(m int) string { return localtime.Clock(m) }

// hoursField parses a window given under field ("hours"), adding its faults to ve.
func hoursField(ve *apperr.ValidationError, field, from, to string) (Hours, bool) {
	h, err := ParseHours(from, to)
	var hv *apperr.ValidationError
	if errors.As(err, &hv) {
		for _, f := range hv.Fields {
			ve.Add(field+"."+f.Field, f.Message)
		}
		return Hours{}, false
	}
	return h, true
}
