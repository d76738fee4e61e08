package vehicle

import (
	"time"

	"github.com/clearsky/clearsky/libs/summary"
)

// SummaryOf builds v's compact status as of now: the registry's part of the checkpoint verdict,
// kept in Redis for the checkpoint and the other services.
func SummaryOf(v Vehicle, p Policy, now time.Time) summary.Vehicle {
	po := PhaseOutOf(v, p, now)
	st := summary.Vehicle{
		VIN: v.VIN, Plate: v.Plate, PlateColour: string(v.PlateColour), Status: string(v.Status), StatusReason: v.StatusReason,
		FuelType: string(v.FuelType), EmissionStandard: string(v.EmissionStandard), Category: string(v.Category), Use: string(v.Use),
		ServiceClass: string(v.ServiceClass), Heavy: v.Heavy(), NewEnergy: v.NewEnergy(), FleetID: v.FleetID, Maker: v.Maker,
		RegisteredOn: v.RegisteredOn.Format(time.DateOnly), RegisteredPlace: v.RegisteredPlace,
		PhaseOut:      summary.PhaseOut{Listed: po.Listed, List: po.List, Reason: po.Reason, Overdue: po.Overdue},
		TerminalBound: v.Terminal != nil, Version: v.Version,
	}
	if po.Listed {
		st.PhaseOut.Deadline = po.Deadline.Format(time.DateOnly)
	}
	if !v.ScrapDue.IsZero() {
		st.ScrapDue = v.ScrapDue.Format(time.DateOnly)
		st.PastScrapDue = now.After(v.ScrapDue)
	}
	if v.Terminal != nil {
		st.TerminalICCID = v.Terminal.ICCID
		st.TerminalKey = v.Terminal.PublicKey
	}
	if v.LastInspection != nil {
		st.InspectionStation = v.LastInspection.StationID
	}
	return st
}
