// Package handler is the OBD service's HTTP edge: fleet platforms upload samples, the bureau,
// the police and each truck's own fleet read samples, state and alarms, the bureau closes
// alarms and sets thresholds, and the checkpoint reads a plate's OBD status.
package handler

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/cursor"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/obd/internal/detect"
	"github.com/clearsky/clearsky/services/obd/internal/monitor"
)

// Handler serves the OBD routes.
type Handler struct {
	svc *monitor.Service
	log *slog.Logger
}

// New returns the handler.
func New(svc *monitor.Service, log *slog.Logger) *Handler { return &Handler{svc: svc, log: log} }

// Routes registers the OBD routes on r.
func (h *Handler) Routes(r gin.IRouter) {
	need, wrap := httpserver.Guards(h.log)
	g := r.Group("/v1/obd")
	g.POST("/samples", need(auth.Fleet, auth.Bureau), wrap(h.upload))
	g.GET("/vehicles/:vin/samples", need(auth.Fleet, auth.Bureau, auth.Police), wrap(h.samples))
	g.GET("/vehicles/:vin/state", need(auth.Fleet, auth.Bureau, auth.Police), wrap(h.state))
	g.GET("/vehicles/:vin/alarms", need(auth.Fleet, auth.Bureau, auth.Police), wrap(h.alarms))
	g.GET("/alarms", need(auth.Bureau), wrap(h.listAlarms))
	g.POST("/vehicles/:vin/alarms/:kind/close", need(auth.Bureau), wrap(h.closeAlarm))
	g.GET("/thresholds", need(auth.Fleet, auth.Bureau, auth.Police), wrap(h.thresholds))
	g.PUT("/thresholds", need(auth.Bureau), wrap(h.setThresholds))
	g.GET("/status", need(auth.Police, auth.Bureau, auth.System), wrap(h.status))
}

// sampleJSON is one sample on the wire: physical units of GB 17691-2018 annex Q; null or absent
// means "not available".
type sampleJSON struct {
	VIN                 string       `json:"vin" input:"id"`
	At                  time.Time    `json:"at"`
	SpeedKmh            detect.Value `json:"speed_kmh"`
	AtmosphericPressure detect.Value `json:"atmospheric_pressure_kpa"`
	NetTorquePct        detect.Value `json:"net_torque_pct"`
	FrictionTorquePct   detect.Value `json:"friction_torque_pct"`
	EngineSpeedRPM      detect.Value `json:"engine_speed_rpm"`
	FuelFlowLph         detect.Value `json:"fuel_flow_lph"`
	NOxUpPPM            detect.Value `json:"nox_up_ppm"`
	NOxDownPPM          detect.Value `json:"nox_down_ppm"`
	ReagentPct          detect.Value `json:"reagent_pct"`
	AirFlowKgh          detect.Value `json:"air_flow_kgh"`
	SCRInletC           detect.Value `json:"scr_inlet_c"`
	SCROutletC          detect.Value `json:"scr_outlet_c"`
	DPFdpKPa            detect.Value `json:"dpf_dp_kpa"`
	CoolantC            detect.Value `json:"coolant_c"`
	FuelLevelPct        detect.Value `json:"fuel_level_pct"`
	MileageKm           detect.Value `json:"mileage_km"`
	Lon                 *float64     `json:"lon" input:"min=-180,max=180"`
	Lat                 *float64     `json:"lat" input:"min=-90,max=90"`
	MIL                 detect.MIL   `json:"mil"`
	FaultCodes          []uint32     `json:"fault_codes" input:"items=253"`
	Source              string       `json:"source,omitempty" input:"id"`
}

func (s sampleJSON) reading() monitor.Reading {
	r := monitor.Reading{VIN: s.VIN, At: s.At.UTC(), Speed: s.SpeedKmh, AtmosphericPressure: s.AtmosphericPressure, NetTorque: s.NetTorquePct,
		FrictionTorque: s.FrictionTorquePct, EngineSpeed: s.EngineSpeedRPM, FuelFlow: s.FuelFlowLph, NOxUp: s.NOxUpPPM, NOxDown: s.NOxDownPPM,
		Reagent: s.ReagentPct, AirFlow: s.AirFlowKgh, SCRInlet: s.SCRInletC, SCROutlet: s.SCROutletC, DPFPressure: s.DPFdpKPa,
		Coolant: s.CoolantC, FuelLevel: s.FuelLevelPct, Mileage: s.MileageKm, MIL: s.MIL, FaultCodes: s.FaultCodes}
	if s.Lon != nil && s.Lat != nil {
		r.PositionValid, r.Lon, r.Lat = true, *s.Lon, *s.Lat
	}
	return r
}

func toJSON(r monitor.Reading) sampleJSON {
	s := sampleJSON{VIN: r.VIN, At: r.At, SpeedKmh: r.Speed, AtmosphericPressure: r.AtmosphericPressure, NetTorquePct: r.NetTorque,
		FrictionTorquePct: r.FrictionTorque, EngineSpeedRPM: r.EngineSpeed, FuelFlowLph: r.FuelFlow, NOxUpPPM: r.NOxUp, NOxDownPPM: r.NOxDown,
		ReagentPct: r.Reagent, AirFlowKgh: r.AirFlow, SCRInletC: r.SCRInlet, SCROutletC: r.SCROutlet, DPFdpKPa: r.DPFPressure,
		CoolantC: r.Coolant, FuelLevelPct: r.FuelLevel, MileageKm: r.Mileage, MIL: r.MIL, FaultCodes: r.FaultCodes, Source: r.Source}
	if r.PositionValid {
		s.Lon, s.Lat = &r.Lon, &r.Lat
	}
	return s
}

