package handler

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

func (h *Handler) recordViolation(c *gin.Context) error {
	var b violationBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	var ve apperr.ValidationError
	in := permit.ViolationInput{ViolationID: b.ViolationID, Kind: permit.ViolationKind(b.Kind), VIN: b.VIN, Plate: b.Plate, PlateColour: b.PlateColour,
		ObservedAt: instant(&ve, "observed_at", b.ObservedAt), Place: b.Place, Photos: b.Photos, Note: b.Note, FromSite: b.FromSite}
	if l := b.Location; l != nil {
		if l.Lat == nil {
			ve.Add("location.lat", "required: decimal degrees")
		}
		if l.Lon == nil {
			ve.Add("location.lon", "required: decimal degrees")
		}
		if l.Lat != nil && l.Lon != nil {
			in.Location = &geo.Point{Lat: *l.Lat, Lon: *l.Lon}
		}
	}
	if err := ve.Err(); err != nil {
		return err
	}
	v, isNew, err := h.svc.RecordViolation(c.Request.Context(), auth.Caller(c), in)
	if err != nil {
		return err
	}
	httpserver.Created(c, isNew, "/v1/muck/violations/"+v.ID, violationOut(v))
	return nil
}

func (h *Handler) getViolation(c *gin.Context) error {
	v, err := h.svc.GetViolation(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, violationOut(v))
	return nil
}

func (h *Handler) listViolations(c *gin.Context) error {
	days, err := request.QueryPeriod(c)
	if err != nil {
		return err
	}
	f := permit.ViolationFilter{VIN: c.Query("vin"), FromSite: c.Query("site"), Kind: permit.ViolationKind(c.Query("kind"))}
	if !days.From.IsZero() {
		f.FromDay = days.From.Format(time.DateOnly)
	}
	if !days.To.IsZero() {
		f.ToDay = days.To.Format(time.DateOnly)
	}
	caller := auth.Caller(c)
	return export.Keyed(c, "violations", func(ctx context.Context, after string, limit int) ([]permit.Violation, string, error) {
		return h.svc.ListViolations(ctx, caller, f, after, limit)
	}, violationOut)
}

func (h *Handler) siteReport(c *gin.Context) error {
	p, err := request.QueryPeriod(c)
	if err != nil {
		return err
	}
	from, okFrom, to, okTo := p.From, p.HasFrom, p.To, p.HasTo
	today := h.svc.Now().In(h.svc.Location())
	if !okTo {
		to = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	}
	if !okFrom {
		from = to.AddDate(0, 0, -29)
	}
	rows, err := h.svc.SiteReport(c.Request.Context(), auth.Caller(c), from, to)
	if err != nil {
		return err
	}
	out := make([]siteRowJSON, 0, len(rows))
	total := 0
	for _, r := range rows {
		j := siteRowJSON{SiteID: r.SiteID, Name: r.Name, Developer: r.Developer, Contractor: r.Contractor, Total: r.Total, ByKind: map[string]int{}}
		for k, n := range r.ByKind {
			j.ByKind[string(k)] = n
		}
		out = append(out, j)
		total += r.Total
	}
	return export.Rows(c, "violations-by-site", gin.H{"from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "timezone": "Asia/Shanghai",
		"rule": "task 18", "total": total, "sites": out}, out)
}
