// Package handler is the remote-sensing service's HTTP edge: routes, request and response
// bodies, and their translation to the sensing core. Rules live in the core; this package only
// decodes, calls and encodes.
package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensing"
)

// Prefix is where the service's routes live.
const Prefix = "/v1/remote-sensing"

// Handler serves the remote-sensing routes.
type Handler struct {
	svc *sensing.Service
	log *slog.Logger
}

// New returns the service's handler.
func New(svc *sensing.Service, log *slog.Logger) *Handler { return &Handler{svc: svc, log: log} }

// Routes registers the routes on r. Each route admits the roles that may ever use it; the core
// then decides per record (a sensor's own stations, a fleet's own vehicles, each case step's
// role).
func (h *Handler) Routes(r gin.IRouter) {
	need, wrap := httpserver.Guards(h.log)
	stationReaders := []auth.Role{auth.Bureau, auth.Police, auth.Transport, auth.Sensor}
	caseReaders := []auth.Role{auth.Bureau, auth.Police, auth.Transport, auth.Fleet, auth.Repair}

	g := r.Group(Prefix)
	g.POST("/stations", need(auth.Bureau), wrap(h.registerStation))
	g.GET("/stations", need(stationReaders...), wrap(h.listStations))
	g.GET("/stations/:id", need(stationReaders...), wrap(h.getStation))
	g.PATCH("/stations/:id", need(auth.Bureau), wrap(h.updateStation))
	g.POST("/measurements", need(auth.Sensor, auth.Bureau), wrap(h.upload))
	g.GET("/measurements", need(auth.Bureau, auth.Police, auth.Transport, auth.Sensor, auth.Fleet), wrap(h.listReadings))
	g.GET("/cases", need(caseReaders...), wrap(h.listCases))
	g.GET("/cases/:id", need(caseReaders...), wrap(h.getCase))
	g.POST("/cases/:id/transitions", need(auth.Bureau, auth.Police, auth.Transport), wrap(h.transition))
	g.POST("/cases/:id/repair-shop", need(auth.Fleet, auth.Transport), wrap(h.chooseRepairShop))
	g.POST("/cases/:id/repair-report", need(auth.Repair), wrap(h.reportRepair))
	g.GET("/reports/exceedance", need(auth.Bureau, auth.Transport), wrap(h.exceedanceReport))
	g.GET("/reports/repeat-offenders", need(auth.Bureau, auth.Transport), wrap(h.repeatOffenders))
	g.GET("/status", need(auth.Police, auth.Bureau, auth.System), wrap(h.status))
	g.GET("/limits", need(auth.Bureau, auth.Police, auth.Transport, auth.Sensor), wrap(h.limits))
	g.POST("/limits/versions", need(auth.Bureau), wrap(h.addLimitVersion))
}

// ---- stations

type stationBody struct {
	StationID            string       `json:"station_id"`
	Name                 string       `json:"name"`
	Lat                  float64      `json:"lat"`
	Lon                  float64      `json:"lon"`
	Site                 string       `json:"site"`
	Lane                 string       `json:"lane"`
	Device               string       `json:"device"`
	OperatorID           string       `json:"operator_id"`
	CalibratedOn         request.Date `json:"calibrated_on"`
	CalibrationValidDays int          `json:"calibration_valid_days"`
	SlopePct             float64      `json:"slope_pct"`
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
	today := limits.LocalDay(time.Now())
	return stationJSON{StationID: s.ID, Name: s.Name, Lat: s.Lat, Lon: s.Lon, Site: s.Site, Lane: s.Lane, Device: s.Device, OperatorID: s.OperatorID,
		CalibratedOn: request.Date{Time: s.CalibratedOn}, CalibrationValidDays: days,
		CalibrationValid: !today.Before(s.CalibratedOn) && today.Before(s.CalibratedOn.AddDate(0, 0, days)),
		SlopePct:         s.SlopePct, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, UpdatedBy: s.UpdatedBy, Version: s.Version}
}

func (h *Handler) registerStation(c *gin.Context) error {
	var b stationBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	st, created, err := h.svc.RegisterStation(c.Request.Context(), auth.Caller(c), sensing.Station{ID: b.StationID, Name: b.Name, Lat: b.Lat,
		Lon: b.Lon, Site: b.Site, Lane: b.Lane, Device: b.Device, OperatorID: b.OperatorID, CalibratedOn: b.CalibratedOn.Time,
		CalibrationValidDays: b.CalibrationValidDays, SlopePct: b.SlopePct})
	if err != nil {
		return err
	}
	c.Header("Location", Prefix+"/stations/"+st.ID)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, h.stationOut(st))
	return nil
}

