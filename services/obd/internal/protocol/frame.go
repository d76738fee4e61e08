package protocol

import (
	"time"
)

// Frame is one decoded frame. Which of its parts are set depends on
// Header.Command; the others are zero. A Frame is meant to be reused: Decode
// keeps the capacity of its slices.
type Frame struct {
	// Header is the frame header.
	Header Header
	// Data is the data unit, aliasing the decoded input. The encoders use
	// it for activation frames, activation replies and encrypted frames,
	// whose data units are not decoded.
	Data []byte
	// Login is the data unit of CmdLogin.
	Login Login
	// Logout is the data unit of CmdLogout.
	Logout Logout
	// Report is the data unit of CmdRealtime and CmdReissue.
	Report Report
	// Tamper is the data unit of CmdTamperAlarm.
	Tamper Tamper
	// Time is the platform's time in a CmdTimeCalibration reply; it is the
	// zero time in the terminal's empty request.
	Time time.Time
}

// reset clears f for a new decode, keeping the capacity of its slices.
func (f *Frame) reset() {
	f.Header = Header{}
	f.Data = nil
	f.Login = Login{}
	f.Logout = Logout{}
	f.Tamper = Tamper{}
	f.Time = time.Time{}
	f.Report = Report{Items: f.Report.Items[:0]}
}

// Login is the data unit of a vehicle login (CmdLogin).
type Login struct {
	// Time is the login time.
	Time time.Time
	// Serial is the login serial number, which the logout repeats.
	Serial uint16
	// ICCID is the SIM card's ICCID, 20 ASCII characters, kept as sent.
	ICCID [20]byte
}

// Logout is the data unit of a vehicle logout (CmdLogout).
type Logout struct {
	// Time is the logout time.
	Time time.Time
	// Serial is the serial of the login this logout ends.
	Serial uint16
}

// Tamper is the data unit of an anti-tamper alarm (CmdTamperAlarm).
type Tamper struct {
	// Time is the time of the alarm.
	Time time.Time
	// Serial is the information serial number.
	Serial uint16
	// Position is where the vehicle was.
	Position Position
}

// Bits of Position.Status.
const (
	// PosInvalid is set when the position fix is not valid.
	PosInvalid = 1 << 0
	// PosSouth is set for a southern latitude.
	PosSouth = 1 << 1
	// PosWest is set for a western longitude.
	PosWest = 1 << 2
)

// Position is a positioning status with its raw coordinates.
type Position struct {
	// Status holds the PosInvalid, PosSouth and PosWest bits.
	Status byte
	// Longitude is the absolute longitude in millionths of a degree.
	Longitude uint32
	// Latitude is the absolute latitude in millionths of a degree.
	Latitude uint32
}

// Degrees returns the signed longitude and latitude in degrees (east and
// north positive), or ok false when the fix is flagged invalid or a
// coordinate is not available.
func (p *Position) Degrees() (lon, lat float64, ok bool) {
	if p.Status&PosInvalid != 0 || p.Longitude == na32 || p.Latitude == na32 {
		return 0, 0, false
	}
	lon, lat = float64(p.Longitude)/1e6, float64(p.Latitude)/1e6
	if p.Status&PosWest != 0 {
		lon = -lon
	}
	if p.Status&PosSouth != 0 {
		lat = -lat
	}
	return lon, lat, true
}

// Report is the data unit of a real-time or reissued report.
type Report struct {
	// Layout is the layout the report was decoded from or is encoded to.
	Layout Layout
	// Time is the collection time (LayoutGB17691) or the send time
	// (LayoutHJ1239).
	Time time.Time
	// Serial is the information serial of an LayoutHJ1239 report.
	Serial uint16
	// Items are the information items in the order sent.
	Items []Item
	// Signature is the SM2 signature closing an LayoutHJ1239 report, kept
	// raw; it aliases the decoded input.
	Signature []byte
	// Signed is the part of the data unit the signature covers (all of it
	// before the signature), aliasing the decoded input; nil without one.
	Signed []byte
}

// nextItem extends r.Items by one cleared item, reusing the slice's
// capacity and the item's fault code slice.
func (r *Report) nextItem() *Item {
	n := len(r.Items)
	if n == cap(r.Items) {
		r.Items = append(r.Items, Item{})
		return &r.Items[n]
	}
	r.Items = r.Items[:n+1]
	it := &r.Items[n]
	codes := it.OBD.FaultCodes[:0]
	*it = Item{}
	it.OBD.FaultCodes = codes
	return it
}

// ItemType is the type of an information item in a report.
type ItemType byte

