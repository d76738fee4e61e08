package vehicle

import (
	"time"

	"github.com/clearsky/clearsky/libs/vehicleid"
)

// Summary is a vehicle's compact registration status: the registry's part of the checkpoint
// verdict, kept in Redis under the plate's key.
type Summary struct {
	VIN              string           `json:"vin"`
	Plate            string           `json:"plate"`
	PlateColour      vehicleid.Colour `json:"plate_colour"`
	Status           Status           `json:"status"`
	StatusReason     string           `json:"status_reason,omitempty"`
	FuelType         FuelType         `json:"fuel_type"`
	EmissionStandard Standard         `json:"emission_standard"`
	Category         Category         `json:"category"`
	Use              Use              `json:"use"`
	ServiceClass     ServiceClass     `json:"service_class"`
	Heavy            bool             `json:"heavy"`
	NewEnergy        bool             `json:"new_energy"`
	FleetID          string           `json:"fleet_id,omitempty"`
	Maker            string           `json:"maker"`
	ScrapDue         string           `json:"scrap_due,omitempty"`
	PastScrapDue     bool             `json:"past_scrap_due"`
	PhaseOut         PhaseOut         `json:"phase_out"`
	TerminalBound    bool             `json:"terminal_bound"`
	Version          int64            `json:"version"`
}

// SummaryOf builds the compact status of v as of now.
func SummaryOf(v Vehicle, p Policy, now time.Time) Summary {
	st := Summary{
		VIN: v.VIN, Plate: v.Plate, PlateColour: v.PlateColour, Status: v.Status, StatusReason: v.StatusReason,
		FuelType: v.FuelType, EmissionStandard: v.EmissionStandard, Category: v.Category, Use: v.Use,
		ServiceClass: v.ServiceClass, Heavy: v.Heavy(), NewEnergy: v.NewEnergy(), FleetID: v.FleetID, Maker: v.Maker,
		PhaseOut: PhaseOutOf(v, p, now), TerminalBound: v.Terminal != nil, Version: v.Version,
	}
	if !v.ScrapDue.IsZero() {
		st.ScrapDue = v.ScrapDue.Format(time.DateOnly)
		st.PastScrapDue = now.After(v.ScrapDue)
	}
	return st
}
