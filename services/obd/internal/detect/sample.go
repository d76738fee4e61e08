package detect

import "time"

// Sample is one 1 Hz sample of a diesel engine data stream (GB 17691-2018
// annex Q item 0x02), optionally with the OBD information (item 0x01) of its
// frame. Units are those of the standard: km/h, rpm, %, ppm, degrees
// Celsius, kPa, kg/h, km and degrees.
type Sample struct {
	// VIN identifies the truck; a sample for another VIN than the Truck's
	// is rejected.
	VIN string `json:"vin"`
	// At is the collection instant (the terminal clock, converted to UTC).
	At time.Time `json:"at"`
	// Unsigned marks a sample whose origin no signature proves (GB 17691
	// data, or HJ 1239 data from a terminal with no key on file): it never
	// runs the exemption clock, and an alarm it opens says so.
	Unsigned bool `json:"unsigned,omitempty"`
	// ReceivedAt is the instant the platform received the frame, zero when
	// unknown. The offline and data-gap rules measure silence with it, so
	// that a terminal clock running late or early does not make a talking
	// terminal look silent; when zero, At is used instead.
	ReceivedAt time.Time `json:"received_at,omitzero"`

	// Speed is the vehicle speed in km/h.
	Speed Value `json:"speed_kmh"`
	// EngineSpeed is the engine speed in rpm.
	EngineSpeed Value `json:"engine_speed_rpm"`
	// NetTorque is the engine net output torque in % of reference torque.
	NetTorque Value `json:"net_torque_pct"`
	// NOxUp is the SCR upstream NOx concentration in ppm.
	NOxUp Value `json:"nox_up_ppm"`
	// NOxDown is the SCR downstream NOx concentration in ppm.
	NOxDown Value `json:"nox_down_ppm"`
	// Reagent is the reagent (urea) tank level in %.
	Reagent Value `json:"reagent_pct"`
	// SCRInletTemp is the SCR inlet temperature in C.
	SCRInletTemp Value `json:"scr_inlet_c"`
	// SCROutletTemp is the SCR outlet temperature in C.
	SCROutletTemp Value `json:"scr_outlet_c"`
	// Coolant is the engine coolant temperature in C.
	Coolant Value `json:"coolant_c"`
	// FuelLevel is the fuel tank level in %.
	FuelLevel Value `json:"fuel_level_pct"`
	// DPFPressureDrop is the DPF differential pressure in kPa.
	DPFPressureDrop Value `json:"dpf_dp_kpa"`
	// AirFlow is the intake air flow in kg/h.
	AirFlow Value `json:"air_flow_kgh"`
	// PositionValid reports whether Lon and Lat are a valid fix
	// (positioning status bit 0 clear).
	PositionValid bool `json:"position_valid"`
	// Lon is the longitude in degrees, west negative.
	Lon float64 `json:"lon"`
	// Lat is the latitude in degrees, south negative.
	Lat float64 `json:"lat"`
	// Mileage is the total mileage in km.
	Mileage Value `json:"mileage_km"`

	// MIL is the malfunction indicator lamp, MILUnknown when the frame had
	// no OBD information.
	MIL MIL `json:"mil,omitzero"`
	// FaultCodes are the diagnostic trouble codes of the frame's OBD
	// information: nil when absent (no OBD item, or fault count 0xFE
	// "invalid"), an empty non-nil slice when the terminal reported zero
	// codes. In JSON, null versus [].
	FaultCodes []uint32 `json:"fault_codes"`
}

// RemovalEvent is an anti-tamper / removal alarm sent by the terminal
// (HJ 1239 command 0x06).
type RemovalEvent struct {
	// VIN identifies the truck.
	VIN string `json:"vin"`
	// At is the instant of the event (terminal clock, UTC).
	At time.Time `json:"at"`
	// ReceivedAt is the instant the platform received it, zero when unknown.
	ReceivedAt time.Time `json:"received_at,omitzero"`
	// Serial is the information serial number of the event.
	Serial uint16 `json:"serial"`
	// Unsigned: no signature proves the connection it came over (Sample.Unsigned).
	Unsigned bool `json:"unsigned,omitempty"`
	// PositionValid reports whether Lon and Lat are a valid fix.
	PositionValid bool `json:"position_valid"`
	// Lon is the longitude in degrees, west negative.
	Lon float64 `json:"lon"`
	// Lat is the latitude in degrees, south negative.
	Lat float64 `json:"lat"`
}