// Information item types. Only ItemOBD and ItemDiesel are decoded.
const (
	// ItemOBD is the OBD information.
	ItemOBD ItemType = 0x01
	// ItemDiesel is the diesel engine data stream.
	ItemDiesel ItemType = 0x02
	// ItemTWC is the three-way catalyst data stream of gas vehicles.
	ItemTWC ItemType = 0x03
	// ItemHybrid is the hybrid vehicle data stream.
	ItemHybrid ItemType = 0x04
	// ItemTWCNOx is the three-way catalyst with NOx sensor data stream.
	ItemTWCNOx ItemType = 0x05
	// ItemSupplementary is the supplementary data stream.
	ItemSupplementary ItemType = 0x80
)

// Item is one information item of a report.
type Item struct {
	// Type is the item type.
	Type ItemType
	// Serial is the information serial (LayoutGB17691).
	Serial uint16
	// Time is the collection time (LayoutHJ1239).
	Time time.Time
	// OBD is the body of an ItemOBD item.
	OBD OBDInfo
	// Diesel is the body of an ItemDiesel item.
	Diesel DieselStream
	// Raw is the body of an item of another type whose size was given in
	// Decoder.RawItemSizes; it aliases the decoded input.
	Raw []byte
}

// Values of OBDInfo.FaultCount meaning "not available": no codes follow.
const (
	// FaultCountInvalid is the fault count the standard defines as invalid.
	FaultCountInvalid = 0xFE
	// FaultCountNotAvailable is the all-ones fault count, also taken as
	// "not available".
	FaultCountNotAvailable = 0xFF
)

// OBDInfo is the body of an OBD information item (ItemOBD).
type OBDInfo struct {
	// Protocol is the OBD diagnostic protocol: 0 ISO 15765, 1 ISO 27145,
	// 2 SAE J1939, 0xFE invalid.
	Protocol byte
	// MIL is the malfunction indicator lamp status: 0 off, 1 on, 0xFE
	// invalid.
	MIL byte
	// DiagnosticSupport is the diagnostic support status bit field.
	DiagnosticSupport uint16
	// DiagnosticReadiness is the diagnostic readiness status bit field.
	DiagnosticReadiness uint16
	// VIN is the VIN read from the engine controller, kept as sent and not
	// validated: controllers that cannot report it send filler bytes.
	VIN [17]byte
	// CalibrationID is the software calibration ID, ASCII, kept as sent.
	CalibrationID [18]byte
	// CVN is the calibration verification number, ASCII, kept as sent.
	CVN [18]byte
	// IUPR is the in-use performance ratio block, kept raw.
	IUPR [36]byte
	// FaultCount is the fault code count as sent. FaultCountInvalid and
	// FaultCountNotAvailable mean not available, and no codes follow. The
	// encoders write len(FaultCodes) unless FaultCodes is empty and
	// FaultCount is one of those two values.
	FaultCount byte
	// FaultCodes are the fault codes. The slice is owned by the Frame and
	// reused by the next Decode.
	FaultCodes []uint32
}

// FaultCountValid reports whether the fault count is available (not
// FaultCountInvalid or FaultCountNotAvailable).
func (o *OBDInfo) FaultCountValid() bool {
	return o.FaultCount != FaultCountInvalid && o.FaultCount != FaultCountNotAvailable
}

// Not-available raw values.
const (
	na8  = 0xFF
	na16 = 0xFFFF
	na32 = 0xFFFFFFFF
)

// DieselStreamLen is the size of a diesel data stream item body.
const DieselStreamLen = 37

// DieselStream is the body of a diesel engine data stream item
// (ItemDiesel). Each field is the raw wire integer; all ones means not
// available. The method named after a field with a unit suffix converts it
// and reports whether it is available.
type DieselStream struct {
	// Speed is the vehicle speed, 1/256 km/h.
	Speed uint16
	// AtmosphericPressure is the atmospheric pressure, 0.5 kPa.
	AtmosphericPressure uint8
	// NetTorque is the engine net output torque, 1 %, offset -125.
	NetTorque uint8
	// FrictionTorque is the friction torque, 1 %, offset -125.
	FrictionTorque uint8
	// EngineSpeed is the engine speed, 0.125 rpm.
	EngineSpeed uint16
	// FuelFlow is the engine fuel flow, 0.05 L/h.
	FuelFlow uint16
	// NOxUpstream is the SCR upstream NOx sensor output, 0.05 ppm, offset
	// -200.
	NOxUpstream uint16
	// NOxDownstream is the SCR downstream NOx sensor output, 0.05 ppm,
	// offset -200.
	NOxDownstream uint16
	// Reagent is the reagent (urea) remaining, 0.4 %.
	Reagent uint8
	// IntakeAirFlow is the intake air flow, 0.05 kg/h.
	IntakeAirFlow uint16
	// SCRInletTemp is the SCR inlet temperature, 0.03125 °C, offset -273.
	SCRInletTemp uint16
	// SCROutletTemp is the SCR outlet temperature, 0.03125 °C, offset -273.
	SCROutletTemp uint16
	// DPFPressure is the DPF differential pressure, 0.1 kPa.
	DPFPressure uint16
	// CoolantTemp is the engine coolant temperature, 1 °C, offset -40.
	CoolantTemp uint8
	// FuelLevel is the fuel tank level, 0.4 %.
	FuelLevel uint8
	// Position is the positioning status and coordinates.
	Position Position
	// Mileage is the total mileage, 0.1 km.
	Mileage uint32
}

