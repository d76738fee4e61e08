package handler

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/cursor"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/registry/internal/vehicle"
)

// changeJSON is one proposed field change; values have the field's own JSON type (a date is
// "YYYY-MM-DD", no scrap-due day is null).
type changeJSON struct {
	Field string `json:"field"`
	From  any    `json:"from"`
	To    any    `json:"to"`
}

type proposalEventJSON struct {
	Action string    `json:"action"`
	By     string    `json:"by"`
	Role   string    `json:"role"`
	Tenant string    `json:"tenant,omitempty"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

type proposalJSON struct {
	ID          string              `json:"proposal_id"`
	VIN         string              `json:"vin"`
	Plate       string              `json:"plate"`
	PlateColour string              `json:"plate_colour"`
	FleetID     string              `json:"fleet_id,omitempty"`
	State       string              `json:"state"`
	Changes     []changeJSON        `json:"changes"`
	BaseVersion int64               `json:"base_version"`
	ProposedBy  string              `json:"proposed_by"`
	ProposedAt  time.Time           `json:"proposed_at"`
	DecidedBy   string              `json:"decided_by,omitempty"`
	DecidedAt   time.Time           `json:"decided_at,omitzero"`
	Reason      string              `json:"reason,omitempty"`
	History     []proposalEventJSON `json:"history"`
	Version     int64               `json:"version"`
}

// fieldValue is a patch value as the vehicle's JSON writes it.
func fieldValue(v any) any {
	if t, ok := v.(time.Time); ok {
		if t.IsZero() {
			return nil
		}
		return t.Format(time.DateOnly)
	}
	return v
}

func proposalOut(pr vehicle.Proposal) proposalJSON {
	j := proposalJSON{ID: pr.ID, VIN: pr.VIN, Plate: pr.Plate, PlateColour: string(pr.PlateColour), FleetID: pr.FleetID, State: string(pr.State),
		Changes: []changeJSON{}, BaseVersion: pr.BaseVersion, ProposedBy: pr.ProposedBy, ProposedAt: pr.ProposedAt, DecidedBy: pr.DecidedBy,
		DecidedAt: pr.DecidedAt, Reason: pr.Reason, History: []proposalEventJSON{}, Version: pr.Version}
	was := pr.Was.Fields()
	for i, f := range pr.Change.Fields() {
		ch := changeJSON{Field: f.Name, To: fieldValue(f.Value)}
		if i < len(was) && was[i].Name == f.Name {
			ch.From = fieldValue(was[i].Value)
		}
		j.Changes = append(j.Changes, ch)
	}
	for _, e := range pr.History {
		j.History = append(j.History, proposalEventJSON{Action: e.Action, By: e.By, Role: string(e.Role), Tenant: e.Tenant, At: e.At, Reason: e.Reason})
	}
	return j
}

// listProposals: GET /v1/vehicle-proposals?state=&vin=&fleet_id=&limit=&cursor=
func (h *Handler) listProposals(c *gin.Context) error {
	f := vehicle.ProposalFilter{State: vehicle.ProposalState(c.Query("state")), VIN: c.Query("vin"), FleetID: c.Query("fleet_id")}
	caller := auth.Caller(c)
	return export.Sorted(c, "vehicle-proposals", func(ctx context.Context, after cursor.Key, limit int) ([]vehicle.Proposal, error) {
		return h.svc.ListProposals(ctx, caller, f, after, limit)
	}, func(pr vehicle.Proposal) cursor.Key { return cursor.Key{At: pr.ProposedAt, ID: pr.ID} }, proposalOut)
}

func (h *Handler) getProposal(c *gin.Context) error {
	pr, err := h.svc.GetProposal(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, proposalOut(pr))
	return nil
}

type reasonBody struct {
	Reason string `json:"reason" input:"text"`
}

// reason reads an optional {"reason": ...} body (an empty body is no reason).
func reason(c *gin.Context) (string, error) {
	if c.Request.ContentLength == 0 {
		return "", nil
	}
	var b reasonBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return "", err
	}
	return b.Reason, nil
}

// acceptProposal answers the proposal, accepted, and the vehicle as it now stands.
func (h *Handler) acceptProposal(c *gin.Context) error {
	why, err := reason(c)
	if err != nil {
		return err
	}
	pr, v, err := h.svc.AcceptProposal(c.Request.Context(), auth.Caller(c), c.Param("id"), why)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"proposal": proposalOut(pr), "vehicle": h.toJSON(v)})
	return nil
}

func (h *Handler) refuseProposal(c *gin.Context) error {
	why, err := reason(c)
	if err != nil {
		return err
	}
	pr, err := h.svc.RefuseProposal(c.Request.Context(), auth.Caller(c), c.Param("id"), why)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, proposalOut(pr))
	return nil
}
