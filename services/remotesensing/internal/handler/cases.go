package handler

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensing"
)

func (h *Handler) listCases(c *gin.Context) error {
	f := sensing.CaseFilter{Plate: c.Query("plate"), State: sensing.State(c.Query("state")), Pollutant: limits.Parameter(c.Query("pollutant")),
		FleetID: c.Query("fleet_id")}
	caller, colour := auth.Caller(c), c.Query("colour")
	return listed(c, "remote-sensing-cases", func(ctx context.Context, after *sensing.Cursor, limit int) ([]sensing.Case, *sensing.Cursor, error) {
		return h.svc.ListCases(ctx, caller, f, colour, after, limit)
	}, caseOut)
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
		To        string `json:"to" input:"id"`
		Reason    string `json:"reason" input:"text"`
		Reference string `json:"reference" input:"name"`
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
		ShopID string `json:"shop_id" input:"id"`
		Note   string `json:"note" input:"text"`
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
		Reference   string `json:"reference" input:"name"`
		Description string `json:"description" input:"text"`
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