func conv8(raw uint8, div, offset float64) (float64, bool) {
	if raw == na8 {
		return 0, false
	}
	return float64(raw)/div + offset, true
}

func conv16(raw uint16, div, offset float64) (float64, bool) {
	if raw == na16 {
		return 0, false
	}
	return float64(raw)/div + offset, true
}

// SpeedKmh returns the vehicle speed in km/h.
func (d *DieselStream) SpeedKmh() (float64, bool) { return conv16(d.Speed, 256, 0) }

// AtmosphericPressureKPa returns the atmospheric pressure in kPa.
func (d *DieselStream) AtmosphericPressureKPa() (float64, bool) {
	return conv8(d.AtmosphericPressure, 2, 0)
}

// NetTorquePercent returns the engine net output torque in percent of the
// reference torque.
func (d *DieselStream) NetTorquePercent() (float64, bool) { return conv8(d.NetTorque, 1, -125) }

// FrictionTorquePercent returns the friction torque in percent of the
// reference torque.
func (d *DieselStream) FrictionTorquePercent() (float64, bool) {
	return conv8(d.FrictionTorque, 1, -125)
}

// EngineSpeedRPM returns the engine speed in rpm.
func (d *DieselStream) EngineSpeedRPM() (float64, bool) { return conv16(d.EngineSpeed, 8, 0) }

// FuelFlowLPerH returns the engine fuel flow in L/h.
func (d *DieselStream) FuelFlowLPerH() (float64, bool) { return conv16(d.FuelFlow, 20, 0) }

// NOxUpstreamPPM returns the SCR upstream NOx concentration in ppm.
func (d *DieselStream) NOxUpstreamPPM() (float64, bool) { return conv16(d.NOxUpstream, 20, -200) }

// NOxDownstreamPPM returns the SCR downstream NOx concentration in ppm.
func (d *DieselStream) NOxDownstreamPPM() (float64, bool) {
	return conv16(d.NOxDownstream, 20, -200)
}

// ReagentPercent returns the reagent (urea) remaining in percent.
func (d *DieselStream) ReagentPercent() (float64, bool) { return conv8(d.Reagent, 2.5, 0) }

// IntakeAirFlowKgPerH returns the intake air flow in kg/h.
func (d *DieselStream) IntakeAirFlowKgPerH() (float64, bool) {
	return conv16(d.IntakeAirFlow, 20, 0)
}

// SCRInletTempC returns the SCR inlet temperature in °C.
func (d *DieselStream) SCRInletTempC() (float64, bool) { return conv16(d.SCRInletTemp, 32, -273) }

// SCROutletTempC returns the SCR outlet temperature in °C.
func (d *DieselStream) SCROutletTempC() (float64, bool) {
	return conv16(d.SCROutletTemp, 32, -273)
}

// DPFPressureKPa returns the DPF differential pressure in kPa.
func (d *DieselStream) DPFPressureKPa() (float64, bool) { return conv16(d.DPFPressure, 10, 0) }

// CoolantTempC returns the engine coolant temperature in °C.
func (d *DieselStream) CoolantTempC() (float64, bool) { return conv8(d.CoolantTemp, 1, -40) }

// FuelLevelPercent returns the fuel tank level in percent.
func (d *DieselStream) FuelLevelPercent() (float64, bool) { return conv8(d.FuelLevel, 2.5, 0) }

// MileageKm returns the total mileage in km.
func (d *DieselStream) MileageKm() (float64, bool) {
	if d.Mileage == na32 {
		return 0, false
	}
	return float64(d.Mileage) / 10, true
}

// DieselNotAvailable returns a DieselStream with every field not available
// (all ones), a starting point for encoders that know only some values.
func DieselNotAvailable() DieselStream {
	return DieselStream{
		Speed: na16, AtmosphericPressure: na8, NetTorque: na8, FrictionTorque: na8,
		EngineSpeed: na16, FuelFlow: na16, NOxUpstream: na16, NOxDownstream: na16,
		Reagent: na8, IntakeAirFlow: na16, SCRInletTemp: na16, SCROutletTemp: na16,
		DPFPressure: na16, CoolantTemp: na8, FuelLevel: na8,
		Position: Position{Status: na8, Longitude: na32, Latitude: na32},
		Mileage:  na32,
	}
}