func (h *Handler) upload(c *gin.Context) error {
	var b struct {
		Samples []sampleJSON `json:"samples" input:"items=10000"`
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	rs := make([]monitor.Reading, len(b.Samples))
	for i, s := range b.Samples {
		rs[i] = s.reading()
	}
	res, err := h.svc.Upload(c.Request.Context(), auth.Caller(c), rs)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"samples": res.Samples, "accepted": res.Accepted, "duplicates": res.Duplicates, "frames": res.Frames})
	return nil
}

func (h *Handler) samples(c *gin.Context) error {
	var ve apperr.ValidationError
	from, okF, err := request.QueryTime(c, "from")
	if err != nil || !okF {
		ve.Add("from", "required: an RFC 3339 time")
	}
	to, okT, err := request.QueryTime(c, "to")
	if err != nil || !okT {
		ve.Add("to", "required: an RFC 3339 time")
	}
	if err := ve.Err(); err != nil {
		return err
	}
	rs, err := h.svc.Samples(c.Request.Context(), auth.Caller(c), c.Param("vin"), from, to)
	if err != nil {
		return err
	}
	out := export.Each(rs, toJSON)
	return export.Rows(c, "obd-samples-"+c.Param("vin"), gin.H{"vin": c.Param("vin"), "from": from, "to": to, "count": len(out), "items": out}, out)
}

func (h *Handler) state(c *gin.Context) error {
	s, err := h.svc.State(c.Request.Context(), auth.Caller(c), c.Param("vin"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, s)
	return nil
}

type alarmJSON struct {
	ID string `json:"alarm_id"`
	detect.Alarm
}

// alarmQuery reads ?state=open|all (def when absent) and ?limit= of an alarm list.
// An alarm list's page: alarmsDefault alarms unless the caller asks for up to alarmsMost.
const (
	alarmsDefault = 100
	alarmsMost    = 1000
)

func alarmQuery(c *gin.Context, def string) (openOnly bool, limit int, err error) {
	if openOnly, err = alarmState(c, def); err != nil {
		return false, 0, err
	}
	limit, err = request.Limit(c, alarmsDefault, alarmsMost)
	return openOnly, limit, err
}

// alarmState reads ?state=open|all (def when absent).
func alarmState(c *gin.Context, def string) (openOnly bool, err error) {
	state := c.DefaultQuery("state", def)
	if state != "all" && state != "open" {
		return false, apperr.Invalid("state", "must be open or all")
	}
	return state == "open", nil
}

func (h *Handler) alarms(c *gin.Context) error {
	openOnly, limit, err := alarmQuery(c, "all")
	if err != nil {
		return err
	}
	as, err := h.svc.Alarms(c.Request.Context(), auth.Caller(c), c.Param("vin"), openOnly, limit)
	if err != nil {
		return err
	}
	out := export.Each(as, func(a monitor.Alarm) alarmJSON { return alarmJSON{ID: a.ID, Alarm: a.Alarm} })
	return export.Rows(c, "obd-alarms-"+c.Param("vin"), gin.H{"items": out}, out)
}

// districtAlarmJSON is an alarm in the district's list: which truck, then the alarm.
type districtAlarmJSON struct {
	ID    string `json:"alarm_id"`
	VIN   string `json:"vin"`
	Plate string `json:"plate,omitempty"`
	detect.Alarm
}

// listAlarms is the bureau's list of the district's alarms, newest first:
// ?state=open|all&kind=&limit=&cursor=.
func (h *Handler) listAlarms(c *gin.Context) error {
	openOnly, err := alarmState(c, "open")
	if err != nil {
		return err
	}
	f := monitor.AlarmFilter{OpenOnly: openOnly, Kind: detect.Kind(c.Query("kind"))}
	caller := auth.Caller(c)
	return export.SortedPaged(c, "obd-alarms", alarmsDefault, alarmsMost, func(ctx context.Context, after cursor.Key, limit int) ([]monitor.Alarm, error) {
		return h.svc.ListAlarms(ctx, caller, f, after, limit)
	}, func(a monitor.Alarm) cursor.Key { return cursor.Key{At: a.OpenedAt, ID: a.ID} }, func(a monitor.Alarm) districtAlarmJSON {
		return districtAlarmJSON{ID: a.ID, VIN: a.VIN, Plate: a.Plate, Alarm: a.Alarm}
	})
}

func (h *Handler) closeAlarm(c *gin.Context) error {
	a, err := h.svc.CloseAlarm(c.Request.Context(), auth.Caller(c), c.Param("vin"), detect.Kind(c.Param("kind")))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, alarmJSON{ID: a.ID, Alarm: a.Alarm})
	return nil
}

func (h *Handler) thresholds(c *gin.Context) error {
	c.JSON(http.StatusOK, h.svc.Monitor().Thresholds())
	return nil
}

func (h *Handler) setThresholds(c *gin.Context) error {
	th := h.svc.Monitor().Thresholds()
	if err := request.DecodeJSON(c, &th); err != nil {
		return err
	}
	if err := h.svc.SetThresholds(c.Request.Context(), auth.Caller(c), th); err != nil {
		return err
	}
	c.JSON(http.StatusOK, th)
	return nil
}

func (h *Handler) status(c *gin.Context) error {
	st, err := h.svc.Status(c.Request.Context(), auth.Caller(c), c.Query("plate"), c.Query("colour"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, st)
	return nil
}
