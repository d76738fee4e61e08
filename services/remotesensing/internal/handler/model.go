package handler

import (
	"context"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensing"
)

type stationBody struct {
	StationID            string       `json:"station_id" input:"id"`
	Name                 string       `json:"name"`
	Lat                  float64      `json:"lat" input:"min=-90,max=90"`
	Lon                  float64      `json:"lon" input:"min=-180,max=180"`
	Site                 string       `json:"site"`
	Lane                 string       `json:"lane" input:"name,max=32"`
	Device               string       `json:"device"`
	OperatorID           string       `json:"operator_id" input:"id"`
	CalibratedOn         request.Date `json:"calibrated_on"`
	CalibrationValidDays int          `json:"calibration_valid_days" input:"min=0,max=3650"`
	SlopePct             float64      `json:"slope_pct" input:"min=-30,max=30"`
}

type stationJSON struct {
	StationID            string       `json:"station_id"`
	Name                 string       `json:"name"`
	Lat                  float64      `json:"lat"`
	Lon                  float64      `json:"lon"`
	Site                 string       `json:"site,omitempty"`
	Lane                 string       `json:"lane,omitempty"`
	Device               string       `json:"device,omitempty"`
	OperatorID           string       `json:"operator_id"`
	CalibratedOn         request.Date `json:"calibrated_on"`
	CalibrationValidDays int          `json:"calibration_valid_days"`
	CalibrationValid     bool         `json:"calibration_valid"`
	SlopePct             float64      `json:"slope_pct"`
	CreatedAt            time.Time    `json:"created_at"`
	UpdatedAt            time.Time    `json:"updated_at"`
	UpdatedBy            string       `json:"updated_by"`
	Version              int64        `json:"version"`
}

func (h *Handler) stationOut(s sensing.Station) stationJSON {
	days := h.svc.CalibrationValidDays(s)
	today := localtime.DayOf(time.Now())
	return stationJSON{StationID: s.ID, Name: s.Name, Lat: s.Lat, Lon: s.Lon, Site: s.Site, Lane: s.Lane, Device: s.Device, OperatorID: s.OperatorID,
		CalibratedOn: request.Date{Time: s.CalibratedOn}, CalibrationValidDays: days,
		CalibrationValid: !today.Before(s.CalibratedOn) && today.Before(s.CalibratedOn.AddDate(0, 0, days)),
		SlopePct:         s.SlopePct, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, UpdatedBy: s.UpdatedBy, Version: s.Version}
}

type stationPatchBody struct {
	Name                 *string       `json:"name"`
	Lat                  *float64      `json:"lat" input:"min=-90,max=90"`
	Lon                  *float64      `json:"lon" input:"min=-180,max=180"`
	Site                 *string       `json:"site"`
	Lane                 *string       `json:"lane" input:"name,max=32"`
	Device               *string       `json:"device"`
	OperatorID           *string       `json:"operator_id" input:"id"`
	CalibratedOn         *request.Date `json:"calibrated_on"`
	CalibrationValidDays *int          `json:"calibration_valid_days" input:"min=0,max=3650"`
	SlopePct             *float64      `json:"slope_pct" input:"min=-30,max=30"`
}

// readingBody is one reading as a station sends it.
type readingBody struct {
	ReadingID    string   `json:"reading_id" input:"id"`
	StationID    string   `json:"station_id" input:"id"`
	Plate        string   `json:"plate" input:"id"`
	PlateColour  string   `json:"plate_colour" input:"id"`
	MeasuredAt   string   `json:"measured_at" input:"id"`
	CO           *float64 `json:"co_pct"`
	HC           *float64 `json:"hc_ppm"`
	NO           *float64 `json:"no_ppm"`
	Opacity      *float64 `json:"opacity_pct"`
	Ringelmann   *float64 `json:"ringelmann"`
	SpeedKmh     *float64 `json:"speed_kmh"`
	AccelMS2     *float64 `json:"accel_ms2"`
	WindMS       *float64 `json:"wind_ms"`
	TemperatureC *float64 `json:"temperature_c"`
	HumidityPct  *float64 `json:"humidity_pct"`
	Rain         bool     `json:"rain"`
	Fog          bool     `json:"fog"`
	Lane         string   `json:"lane" input:"name,max=32"`
	Photos       []string `json:"photos" input:"id,items=8,max=1024"`
}

type uploadItemJSON struct {
	ReadingID    string          `json:"reading_id"`
	StationID    string          `json:"station_id"`
	Status       string          `json:"status"`
	Verdict      string          `json:"verdict,omitempty"`
	TableVersion string          `json:"table_version,omitempty"`
	Exceedances  []limits.Result `json:"exceedances,omitempty"`
	Reasons      []limits.Reason `json:"reasons,omitempty"`
	Detail       string          `json:"detail,omitempty"`
}

