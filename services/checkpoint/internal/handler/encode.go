package handler

import (
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/services/checkpoint/internal/verdict"
)

// The officer's answer is the checkpoint's hot path, and most of its encoding time went into
// reflection and time.Time.MarshalJSON. appendAnswer writes it directly, byte for byte what the
// answers' JSON encoding (httpserver.MarshalJSON: encoding/json's, instants in +08:00) writes
// for answerJSON (encode_test.go holds it to that), without building answerJSON first.

// appendAnswer appends the JSON of a to b.
func appendAnswer(b []byte, a verdict.Answer) ([]byte, error) {
	var err error
	b = append(b, `{"plate":`...)
	b = appendString(b, a.Plate)
	if a.Colour != "" {
		b = append(b, `,"colour":`...)
		b = appendString(b, string(a.Colour))
	}
	if a.ColourUsed != "" {
		b = append(b, `,"colour_used":`...)
		b = appendString(b, string(a.ColourUsed))
	}
	if a.VIN != "" {
		b = append(b, `,"vin":`...)
		b = appendString(b, a.VIN)
	}
	b = append(b, `,"at":`...)
	if b, err = appendTime(b, a.At); err != nil {
		return nil, err
	}
	b = append(b, `,"verdict":`...)
	b = appendString(b, string(a.Verdict))
	b = append(b, `,"reasons":[`...)
	for i, r := range a.Reasons {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"code":`...)
		b = appendString(b, r.Code)
		b = append(b, `,"message":`...)
		b = appendString(b, r.Message)
		b = append(b, `,"severity":`...)
		b = appendString(b, string(r.Severity))
		b = append(b, `,"source":`...)
		b = appendString(b, string(r.Source))
		if r.Rule != "" {
			b = append(b, `,"rule":`...)
			b = appendString(b, r.Rule)
		}
		// A reason carries the freshness of the part it came from.
		for _, p := range a.Parts {
			if p.Part != r.Source {
				continue
			}
			if p.State != "" {
				b = append(b, `,"source_state":`...)
				b = appendString(b, string(p.State))
			}
			if !p.UpdatedAt.IsZero() {
				b = append(b, `,"source_updated_at":`...)
				if b, err = appendTime(b, p.UpdatedAt); err != nil {
					return nil, err
				}
				b = append(b, `,"source_age_seconds":`...)
				b = appendFloat(b, ageSeconds(a.At, p.UpdatedAt))
			}
			break
		}
		b = append(b, '}')
	}
	b = append(b, `],"parts":[`...)
	for i, p := range a.Parts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"part":`...)
		b = appendString(b, string(p.Part))
		b = append(b, `,"state":`...)
		b = appendString(b, string(p.State))
		if !p.UpdatedAt.IsZero() {
			b = append(b, `,"updated_at":`...)
			if b, err = appendTime(b, p.UpdatedAt); err != nil {
				return nil, err
			}
			b = append(b, `,"age_seconds":`...)
			b = appendFloat(b, ageSeconds(a.At, p.UpdatedAt))
		}
		b = append(b, '}')
	}
	b = append(b, `],"alerts":`...)
	if len(a.Alerts) == 0 {
		b = append(b, `[]`...)
	} else {
		// Alerts are rare and their zones are GeoJSON: left to the answers' encoding (go-json
		// would write the zero ended_at that omitzero leaves out).
		out, err := alertsOut(a.Alerts)
		if err != nil {
			return nil, err
		}
		raw, err := httpserver.MarshalJSON(out)
		if err != nil {
			return nil, err
		}
		b = append(b, raw...)
	}
	return append(b, '}'), nil
}

// ageSeconds is how old a part is at at, in seconds to one decimal.
func ageSeconds(at, updated time.Time) float64 {
	return math.Round(at.Sub(updated).Seconds()*10) / 10
}

// appendTime writes t as every answer writes an instant (httpserver.MarshalJSON): RFC 3339 in
// the district's +08:00.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("time %v: year outside [0,9999]", t)
	}
	if t.IsZero() {
		return append(b, `"0001-01-01T00:00:00Z"`...), nil
	}
	b = append(b, '"')
	b = localtime.AppendRFC3339(b, t)
	return append(b, '"'), nil
}

// appendFloat writes f as encoding/json does. Ages are finite.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string as the answers' encoding does: <, > and & escaped for
// HTML, invalid UTF-8 as U+FFFD, and U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...) // U+FFFD itself, as the answers' encoding writes it
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
