// Package vehicle holds the registry's rules: what a vehicle record is, who may register, read
// and change it, registration screening (tasks 13 and 15 of the action plan), the phase-out
// lists and the clean-energy quota report. It knows nothing of HTTP, MongoDB or Redis: it
// declares the Store and StatusCache it needs.
package vehicle

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/emission"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// Sentinel errors; each wraps an apperr kind.
var (
	ErrNotFound          = fmt.Errorf("vehicle %w", apperr.ErrNotFound)
	ErrDuplicateVIN      = fmt.Errorf("a vehicle with this VIN is already registered: %w", apperr.ErrConflict)
	ErrDuplicatePlate    = fmt.Errorf("another vehicle already carries this plate and colour: %w", apperr.ErrConflict)
	ErrVersionConflict   = fmt.Errorf("the vehicle changed while this update was made; read it again and retry: %w", apperr.ErrConflict)
	ErrScreeningNotFound = fmt.Errorf("screening %w", apperr.ErrNotFound)
)

// FuelType is what the vehicle runs on.
type FuelType string

// Fuel types.
const (
	Gasoline FuelType = "gasoline"
	Diesel   FuelType = "diesel"
	Gas      FuelType = "gas" // natural gas or LPG
	Hybrid   FuelType = "hybrid"
	Electric FuelType = "electric"
	FuelCell FuelType = "fuel_cell"
)

// FuelTypes lists the valid fuel types.
var FuelTypes = []FuelType{Gasoline, Diesel, Gas, Hybrid, Electric, FuelCell}

// Standard is a China emission standard (国一..国六).
type Standard string

// Emission standards. VI without a letter is read as VIa.
const (
	StdI   Standard = "I"
	StdII  Standard = "II"
	StdIII Standard = "III"
	StdIV  Standard = "IV"
	StdV   Standard = "V"
	StdVI  Standard = "VI"
	StdVIa Standard = "VIa"
	StdVIb Standard = "VIb"
)

// Standards lists the valid standards, oldest first.
var Standards = []Standard{StdI, StdII, StdIII, StdIV, StdV, StdVI, StdVIa, StdVIb}

// Rank orders standards: a higher rank is stricter. VI and VIa rank the same (libs/emission).
func (s Standard) Rank() int { return emission.Rank(string(s)) }

// Category is the vehicle category of GB/T 15089.
type Category string

// Categories.
const (
	M1 Category = "M1"
	M2 Category = "M2"
	M3 Category = "M3"
	N1 Category = "N1"
	N2 Category = "N2"
	N3 Category = "N3"
)

// Categories lists the valid categories.
var Categories = []Category{M1, M2, M3, N1, N2, N3}

// Truck reports whether the category carries goods.
func (c Category) Truck() bool { return c == N1 || c == N2 || c == N3 }

// Use is whether the vehicle is run commercially.
type Use string

// Uses.
const (
	Operating    Use = "operating"     // 营运
	NonOperating Use = "non_operating" // 非营运
)

// Uses lists the valid uses.
var Uses = []Use{Operating, NonOperating}

// Status is a registration's standing; only the bureau and the police change it.
type Status string

// Statuses.
const (
	Active       Status = "active"
	Scrapped     Status = "scrapped"
	Deregistered Status = "deregistered"
	PlateVoid    Status = "plate_void" // past forced scrappage and not deregistered (task 13)
)

// Statuses lists the valid statuses.
var Statuses = []Status{Active, Scrapped, Deregistered, PlateVoid}

// ServiceClass is what the vehicle is used for, as the clean-energy quota of task 13 counts it.
type ServiceClass string

// Service classes.
const (
	Bus            ServiceClass = "bus"
	Sanitation     ServiceClass = "sanitation"
	Postal         ServiceClass = "postal"
	Taxi           ServiceClass = "taxi"
	Commuter       ServiceClass = "commuter"
	LightLogistics ServiceClass = "light_logistics"
	MuckTruck      ServiceClass = "muck"
	Freight        ServiceClass = "freight"
	OtherClass     ServiceClass = "other"
)

// ServiceClasses lists the valid service classes.
var ServiceClasses = []ServiceClass{Bus, Sanitation, Postal, Taxi, Commuter, LightLogistics, MuckTruck, Freight, OtherClass}

// Inspection is a periodic emission inspection report.
type Inspection struct {
	ReportID    string    `json:"report_id"`
	StationID   string    `json:"station_id"`
	Result      string    `json:"result"` // pass | fail
	InspectedOn time.Time `json:"inspected_on"`
}

// Terminal is the OBD remote-monitoring terminal bound to a heavy diesel truck.
type Terminal struct {
	ICCID   string    `json:"iccid"`
	BoundAt time.Time `json:"bound_at"`
	BoundBy string    `json:"bound_by"`
	// ChipID is the HJ 1239 security chip's id, as the owner states it at binding (optional: when
	// given, only that chip may activate).
	ChipID string `json:"chip_id,omitempty"`
	// PublicKey is the chip's SM2 public key (X || Y, hex), filed by the OBD gateway from the
	// terminal's activation; never set by the owner. Binding another terminal clears it.
	PublicKey  string     `json:"public_key,omitempty"`
	KeyFiledAt *time.Time `json:"key_filed_at,omitempty"`
}

