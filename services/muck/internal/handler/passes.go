package handler

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

func (h *Handler) issuePass(c *gin.Context) error {
	var b passBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	var ve apperr.ValidationError
	in := permit.PassInput{PassID: b.PassID, PermitID: b.PermitID, ZoneJSON: b.Zone, Route: b.Route,
		ValidFrom: instant(&ve, "valid_from", b.ValidFrom), ValidTo: instant(&ve, "valid_to", b.ValidTo)}
	if b.Hours == nil {
		ve.Add("hours", "required: {\"from\": \"HH:MM\", \"to\": \"HH:MM\"} in Asia/Shanghai local time")
	} else {
		in.HoursFrom, in.HoursTo = b.Hours.From, b.Hours.To
	}
	if err := ve.Err(); err != nil {
		return err
	}
	p, isNew, err := h.svc.IssuePass(c.Request.Context(), auth.Caller(c), in)
	if err != nil {
		return err
	}
	httpserver.Created(c, isNew, "/v1/muck/passes/"+p.ID, h.passOut(p))
	return nil
}

func (h *Handler) getPass(c *gin.Context) error {
	p, err := h.svc.GetPass(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.passOut(p))
	return nil
}

func (h *Handler) listPasses(c *gin.Context) error {
	f := permit.PassFilter{VIN: c.Query("vin"), PermitID: c.Query("permit_id")}
	caller := auth.Caller(c)
	return export.Keyed(c, "passes", func(ctx context.Context, after string, limit int) ([]permit.Pass, string, error) {
		return h.svc.ListPasses(ctx, caller, f, after, limit)
	}, h.passOut)
}

func (h *Handler) cancelPass(c *gin.Context) error {
	var b reasonBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	p, err := h.svc.CancelPass(c.Request.Context(), auth.Caller(c), c.Param("id"), b.Reason)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.passOut(p))
	return nil
}

func (h *Handler) allowed(c *gin.Context) error {
	var ve apperr.ValidationError
	pt := geo.Point{Lat: coordinate(&ve, c, "lat"), Lon: coordinate(&ve, c, "lon")}
	at, ok, err := request.QueryTime(c, "at")
	var qe *apperr.ValidationError
	if errors.As(err, &qe) {
		ve.Fields = append(ve.Fields, qe.Fields...)
	}
	if err := ve.Err(); err != nil {
		return err
	}
	if !ok {
		at = h.svc.Now().UTC()
	}
	v, err := h.svc.AllowedHere(c.Request.Context(), auth.Caller(c), c.Param("vin"), pt, at)
	if err != nil {
		return err
	}
	out := allowedJSON{Allowed: v.Allowed, Reasons: v.Reasons, VIN: c.Param("vin"), Lat: pt.Lat, Lon: pt.Lon, At: at,
		LocalTime: at.In(h.svc.Location()).Format("2006-01-02T15:04:05-07:00"), PermitID: v.PermitID, PassID: v.PassID}
	if out.Reasons == nil {
		out.Reasons = []permit.Reason{}
	}
	c.JSON(http.StatusOK, out)
	return nil
}
