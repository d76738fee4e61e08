// Package handler is the checkpoint's HTTP edge: the officer's plate lookup, the bureau's
// heavy-pollution alerts, and an officer's recent lookups.
package handler

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/checkpoint/internal/verdict"
)

// Handler serves the checkpoint's routes.
type Handler struct {
	svc    *verdict.Service
	log    *slog.Logger
	public httpserver.PublicOptions
}

// New returns the handler.
func New(svc *verdict.Service, log *slog.Logger, public httpserver.PublicOptions) *Handler {
	return &Handler{svc: svc, log: log, public: public}
}

// Routes registers the routes on r.
func (h *Handler) Routes(r gin.IRouter) {
	need, wrap := httpserver.Guards(h.log)
	r.GET("/v1/checkpoint/:plate", need(auth.Police, auth.Bureau), wrap(h.lookup))
	r.GET("/v1/lookups/mine", need(auth.Police, auth.Bureau), wrap(h.mine))
	r.GET("/v1/alerts", need(auth.Police, auth.Bureau, auth.Fleet, auth.Construction), wrap(h.alerts))
	r.GET("/v1/public/alert", httpserver.Public(h.public, h.log), wrap(h.publicAlert))
	r.POST("/v1/alerts", need(auth.Bureau), wrap(h.declare))
	r.POST("/v1/alerts/:id/end", need(auth.Bureau), wrap(h.end))
}

// answerBufs hold the answers being written: the response writer copies what it is given.
var answerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

var jsonContentType = []string{"application/json; charset=utf-8"}

// lookupParams are the lookup's query parameters: any other is refused, naming it.
var lookupParams = []string{"colour", "lat", "lon"}

func (h *Handler) lookup(c *gin.Context) error {
	if err := request.OnlyQuery(c, lookupParams...); err != nil {
		return err
	}
	var pos *geo.Point
	lat, lon := c.Query("lat"), c.Query("lon")
	if lat != "" || lon != "" {
		var ve apperr.ValidationError
		la, err1 := request.Float(lat)
		lo, err2 := request.Float(lon)
		if err1 != nil || la < -90 || la > 90 {
			ve.Add("lat", "a latitude in degrees, -90 to 90, given together with lon")
		}
		if err2 != nil || lo < -180 || lo > 180 {
			ve.Add("lon", "a longitude in degrees, -180 to 180, given together with lat")
		}
		if err := ve.Err(); err != nil {
			return err
		}
		pos = &geo.Point{Lon: lo, Lat: la}
	}
	a, err := h.svc.Lookup(c.Request.Context(), auth.Caller(c), c.Param("plate"), c.Query("colour"), pos)
	if err != nil {
		return err
	}
	buf := answerBufs.Get().(*[]byte)
	b, err := appendAnswer((*buf)[:0], a)
	if err != nil {
		answerBufs.Put(buf)
		return err
	}
	c.Writer.Header()["Content-Type"] = jsonContentType
	c.Status(http.StatusOK)
	_, _ = c.Writer.Write(b) // a failed write is a client gone: nothing left to tell it
	if cap(b) <= 64<<10 {    // an answer with many alerts is not kept
		*buf = b
		answerBufs.Put(buf)
	}
	return nil
}

type restrictionJSON struct {
	Class       string          `json:"class" input:"id"`
	MaxStandard string          `json:"max_standard,omitempty" input:"id"`
	Zone        json.RawMessage `json:"zone,omitempty"`
	ZoneName    string          `json:"zone_name,omitempty" input:"name"`
	Hours       *hoursJSON      `json:"hours,omitempty"`
}

type hoursJSON struct {
	From string `json:"from" input:"id,max=5"`
	To   string `json:"to" input:"id,max=5"`
}