func (h *Handler) listStations(c *gin.Context) error {
	ss, err := h.svc.ListStations(c.Request.Context(), auth.Caller(c))
	if err != nil {
		return err
	}
	out := make([]stationJSON, 0, len(ss))
	for _, s := range ss {
		out = append(out, h.stationOut(s))
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
	return nil
}

func (h *Handler) getStation(c *gin.Context) error {
	s, err := h.svc.GetStation(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.stationOut(s))
	return nil
}

type stationPatchBody struct {
	Name                 *string       `json:"name"`
	Lat                  *float64      `json:"lat"`
	Lon                  *float64      `json:"lon"`
	Site                 *string       `json:"site"`
	Lane                 *string       `json:"lane"`
	Device               *string       `json:"device"`
	OperatorID           *string       `json:"operator_id"`
	CalibratedOn         *request.Date `json:"calibrated_on"`
	CalibrationValidDays *int          `json:"calibration_valid_days"`
	SlopePct             *float64      `json:"slope_pct"`
}

func (h *Handler) updateStation(c *gin.Context) error {
	var b stationPatchBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	p := sensing.StationPatch{Name: b.Name, Lat: b.Lat, Lon: b.Lon, Site: b.Site, Lane: b.Lane, Device: b.Device, OperatorID: b.OperatorID,
		CalibrationValidDays: b.CalibrationValidDays, SlopePct: b.SlopePct}
	if b.CalibratedOn != nil {
		p.CalibratedOn = &b.CalibratedOn.Time
	}
	s, err := h.svc.UpdateStation(c.Request.Context(), auth.Caller(c), c.Param("id"), p)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.stationOut(s))
	return nil
}

// ---- measurements

// readingBody is one reading as a station sends it.
type readingBody struct {
	ReadingID    string   `json:"reading_id"`
	StationID    string   `json:"station_id"`
	Plate        string   `json:"plate"`
	PlateColour  string   `json:"plate_colour"`
	MeasuredAt   string   `json:"measured_at"`
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
	Lane         string   `json:"lane"`
	Photos       []string `json:"photos"`
}