type vehicleJSON struct {
	VIN               string `json:"vin,omitempty"`
	FuelType          string `json:"fuel_type,omitempty"`
	Maker             string `json:"maker,omitempty"`
	FleetID           string `json:"fleet_id,omitempty"`
	InspectionStation string `json:"inspection_station,omitempty"`
	RegisteredPlace   string `json:"registered_place,omitempty"`
}

func traceOut(t sensing.Trace) vehicleJSON {
	return vehicleJSON{VIN: t.VIN, FuelType: t.FuelType, Maker: t.Maker, FleetID: t.FleetID, InspectionStation: t.InspectionStation,
		RegisteredPlace: t.RegisteredPlace}
}

type readingJSON struct {
	ReadingID    string          `json:"reading_id"`
	StationID    string          `json:"station_id"`
	Plate        string          `json:"plate"`
	PlateColour  string          `json:"plate_colour"`
	MeasuredAt   time.Time       `json:"measured_at"`
	CO           *float64        `json:"co_pct,omitempty"`
	HC           *float64        `json:"hc_ppm,omitempty"`
	NO           *float64        `json:"no_ppm,omitempty"`
	Opacity      *float64        `json:"opacity_pct,omitempty"`
	Ringelmann   *float64        `json:"ringelmann,omitempty"`
	SpeedKmh     float64         `json:"speed_kmh"`
	AccelMS2     float64         `json:"accel_ms2"`
	WindMS       *float64        `json:"wind_ms,omitempty"`
	TemperatureC *float64        `json:"temperature_c,omitempty"`
	HumidityPct  *float64        `json:"humidity_pct,omitempty"`
	Rain         bool            `json:"rain"`
	Fog          bool            `json:"fog"`
	Lane         string          `json:"lane,omitempty"`
	Photos       []string        `json:"photos,omitempty"`
	Verdict      string          `json:"verdict"`
	TableVersion string          `json:"table_version,omitempty"`
	Reasons      []limits.Reason `json:"reasons,omitempty"`
	Results      []limits.Result `json:"results,omitempty"`
	Vehicle      vehicleJSON     `json:"vehicle"`
	ReceivedAt   time.Time       `json:"received_at"`
	JudgedAt     *time.Time      `json:"judged_at,omitempty"`
}

func readingOut(r sensing.Reading) readingJSON {
	j := readingJSON{ReadingID: r.ReadingID, StationID: r.StationID, Plate: r.Plate, PlateColour: string(r.PlateColour), MeasuredAt: r.MeasuredAt,
		CO: r.Values.CO, HC: r.Values.HC, NO: r.Values.NO, Opacity: r.Values.Opacity, Ringelmann: r.Values.Ringelmann, SpeedKmh: r.SpeedKmh,
		AccelMS2: r.AccelMS2, WindMS: r.WindMS, TemperatureC: r.TemperatureC, HumidityPct: r.HumidityPct, Rain: r.Rain, Fog: r.Fog,
		Lane: r.Lane, Photos: r.Photos, Verdict: string(r.Verdict), TableVersion: r.Judgement.Version, Reasons: r.Judgement.Reasons,
		Results: r.Judgement.Results, Vehicle: traceOut(r.Trace), ReceivedAt: r.ReceivedAt}
	if !r.JudgedAt.IsZero() {
		t := r.JudgedAt
		j.JudgedAt = &t
	}
	return j
}

// cursor reads the "cursor" parameter: the sort time and id of the last item of a page.
// parseCursor reads the sort key a list's cursor carries (request.Cursor decodes it).
func parseCursor(raw string) (*sensing.Cursor, error) {
	if raw == "" {
		return nil, nil
	}
	at, id, ok := strings.Cut(raw, "|")
	t, terr := localtime.ParseRFC3339(at)
	if !ok || terr != nil {
		return nil, apperr.Invalid("cursor", "not a cursor this API returned; start again without it")
	}
	return &sensing.Cursor{At: t, ID: id}, nil
}

// listed answers a list route of this service (libs/export): list reads the page after a
// cursor and returns the next one (nil at the end); conv gives a record's JSON form.
func listed[S, T any](c *gin.Context, name string, list func(ctx context.Context, after *sensing.Cursor, limit int) ([]S, *sensing.Cursor, error), conv func(S) T) error {
	return export.List(c, name, func(ctx context.Context, raw string, limit int) ([]T, string, error) {
		after, err := parseCursor(raw)
		if err != nil {
			return nil, "", err
		}
		xs, next, err := list(ctx, after, limit)
		if err != nil {
			return nil, "", err
		}
		return export.Each(xs, conv), nextCursor(next), nil
	})
}

func nextCursor(n *sensing.Cursor) string {
	if n == nil {
		return ""
	}
	return request.EncodeCursor(n.At.UTC().Format(time.RFC3339Nano) + "|" + n.ID)
}