type alertJSON struct {
	ID           string            `json:"alert_id,omitempty" input:"id"`
	Level        string            `json:"level" input:"id"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       time.Time         `json:"ends_at"`
	Reason       string            `json:"reason,omitempty" input:"text"`
	Restrictions []restrictionJSON `json:"restrictions" input:"items=100"`
	CreatedBy    string            `json:"created_by,omitempty" input:"id"`
	EndedAt      time.Time         `json:"ended_at,omitzero"`
	EndedBy      string            `json:"ended_by,omitempty" input:"id"`
}

func alertOut(a verdict.Alert) (alertJSON, error) {
	j := alertJSON{ID: a.ID, Level: string(a.Level), StartsAt: a.StartsAt, EndsAt: a.EndsAt, Reason: a.Reason,
		Restrictions: []restrictionJSON{}, CreatedBy: a.CreatedBy, EndedAt: a.EndedAt, EndedBy: a.EndedBy}
	for _, r := range a.Restrictions {
		rj := restrictionJSON{Class: string(r.Class), MaxStandard: r.MaxStandard, ZoneName: r.ZoneName}
		if r.Zone != nil {
			z, err := json.Marshal(r.Zone)
			if err != nil {
				return alertJSON{}, fmt.Errorf("alert %s: encode zone: %w", a.ID, err)
			}
			rj.Zone = z
		}
		if r.Hours != nil {
			rj.Hours = &hoursJSON{From: localtime.Clock(r.Hours.From), To: localtime.Clock(r.Hours.To)}
		}
		j.Restrictions = append(j.Restrictions, rj)
	}
	return j, nil
}

// alertsOut is alertOut of each alert.
func alertsOut(as []verdict.Alert) ([]alertJSON, error) {
	out := make([]alertJSON, 0, len(as))
	for _, a := range as {
		j, err := alertOut(a)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

func (h *Handler) declare(c *gin.Context) error {
	var b alertJSON
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	a := verdict.Alert{Level: verdict.Level(b.Level), StartsAt: b.StartsAt, EndsAt: b.EndsAt, Reason: b.Reason}
	var ve apperr.ValidationError
	for i, rj := range b.Restrictions {
		at := "restrictions[" + strconv.Itoa(i) + "]."
		r := verdict.Restriction{Class: verdict.Class(rj.Class), MaxStandard: rj.MaxStandard, ZoneName: rj.ZoneName}
		if len(rj.Zone) > 0 {
			z, err := geo.Parse(rj.Zone)
			if err != nil {
				ve.Add(at+"zone", err.Error())
			} else {
				r.Zone = &z
			}
		}
		if rj.Hours != nil {
			hrs, err := localtime.ParseHours(rj.Hours.From, rj.Hours.To)
			if err != nil {
				ve.Add(at+"hours", err.Error())
			} else {
				r.Hours = &hrs
			}
		}
		a.Restrictions = append(a.Restrictions, r)
	}
	if err := ve.Err(); err != nil {
		return err
	}
	a, err := h.svc.DeclareAlert(c.Request.Context(), auth.Caller(c), a)
	if err != nil {
		return err
	}
	j, err := alertOut(a)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, j)
	return nil
}

func (h *Handler) end(c *gin.Context) error {
	a, err := h.svc.EndAlert(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	j, err := alertOut(a)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, j)
	return nil
}

func (h *Handler) alerts(c *gin.Context) error {
	limit, err := request.Limit(c, 50, 500)
	if err != nil {
		return err
	}
	all, cur, err := h.svc.Alerts(c.Request.Context(), auth.Caller(c), limit)
	if err != nil {
		return err
	}
	current, err := alertsOut(cur)
	if err != nil {
		return err
	}
	history, err := alertsOut(all)
	if err != nil {
		return err
	}
	return export.Rows(c, "alerts", gin.H{"current": current, "history": history}, history)
}

// publicAlertJSON is an alert in force as the public sees it: its level, times, reason and
// restrictions, never who declared it.
type publicAlertJSON struct {
	Level        string            `json:"level"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       time.Time         `json:"ends_at"`
	Reason       string            `json:"reason,omitempty"`
	Restrictions []restrictionJSON `json:"restrictions"`
}

// publicAlert: GET /v1/public/alert, anyone: the heavy-pollution alerts in force now.
func (h *Handler) publicAlert(c *gin.Context) error {
	if err := request.OnlyQuery(c); err != nil {
		return err
	}
	cur, err := alertsOut(h.svc.AlertsInForce())
	if err != nil {
		return err
	}
	out := make([]publicAlertJSON, len(cur))
	for i, a := range cur {
		out[i] = publicAlertJSON{Level: a.Level, StartsAt: a.StartsAt.In(localtime.Shanghai()), EndsAt: a.EndsAt.In(localtime.Shanghai()), Reason: a.Reason, Restrictions: a.Restrictions}
	}
	c.JSON(http.StatusOK, gin.H{"in_force": len(out) > 0, "alerts": out})
	return nil
}

type lookupJSON struct {
	Plate   string    `json:"plate"`
	Colour  string    `json:"colour"`
	At      time.Time `json:"at"`
	Lat     *float64  `json:"lat,omitempty"`
	Lon     *float64  `json:"lon,omitempty"`
	Verdict string    `json:"verdict"`
	Reasons []string  `json:"reasons"`
}

func (h *Handler) mine(c *gin.Context) error {
	limit, err := request.Limit(c, 20, 200)
	if err != nil {
		return err
	}
	ls, err := h.svc.Recent(c.Request.Context(), auth.Caller(c), limit)
	if err != nil {
		return err
	}
	out := make([]lookupJSON, len(ls))
	for i, l := range ls {
		out[i] = lookupJSON{Plate: l.Plate, Colour: l.Colour, At: l.At, Verdict: string(l.Verdict), Reasons: l.Reasons}
		if l.Position != nil {
			out[i].Lat, out[i].Lon = &l.Position.Lat, &l.Position.Lon
		}
	}
	return export.Rows(c, "lookups", gin.H{"items": out}, out)
}