// decodeBatch reads a JSON array of readings, decoding each element strictly so that every
// field at fault is named with its place in the batch ("[3].co_pct").
func decodeBatch(c *gin.Context) ([]sensing.ReadingInput, error) {
	var raws []json.RawMessage
	if err := request.DecodeJSON(c, &raws); err != nil {
		var ve *apperr.ValidationError
		if errors.As(err, &ve) && len(ve.Fields) == 1 && ve.Fields[0].Field == "body" && strings.Contains(ve.Fields[0].Message, "must be") {
			return nil, apperr.Invalid("body", "send a JSON array of readings")
		}
		return nil, err
	}
	out := make([]sensing.ReadingInput, len(raws))
	var all apperr.ValidationError
	for i, raw := range raws {
		var b readingBody
		if err := request.Decode(bytes.NewReader(raw), &b); err != nil {
			var ve *apperr.ValidationError
			if !errors.As(err, &ve) {
				return nil, err
			}
			for _, f := range ve.Fields {
				field := fmt.Sprintf("[%d]", i)
				if f.Field != "body" {
					field += "." + f.Field
				}
				all.Add(field, f.Message)
			}
			continue
		}
		out[i] = sensing.ReadingInput{ReadingID: b.ReadingID, StationID: b.StationID, Plate: b.Plate, PlateColour: b.PlateColour,
			MeasuredAt: b.MeasuredAt, CO: b.CO, HC: b.HC, NO: b.NO, Opacity: b.Opacity, Ringelmann: b.Ringelmann, SpeedKmh: b.SpeedKmh,
			AccelMS2: b.AccelMS2, WindMS: b.WindMS, TemperatureC: b.TemperatureC, HumidityPct: b.HumidityPct, Rain: b.Rain, Fog: b.Fog,
			Lane: b.Lane, Photos: b.Photos}
	}
	return out, all.Err()
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

func (h *Handler) upload(c *gin.Context) error {
	ins, err := decodeBatch(c)
	if err != nil {
		return err
	}
	res, err := h.svc.Upload(c.Request.Context(), auth.Caller(c), ins)
	if err != nil {
		return err
	}
	items := make([]uploadItemJSON, len(res.Items))
	for i, it := range res.Items {
		j := uploadItemJSON{ReadingID: it.ReadingID, StationID: it.StationID, Status: string(it.Status)}
		if it.Status == sensing.Conflict {
			j.Detail = "another reading with this station_id and reading_id and different content is stored; it is kept and this one refused"
		} else {
			j.Verdict, j.TableVersion = string(it.Reading.Verdict), it.Reading.Judgement.Version
			j.Exceedances, j.Reasons = it.Reading.Judgement.Exceedances(), it.Reading.Judgement.Reasons
		}
		items[i] = j
	}
	c.JSON(http.StatusOK, gin.H{"created": res.Created, "duplicates": res.Duplicates, "conflicts": res.Conflicts, "items": items})
	return nil
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
func cursor(c *gin.Context) (*sensing.Cursor, error) {
	raw, err := request.Cursor(c)
	if err != nil || raw == "" {
		return nil, err
	}
	at, id, ok := strings.Cut(raw, "|")
	t, terr := time.Parse(time.RFC3339Nano, at)
	if !ok || terr != nil {
		return nil, apperr.Invalid("cursor", "not a cursor this API returned; start again without it")
	}
	return &sensing.Cursor{At: t, ID: id}, nil
}

func nextCursor(n *sensing.Cursor) string {
	if n == nil {
		return ""
	}
	return request.EncodeCursor(n.At.UTC().Format(time.RFC3339Nano) + "|" + n.ID)
}

func (h *Handler) listReadings(c *gin.Context) error {
	limit, err := request.Limit(c, 50, 500)
	if err != nil {
		return err
	}
	after, err := cursor(c)
	if err != nil {
		return err
	}
	from, _, err := request.QueryTime(c, "from")
	if err != nil {
		return err
	}
	to, _, err := request.QueryTime(c, "to")
	if err != nil {
		return err
	}
	f := sensing.ReadingFilter{Plate: c.Query("plate"), StationID: c.Query("station_id"), Verdict: sensing.Verdict(c.Query("verdict")), From: from, To: to}
	rs, next, err := h.svc.ListReadings(c.Request.Context(), auth.Caller(c), f, c.Query("colour"), after, limit)
	if err != nil {
		return err
	}
	out := make([]readingJSON, 0, len(rs))
	for _, r := range rs {
		out = append(out, readingOut(r))
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "next_cursor": nextCursor(next)})
	return nil
}

// ---- cases

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

func (h *Handler) listCases(c *gin.Context) error {
	limit, err := request.Limit(c, 50, 500)
	if err != nil {
		return err
	}
	after, err := cursor(c)
	if err != nil {
		return err
	}
	f := sensing.CaseFilter{Plate: c.Query("plate"), State: sensing.State(c.Query("state")), Pollutant: limits.Parameter(c.Query("pollutant")),
		FleetID: c.Query("fleet_id")}
	cs, next, err := h.svc.ListCases(c.Request.Context(), auth.Caller(c), f, c.Query("colour"), after, limit)
	if err != nil {
		return err
	}
	out := make([]caseJSON, 0, len(cs))
	for _, x := range cs {
		out = append(out, caseOut(x))
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "next_cursor": nextCursor(next)})
	return nil
}

func (h *Handler) getCase(c *gin.Context) error {
	cs, err := h.svc.GetCase(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, caseOut(cs))
	return nil
}

func (h *Handler) transition(c *gin.Context) error {
	var b struct {
		To        string `json:"to"`
		Reason    string `json:"reason"`
		Reference string `json:"reference"`
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	cs, err := h.svc.Transition(c.Request.Context(), auth.Caller(c), c.Param("id"), sensing.Move{To: sensing.State(b.To), Reason: b.Reason, Reference: b.Reference})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, caseOut(cs))
	return nil
}

func (h *Handler) chooseRepairShop(c *gin.Context) error {
	var b struct {
		ShopID string `json:"shop_id"`
		Note   string `json:"note"`
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	cs, err := h.svc.ChooseRepairShop(c.Request.Context(), auth.Caller(c), c.Param("id"), sensing.ShopChoice{ShopID: b.ShopID, Note: b.Note})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, caseOut(cs))
	return nil
}

func (h *Handler) reportRepair(c *gin.Context) error {
	var b struct {
		Reference   string `json:"reference"`
		Description string `json:"description"`
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	cs, err := h.svc.ReportRepair(c.Request.Context(), auth.Caller(c), c.Param("id"), sensing.RepairReport{Reference: b.Reference, Description: b.Description})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, caseOut(cs))
	return nil
}

