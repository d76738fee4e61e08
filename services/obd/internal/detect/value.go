package detect

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Value is one physical value of a sample that may be "not available".
//
// Terminals send all-ones for a field they cannot measure; the codec maps
// that to the zero Value (OK false), so "not available" can never be taken
// for a number: rules read a value only through OK. Build available values
// with Of. In JSON a Value is a number, or null when not available.
type Value struct {
	// V is the value in the field's unit; meaningless when OK is false.
	V float64
	// OK reports whether the value is available.
	OK bool
}

// NA is the "not available" Value.
var NA = Value{}

// Of returns an available Value holding v, or NA when v is NaN or infinite.
func Of(v float64) Value {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return NA
	}
	return Value{V: v, OK: true}
}

// Get returns the value and whether it is available.
func (v Value) Get() (float64, bool) { return v.V, v.OK }

// IsZero reports whether v is not available. It lets the JSON option
// omitzero drop unavailable values while keeping an available 0.
func (v Value) IsZero() bool { return !v.OK }

// String formats v, or "n/a" when it is not available.
func (v Value) String() string {
	if !v.OK {
		return "n/a"
	}
	return strconv.FormatFloat(v.V, 'g', -1, 64)
}

// MarshalJSON encodes v as a number, or null when not available.
func (v Value) MarshalJSON() ([]byte, error) {
	if !v.OK || math.IsNaN(v.V) || math.IsInf(v.V, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v.V, 'g', -1, 64), nil
}

// UnmarshalJSON decodes a number, or null as not available.
func (v *Value) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*v = NA
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("value %q: not a number", b)
	}
	*v = Of(f)
	return nil
}

// MIL is the malfunction indicator lamp status reported in an OBD
// information item. The zero value is MILUnknown (no OBD item in the frame,
// or a status the terminal could not read).
type MIL uint8

// MIL states.
const (
	// MILUnknown means the sample carries no MIL status.
	MILUnknown MIL = iota
	// MILOff means the lamp is reported off.
	MILOff
	// MILOn means the lamp is reported on.
	MILOn
)

// String returns "unknown", "off" or "on".
func (m MIL) String() string {
	switch m {
	case MILOff:
		return "off"
	case MILOn:
		return "on"
	default:
		return "unknown"
	}
}

// MarshalText encodes m as "unknown", "off" or "on".
func (m MIL) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText decodes "unknown", "off" or "on" (empty means unknown).
func (m *MIL) UnmarshalText(b []byte) error {
	switch string(b) {
	case "", "unknown":
		*m = MILUnknown
	case "off":
		*m = MILOff
	case "on":
		*m = MILOn
	default:
		return fmt.Errorf("mil %q: want unknown, off or on", b)
	}
	return nil
}

// Position is a WGS-84 position in signed decimal degrees (east and north
// positive) with the collection instant it was measured at.
type Position struct {
	// Lon is the longitude in degrees, west negative.
	Lon float64 `json:"lon"`
	// Lat is the latitude in degrees, south negative.
	Lat float64 `json:"lat"`
	// At is the collection instant of the sample that carried the position.
	At time.Time `json:"at,omitzero"`
}

// earthRadiusKm is the mean Earth radius (IUGG) used by haversine.
const earthRadiusKm = 6371.0088

// haversineKm returns the great-circle distance between a and b in km.
func haversineKm(a, b Position) float64 {
	const rad = math.Pi / 180
	lat1, lat2 := a.Lat*rad, b.Lat*rad
	dLat := lat2 - lat1
	dLon := (b.Lon - a.Lon) * rad
	s := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1)*math.Cos(lat2)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(s)))
}
