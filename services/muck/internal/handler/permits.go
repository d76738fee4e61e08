package handler

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

func (h *Handler) apply(c *gin.Context) error {
	var b permitBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	var ve apperr.ValidationError
	a := permit.Application{PermitID: b.PermitID, VIN: b.VIN, FromSite: b.FromSite, ToSite: b.ToSite,
		ValidFrom: instant(&ve, "valid_from", b.ValidFrom), ValidTo: instant(&ve, "valid_to", b.ValidTo),
		Enclosed: b.Enclosed, GPS: b.GPS, Video: b.Video}
	if err := ve.Err(); err != nil {
		return err
	}
	p, isNew, err := h.svc.Apply(c.Request.Context(), auth.Caller(c), a)
	if err != nil {
		return err
	}
	httpserver.Created(c, isNew, "/v1/muck/permits/"+p.ID, h.permitOut(p))
	return nil
}

func (h *Handler) getPermit(c *gin.Context) error {
	p, err := h.svc.GetPermit(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.permitOut(p))
	return nil
}

func (h *Handler) listPermits(c *gin.Context) error {
	f := permit.PermitFilter{FleetID: c.Query("fleet_id"), VIN: c.Query("vin"), State: permit.State(c.Query("state")), FromSite: c.Query("from_site")}
	caller := auth.Caller(c)
	return export.Keyed(c, "permits", func(ctx context.Context, after string, limit int) ([]permit.Permit, string, error) {
		return h.svc.ListPermits(ctx, caller, f, after, limit)
	}, h.permitOut)
}

// optionalReason reads {"reason": ...}; approving and resuming may send no body at all.
func optionalReason(c *gin.Context) (string, error) {
	if c.Request.ContentLength == 0 {
		return "", nil
	}
	var b reasonBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return "", err
	}
	return b.Reason, nil
}

func (h *Handler) act(c *gin.Context, a permit.Action) error {
	reason, err := optionalReason(c)
	if err != nil {
		return err
	}
	p, err := h.svc.Act(c.Request.Context(), auth.Caller(c), c.Param("id"), a, reason)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.permitOut(p))
	return nil
}
