package handler

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

func (h *Handler) registerSite(c *gin.Context) error {
	var b siteBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	in := permit.SiteInput{Site: permit.Site{ID: b.SiteID, Kind: permit.SiteKind(b.Kind), Name: b.Name, Address: b.Address, District: b.District,
		Developer: b.Developer, Contractor: b.Contractor, AcceptedMaterials: b.AcceptedMaterials}, AreaJSON: b.Area}
	if b.PeriodFrom != nil {
		in.PeriodFrom = b.PeriodFrom.Time
	}
	if b.PeriodTo != nil {
		in.PeriodTo = b.PeriodTo.Time
	}
	if b.DustControl != nil {
		in.DustControl = permit.DustControl(*b.DustControl)
	}
	if b.OpeningHours != nil {
		in.OpeningFrom, in.OpeningTo = b.OpeningHours.From, b.OpeningHours.To
	}
	s, isNew, err := h.svc.RegisterSite(c.Request.Context(), auth.Caller(c), in)
	if err != nil {
		return err
	}
	httpserver.Created(c, isNew, "/v1/muck/sites/"+s.ID, siteOut(s))
	return nil
}

func (h *Handler) getSite(c *gin.Context) error {
	s, err := h.svc.GetSite(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, siteOut(s))
	return nil
}

func (h *Handler) listSites(c *gin.Context) error {
	caller, kind := auth.Caller(c), permit.SiteKind(c.Query("kind"))
	return export.Keyed(c, "muck-sites", func(ctx context.Context, after string, limit int) ([]permit.Site, string, error) {
		return h.svc.ListSites(ctx, caller, kind, after, limit)
	}, siteOut)
}
