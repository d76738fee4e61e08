package summary

// Vehicle is the registry's part: a vehicle's compact registration status, stored under the
// plate key and under the VIN key. Other services read it through libs/vehicleinfo.
type Vehicle struct {
	VIN              string   `json:"vin"`
	Plate            string   `json:"plate"`
	PlateColour      string   `json:"plate_colour"`
	Status           string   `json:"status"` // active | scrapped | deregistered | plate_void
	StatusReason     string   `json:"status_reason,omitempty"`
	FuelType         string   `json:"fuel_type"`
	EmissionStandard string   `json:"emission_standard"`
	Category         string   `json:"category"`
	Use              string   `json:"use"`
	ServiceClass     string   `json:"service_class"`
	Heavy            bool     `json:"heavy"`
	NewEnergy        bool     `json:"new_energy"`
	FleetID          string   `json:"fleet_id,omitempty"`
	Maker            string   `json:"maker"`
	RegisteredOn     string   `json:"registered_on,omitempty"`
	RegisteredPlace  string   `json:"registered_place,omitempty"`
	ScrapDue         string   `json:"scrap_due,omitempty"`
	PastScrapDue     bool     `json:"past_scrap_due"`
	PhaseOut         PhaseOut `json:"phase_out"`
	TerminalBound    bool     `json:"terminal_bound"`
	TerminalICCID    string   `json:"terminal_iccid,omitempty"`
	// TerminalKey is the SM2 public key (hex, X || Y) the terminal's security chip filed at its
	// HJ 1239 activation; empty until it activates. The OBD gateway verifies reports with it.
	TerminalKey string `json:"terminal_key,omitempty"`
	// InspectionStation is the station of the last passing emission inspection (trace-back, task 15).
	InspectionStation string `json:"inspection_station,omitempty"`
	Version           int64  `json:"version"`
}

// PhaseOut is a vehicle's place on the phase-out lists of task 13.
type PhaseOut struct {
	Listed   bool   `json:"listed"`
	List     string `json:"list,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Deadline string `json:"deadline,omitempty"` // YYYY-MM-DD
	Overdue  bool   `json:"overdue"`
}