type triggerJSON struct {
	ReadingID  string    `json:"reading_id"`
	StationID  string    `json:"station_id"`
	MeasuredAt time.Time `json:"measured_at"`
	Value      float64   `json:"value"`
	Limit      float64   `json:"limit"`
	Unit       string    `json:"unit"`
}

type repairJSON struct {
	ShopID      string    `json:"shop_id"`
	Reference   string    `json:"reference"`
	Description string    `json:"description,omitempty"`
	ReportedAt  time.Time `json:"reported_at"`
	ReportedBy  string    `json:"reported_by"`
}

type entryJSON struct {
	Event     string    `json:"event"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	By        string    `json:"by"`
	Role      string    `json:"role"`
	Tenant    string    `json:"tenant,omitempty"`
	At        time.Time `json:"at"`
	Reason    string    `json:"reason,omitempty"`
	Reference string    `json:"reference,omitempty"`
	Shop      string    `json:"shop,omitempty"`
}

// chainJSON is the case's full supervision chain (task 15).
type chainJSON struct {
	VIN               string `json:"vin,omitempty"`
	Maker             string `json:"maker,omitempty"`
	RegisteredPlace   string `json:"registered_place,omitempty"`
	InspectionStation string `json:"inspection_station,omitempty"`
	TransportCompany  string `json:"transport_company,omitempty"`
	RepairShop        string `json:"repair_shop,omitempty"`
}

type caseJSON struct {
	ID          string        `json:"id"`
	Plate       string        `json:"plate"`
	PlateColour string        `json:"plate_colour"`
	Pollutant   string        `json:"pollutant"`
	State       string        `json:"state"`
	OpenedAt    time.Time     `json:"opened_at"`
	StateSince  time.Time     `json:"state_since"`
	EndedAt     *time.Time    `json:"ended_at,omitempty"`
	Triggers    []triggerJSON `json:"triggers"`
	Chain       chainJSON     `json:"chain"`
	Repair      *repairJSON   `json:"repair,omitempty"`
	RetestBy    string        `json:"retest_reading,omitempty"`
	History     []entryJSON   `json:"history"`
	Version     int64         `json:"version"`
}

func caseOut(cs sensing.Case) caseJSON {
	j := caseJSON{ID: cs.ID, Plate: cs.Plate, PlateColour: string(cs.PlateColour), Pollutant: string(cs.Pollutant), State: string(cs.State),
		OpenedAt: cs.OpenedAt, StateSince: cs.StateSince, Triggers: []triggerJSON{}, History: []entryJSON{}, Version: cs.Version,
		RetestBy: cs.RetestReadingKey,
		Chain: chainJSON{VIN: cs.Trace.VIN, Maker: cs.Trace.Maker, RegisteredPlace: cs.Trace.RegisteredPlace,
			InspectionStation: cs.Trace.InspectionStation, TransportCompany: cs.Trace.FleetID, RepairShop: cs.RepairShopID}}
	if !cs.EndedAt.IsZero() {
		t := cs.EndedAt
		j.EndedAt = &t
	}
	for _, t := range cs.Triggers {
		j.Triggers = append(j.Triggers, triggerJSON{ReadingID: t.ReadingID, StationID: t.StationID, MeasuredAt: t.MeasuredAt, Value: t.Value, Limit: t.Limit, Unit: t.Unit})
	}
	if r := cs.Repair; r != nil {
		j.Repair = &repairJSON{ShopID: r.ShopID, Reference: r.Reference, Description: r.Description, ReportedAt: r.ReportedAt, ReportedBy: r.ReportedBy}
	}
	for _, e := range cs.History {
		j.History = append(j.History, entryJSON{Event: e.Event, From: string(e.From), To: string(e.To), By: e.By, Role: string(e.Role),
			Tenant: e.Tenant, At: e.At, Reason: e.Reason, Reference: e.Reference, Shop: e.Shop})
	}
	return j
}

type rateJSON struct {
	Key               string  `json:"key"`
	Vehicles          int     `json:"vehicles"`
	ExceedingVehicles int     `json:"exceeding_vehicles"`
	VehicleRate       float64 `json:"vehicle_rate"`
	Readings          int     `json:"readings"`
	ExceedingReadings int     `json:"exceeding_readings"`
	ReadingRate       float64 `json:"reading_rate"`
	Qualifies         *bool   `json:"qualifies,omitempty"`
	Flagged           *bool   `json:"flagged,omitempty"`
}

type offenderJSON struct {
	Plate             string `json:"plate"`
	PlateColour       string `json:"plate_colour"`
	Maker             string `json:"maker,omitempty"`
	FleetID           string `json:"fleet_id,omitempty"`
	InspectionStation string `json:"inspection_station,omitempty"`
	Readings          int    `json:"readings"`
	ExceedingReadings int    `json:"exceeding_readings"`
	CasesOpened       int    `json:"cases_opened"`
}