// ---- reports

// period reads from and to (YYYY-MM-DD, days in Asia/Shanghai, to exclusive); by default the
// last inspection cycle up to and including today.
func (h *Handler) period(c *gin.Context) (time.Time, time.Time, error) {
	var ve apperr.ValidationError
	from, okFrom, err := request.QueryDate(c, "from")
	if err != nil {
		ve.Add("from", "must be a YYYY-MM-DD date")
	}
	to, okTo, err := request.QueryDate(c, "to")
	if err != nil {
		ve.Add("to", "must be a YYYY-MM-DD date")
	}
	if err := ve.Err(); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if !okTo {
		to = limits.LocalDay(time.Now()).AddDate(0, 0, 1)
	}
	if !okFrom {
		from = to.AddDate(0, 0, -h.svc.Options().CycleDays)
	}
	local := func(d time.Time) time.Time {
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, limits.Zone()).UTC()
	}
	return local(from), local(to), nil
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

func (h *Handler) exceedanceReport(c *gin.Context) error {
	from, to, err := h.period(c)
	if err != nil {
		return err
	}
	by := sensing.Grouping(c.DefaultQuery("by", string(sensing.ByMaker)))
	rep, err := h.svc.ExceedanceReport(c.Request.Context(), auth.Caller(c), by, from, to)
	if err != nil {
		return err
	}
	rows := make([]rateJSON, 0, len(rep.Rows))
	for _, r := range rep.Rows {
		j := rateJSON{Key: r.Key, Vehicles: r.Vehicles, ExceedingVehicles: r.ExceedingVehicles, VehicleRate: r.VehicleRate,
			Readings: r.Readings, ExceedingReadings: r.ExceedingReadings, ReadingRate: r.ReadingRate}
		if by == sensing.ByInspectionStation {
			j.Qualifies, j.Flagged = &r.Qualifies, &r.Flagged
		}
		rows = append(rows, j)
	}
	out := gin.H{"by": string(by), "from": from, "to": to, "rows": rows, "rule": "tasks 15 and 33"}
	if by == sensing.ByInspectionStation {
		out["fraud_signal"] = gin.H{"baseline": rep.Baseline, "threshold": rep.Threshold, "factor": rep.Factor,
			"min_vehicles": rep.MinVehicles, "definition": rep.String()}
	}
	c.JSON(http.StatusOK, out)
	return nil
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

func (h *Handler) repeatOffenders(c *gin.Context) error {
	from, to, err := h.period(c)
	if err != nil {
		return err
	}
	min := 2
	if s := c.Query("min"); s != "" {
		if min, err = strconv.Atoi(s); err != nil {
			return apperr.Invalid("min", "a whole number of exceeding readings, at least 1")
		}
	}
	os, err := h.svc.RepeatOffenders(c.Request.Context(), auth.Caller(c), from, to, min)
	if err != nil {
		return err
	}
	out := make([]offenderJSON, 0, len(os))
	for _, o := range os {
		out = append(out, offenderJSON{Plate: o.Plate, PlateColour: string(o.PlateColour), Maker: o.Maker, FleetID: o.FleetID,
			InspectionStation: o.InspectionStation, Readings: o.Readings, ExceedingReadings: o.ExceedingReadings, CasesOpened: o.CasesOpened})
	}
	c.JSON(http.StatusOK, gin.H{"from": from, "to": to, "min": min, "items": out})
	return nil
}

// ---- status and limits

func (h *Handler) status(c *gin.Context) error {
	st, err := h.svc.StatusOf(c.Request.Context(), auth.Caller(c), c.Query("plate"), c.Query("colour"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, st)
	return nil
}

// addLimitVersion adds a version to the limit table, in force from its effective_from (today or
// later); the body is one version as GET /limits lists them.
func (h *Handler) addLimitVersion(c *gin.Context) error {
	var v limits.Version
	if err := request.DecodeJSON(c, &v); err != nil {
		return err
	}
	v, err := h.svc.AddLimitVersion(c.Request.Context(), auth.Caller(c), v)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, v)
	return nil
}

func (h *Handler) limits(c *gin.Context) error {
	t, err := h.svc.Limits(auth.Caller(c))
	if err != nil {
		return err
	}
	v, _ := t.InForce(time.Now())
	c.JSON(http.StatusOK, gin.H{"in_force": v.Version, "versions": t.Versions})
	return nil
}
