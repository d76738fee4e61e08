package sensing

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
)

// ReadingInput is a reading as a station sends it; MeasuredAt is the RFC 3339 text sent.
type ReadingInput struct {
	ReadingID    string
	StationID    string
	Plate        string
	PlateColour  string
	MeasuredAt   string
	CO           *float64
	HC           *float64
	NO           *float64
	Opacity      *float64
	Ringelmann   *float64
	SpeedKmh     *float64
	AccelMS2     *float64
	WindMS       *float64
	TemperatureC *float64
	HumidityPct  *float64
	Rain         bool
	Fog          bool
	Lane         string
	Photos       []string
}

// Limits of what a reading may carry.
const (
	maxIDLen     = 64
	maxPhotos    = 8
	maxPhotoLen  = 1024
	maxClockSkew = 5 * time.Minute
)

// validID reports whether s is a usable client id: 1-64 letters, digits and . _ : -.
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == ':' || r == '-') {
			return false
		}
	}
	return true
}

func inRange(ve *apperr.ValidationError, field string, v *float64, lo, hi float64, unit string) {
	if v != nil && (*v < lo || *v > hi) {
		ve.Add(field, fmt.Sprintf("must be between %g and %g %s", lo, hi, unit))
	}
}

// Normalise checks a reading and returns it in canonical form (plate normalised, time in UTC,
// fingerprinted). Every field at fault is named with prefix (the reading's place in its batch,
// "[3].").
func (in ReadingInput) Normalise(now time.Time, prefix string) (Reading, error) {
	var ve apperr.ValidationError
	r := Reading{ReadingID: strings.TrimSpace(in.ReadingID), StationID: strings.TrimSpace(in.StationID), Rain: in.Rain, Fog: in.Fog,
		Lane: strings.TrimSpace(in.Lane), Photos: in.Photos, WindMS: in.WindMS, TemperatureC: in.TemperatureC, HumidityPct: in.HumidityPct,
		Values: limits.Values{CO: in.CO, HC: in.HC, NO: in.NO, Opacity: in.Opacity, Ringelmann: in.Ringelmann}}
	if !validID(r.ReadingID) {
		ve.Add(prefix+"reading_id", "required: 1-64 letters, digits or . _ : - (the station's id of the reading)")
	}
	if !validID(r.StationID) {
		ve.Add(prefix+"station_id", "required: the registered station's id")
	}
	if p, err := vehicleid.NormalisePlate(in.Plate); err != nil {
		ve.Add(prefix+"plate", err.Error())
	} else {
		r.Plate = p
	}
	if c, err := vehicleid.ParseColour(in.PlateColour); err != nil {
		ve.Add(prefix+"plate_colour", err.Error())
	} else {
		r.PlateColour = c
	}
	if t, err := localtime.ParseRFC3339(strings.TrimSpace(in.MeasuredAt)); err != nil {
		ve.Add(prefix+"measured_at", "required: an RFC 3339 time such as 2026-03-10T09:15:02+08:00, its offset within ±14:00")
	} else if t.After(now.Add(maxClockSkew)) {
		ve.Add(prefix+"measured_at", "is in the future: check the station's clock")
	} else if t.Year() < 2000 {
		ve.Add(prefix+"measured_at", "is before 2000: check the station's clock")
	} else {
		r.MeasuredAt = t.UTC()
	}
	measured := false
	for _, p := range limits.Parameters {
		if _, ok := r.Values.Get(p); ok {
			measured = true
		}
	}
	if !measured {
		ve.Add(prefix+"no_ppm", "a reading carries at least one of co_pct, hc_ppm, no_ppm, opacity_pct, ringelmann")
	}
	inRange(&ve, prefix+"co_pct", in.CO, 0, 100, "%")
	inRange(&ve, prefix+"hc_ppm", in.HC, 0, 100000, "ppm")
	inRange(&ve, prefix+"no_ppm", in.NO, 0, 100000, "ppm")
	inRange(&ve, prefix+"opacity_pct", in.Opacity, 0, 100, "%")
	if g := in.Ringelmann; g != nil && (*g < 0 || *g > 5 || *g != math.Trunc(*g)) {
		ve.Add(prefix+"ringelmann", "must be a whole Ringelmann grade from 0 to 5")
	}
	if in.SpeedKmh == nil {
		ve.Add(prefix+"speed_kmh", "required: the vehicle's speed, km/h (the valid window depends on it)")
	} else {
		inRange(&ve, prefix+"speed_kmh", in.SpeedKmh, 0, 300, "km/h")
		r.SpeedKmh = *in.SpeedKmh
	}
	if in.AccelMS2 == nil {
		ve.Add(prefix+"accel_ms2", "required: the vehicle's acceleration, m/s² (the valid window depends on it)")
	} else {
		inRange(&ve, prefix+"accel_ms2", in.AccelMS2, -20, 20, "m/s²")
		r.AccelMS2 = *in.AccelMS2
	}
	inRange(&ve, prefix+"wind_ms", in.WindMS, 0, 100, "m/s")
	inRange(&ve, prefix+"temperature_c", in.TemperatureC, -60, 70, "°C")
	inRange(&ve, prefix+"humidity_pct", in.HumidityPct, 0, 100, "%")
	if utf8.RuneCountInString(r.Lane) > 32 {
		ve.Add(prefix+"lane", "at most 32 characters")
	}
	if len(in.Photos) > maxPhotos {
		ve.Add(prefix+"photos", fmt.Sprintf("at most %d photo references", maxPhotos))
	}
	for i, p := range in.Photos {
		if p == "" || utf8.RuneCountInString(p) > maxPhotoLen {
			ve.Add(fmt.Sprintf("%sphotos[%d]", prefix, i), fmt.Sprintf("a photo reference is 1-%d characters", maxPhotoLen))
		}
	}
	if err := ve.Err(); err != nil {
		return Reading{}, err
	}
	r.Key = ReadingKey(r.StationID, r.ReadingID)
	r.Hash = fingerprint(r)
	return r, nil
}