// Vehicle is one registration.
type Vehicle struct {
	VIN              string
	Plate            string
	PlateColour      vehicleid.Colour
	FuelType         FuelType
	EmissionStandard Standard
	Category         Category
	Use              Use
	ServiceClass     ServiceClass
	Maker            string
	Owner            string // the registered owner's name: personal data, reads are audited
	FleetID          string // the transport company that manages it; its tenant id
	RegisteredOn     time.Time
	RegisteredPlace  string
	GrossMassKg      int
	LeanBurn         bool // lean-burn gas engine (phase-out list, task 13)
	// BuiltUpArea marks a vehicle that serves the city's built-up area (城市建成区): the
	// clean-energy quotas of task 13 count those (the bureau's record; a fleet proposes it).
	BuiltUpArea  bool
	ConvertedGas bool // converted from petrol to gas (phase-out list, task 13)
	ScrapDue     time.Time
	Status       Status
	StatusReason string
	// StatusChangedAt is when Status last changed (zero: never, or before it was kept).
	StatusChangedAt time.Time
	Terminal        *Terminal
	LastInspection  *Inspection
	CreatedAt       time.Time
	UpdatedAt       time.Time
	UpdatedBy       string
	Version         int64
}

// Heavy reports whether the vehicle is a heavy vehicle (N2, N3, M3, or M2 over 3.5 t), the
// class OBD monitoring and heavy-pollution restrictions apply to.
func (v Vehicle) Heavy() bool {
	switch v.Category {
	case N2, N3, M3:
		return true
	case M2:
		return v.GrossMassKg > 3500
	}
	return false
}

// NewEnergy reports whether the vehicle counts as new-energy: battery-electric, fuel-cell, or a
// hybrid on a green (new-energy) plate, i.e. a plug-in hybrid.
func (v Vehicle) NewEnergy() bool {
	return v.FuelType == Electric || v.FuelType == FuelCell || (v.FuelType == Hybrid && v.PlateColour.NewEnergy())
}

// CleanEnergy reports whether the vehicle counts toward the clean-energy quota: new-energy or gas.
func (v Vehicle) CleanEnergy() bool { return v.NewEnergy() || v.FuelType == Gas }

// PlateKey is the plate + colour lookup key.
func (v Vehicle) PlateKey() string { return vehicleid.Key(v.Plate, v.PlateColour) }

// Validate checks every field of a vehicle about to be stored and names each one at fault.
func (v *Vehicle) Validate() error {
	var ve apperr.ValidationError
	if vin, err := vehicleid.NormaliseVIN(v.VIN); err != nil {
		ve.Add("vin", err.Error())
	} else {
		v.VIN = vin
	}
	if p, err := vehicleid.NormalisePlate(v.Plate); err != nil {
		ve.Add("plate", err.Error())
	} else {
		v.Plate = p
	}
	if c, err := vehicleid.ParseColour(string(v.PlateColour)); err != nil {
		ve.Add("plate_colour", err.Error())
	} else {
		v.PlateColour = c
	}
	oneOf(&ve, "fuel_type", v.FuelType, FuelTypes)
	oneOf(&ve, "emission_standard", v.EmissionStandard, Standards)
	oneOf(&ve, "category", v.Category, Categories)
	oneOf(&ve, "use", v.Use, Uses)
	if v.ServiceClass == "" {
		v.ServiceClass = OtherClass
	}
	oneOf(&ve, "service_class", v.ServiceClass, ServiceClasses)
	if v.Status == "" {
		v.Status = Active
	}
	oneOf(&ve, "status", v.Status, Statuses)
	v.Maker = strings.TrimSpace(v.Maker)
	if v.Maker == "" {
		ve.Add("maker", "required: the maker or importer, for trace-back (task 15)")
	}
	if v.RegisteredOn.IsZero() {
		ve.Add("registered_on", "required: the date of first registration, YYYY-MM-DD")
	} else if v.RegisteredOn.After(time.Now().Add(24 * time.Hour)) {
		ve.Add("registered_on", "may not be in the future")
	}
	if v.GrossMassKg < 0 || v.GrossMassKg > 100000 {
		ve.Add("gross_mass_kg", "must be between 0 and 100000")
	}
	if v.PlateColour.NewEnergy() && !(v.FuelType == Electric || v.FuelType == FuelCell || v.FuelType == Hybrid) && ve.Err() == nil {
		ve.Add("plate_colour", "green and yellow-green plates are for new-energy vehicles only")
	}
	return ve.Err()
}

func oneOf[T ~string](ve *apperr.ValidationError, field string, v T, valid []T) {
	if slices.Contains(valid, v) {
		return
	}
	names := make([]string, len(valid))
	for i, x := range valid {
		names[i] = string(x)
	}
	if v == "" {
		ve.Add(field, "required: one of "+strings.Join(names, ", "))
		return
	}
	ve.Add(field, fmt.Sprintf("%q is not one of %s", string(v), strings.Join(names, ", ")))
}