// fingerprint hashes what the station sent, normalised, so that a repeat of the same reading is
// told from a different reading re-using its id.
func fingerprint(r Reading) string {
	b, err := json.Marshal(struct {
		ID, Station, Plate, Colour string
		At                         time.Time
		Values                     limits.Values
		Speed, Accel               float64
		Wind, Temp, Hum            *float64
		Rain, Fog                  bool
		Lane                       string
		Photos                     []string
	}{r.ReadingID, r.StationID, r.Plate, string(r.PlateColour), r.MeasuredAt, r.Values, r.SpeedKmh, r.AccelMS2,
		r.WindMS, r.TemperatureC, r.HumidityPct, r.Rain, r.Fog, r.Lane, r.Photos})
	if err != nil {
		// A validated reading holds finite numbers and text only: this is a bug, not bad input,
		// and a fingerprint of nothing would make every such reading a "duplicate" of another.
		panic(fmt.Sprintf("fingerprint of reading %s|%s: %v", r.StationID, r.ReadingID, err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Validate checks a station about to be stored and names each field at fault.
func (s *Station) Validate(now time.Time) error {
	var ve apperr.ValidationError
	s.ID, s.Name, s.Site, s.Lane, s.Device, s.OperatorID = strings.TrimSpace(s.ID), strings.TrimSpace(s.Name),
		strings.TrimSpace(s.Site), strings.TrimSpace(s.Lane), strings.TrimSpace(s.Device), strings.TrimSpace(s.OperatorID)
	if !validID(s.ID) {
		ve.Add("station_id", "required: 1-64 letters, digits or . _ : -")
	}
	if s.Name == "" || utf8.RuneCountInString(s.Name) > 200 {
		ve.Add("name", "required, at most 200 characters")
	}
	if s.Lat < -90 || s.Lat > 90 || (s.Lat == 0 && s.Lon == 0) {
		ve.Add("lat", "required: WGS 84 latitude in degrees, -90 to 90")
	}
	if s.Lon < -180 || s.Lon > 180 {
		ve.Add("lon", "WGS 84 longitude in degrees, -180 to 180")
	}
	if s.OperatorID == "" || utf8.RuneCountInString(s.OperatorID) > 128 {
		ve.Add("operator_id", "required: the tenant of the sensor role that runs the station and uploads its readings")
	}
	if s.CalibratedOn.IsZero() {
		ve.Add("calibrated_on", "required: the day of the last calibration, YYYY-MM-DD")
	} else if s.CalibratedOn.After(localtime.DayOf(now)) {
		ve.Add("calibrated_on", "may not be in the future")
	}
	if s.CalibrationValidDays < 0 || s.CalibrationValidDays > 3650 {
		ve.Add("calibration_valid_days", "between 1 and 3650 days, or 0 for the service's default")
	}
	if s.SlopePct < -30 || s.SlopePct > 30 {
		ve.Add("slope_pct", "between -30 and 30 %")
	}
	if utf8.RuneCountInString(s.Lane) > 32 {
		ve.Add("lane", "at most 32 characters")
	}
	if utf8.RuneCountInString(s.Device) > 200 || utf8.RuneCountInString(s.Site) > 200 {
		ve.Add("device", "device and site: at most 200 characters each")
	}
	return ve.Err()
}

// sameStation reports whether two stations carry the same registration details.
func sameStation(a, b Station) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Lat == b.Lat && a.Lon == b.Lon && a.Site == b.Site && a.Lane == b.Lane &&
		a.Device == b.Device && a.OperatorID == b.OperatorID && a.CalibratedOn.Equal(b.CalibratedOn) &&
		a.CalibrationValidDays == b.CalibrationValidDays && a.SlopePct == b.SlopePct
}
