package monitor

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/services/obd/internal/detect"
	"github.com/clearsky/clearsky/services/obd/internal/protocol"
)

// Reading is one 1 Hz sample in physical units, as REST clients send it and as the samples API
// returns it. A field that is not OK is "not available".
type Reading struct {
	VIN                 string
	At                  time.Time
	Speed               detect.Value // km/h
	AtmosphericPressure detect.Value // kPa
	NetTorque           detect.Value // %
	FrictionTorque      detect.Value // %
	EngineSpeed         detect.Value // rpm
	FuelFlow            detect.Value // L/h
	NOxUp               detect.Value // ppm
	NOxDown             detect.Value // ppm
	Reagent             detect.Value // %
	AirFlow             detect.Value // kg/h
	SCRInlet            detect.Value // C
	SCROutlet           detect.Value // C
	DPFPressure         detect.Value // kPa
	Coolant             detect.Value // C
	FuelLevel           detect.Value // %
	PositionValid       bool
	Lon, Lat            float64      // degrees, west and south negative
	Mileage             detect.Value // km
	MIL                 detect.MIL
	FaultCodes          []uint32 // nil: no OBD information
	Source              string   // tcp or rest (output only)
}

// field describes how a physical value is carried on the wire (GB 17691-2018 annex Q table).
type field struct {
	name     string
	scale    float64 // raw = (value - offset) * scale
	offset   float64
	min, max float64
}

var (
	fSpeed    = field{"speed_kmh", 256, 0, 0, 250.996}
	fAtm      = field{"atmospheric_pressure_kpa", 2, 0, 0, 125}
	fTorque   = field{"net_torque_pct", 1, -125, -125, 125}
	fFriction = field{"friction_torque_pct", 1, -125, -125, 125}
	fRPM      = field{"engine_speed_rpm", 8, 0, 0, 8031.875}
	fFuelFlow = field{"fuel_flow_lph", 20, 0, 0, 3212.75}
	fNOxUp    = field{"nox_up_ppm", 20, -200, -200, 3012.75}
	fNOxDown  = field{"nox_down_ppm", 20, -200, -200, 3012.75}
	fReagent  = field{"reagent_pct", 2.5, 0, 0, 100}
	fAirFlow  = field{"air_flow_kgh", 20, 0, 0, 3212.75}
	fSCRIn    = field{"scr_inlet_c", 32, -273, -273, 1734.96875}
	fSCROut   = field{"scr_outlet_c", 32, -273, -273, 1734.96875}
	fDPF      = field{"dpf_dp_kpa", 10, 0, 0, 6425.5}
	fCoolant  = field{"coolant_c", 1, -40, -40, 210}
	fFuel     = field{"fuel_level_pct", 2.5, 0, 0, 100}
	fMileage  = field{"mileage_km", 10, 0, 0, 429496729.4}
)

func (f field) raw(v detect.Value, na uint64, ve *apperr.ValidationError, prefix string) uint64 {
	x, ok := v.Get()
	if !ok {
		return na
	}
	if math.IsNaN(x) || x < f.min || x > f.max {
		ve.Add(prefix+f.name, fmt.Sprintf("%g is outside %g..%g", x, f.min, f.max))
		return na
	}
	return uint64(math.Round((x - f.offset) * f.scale))
}

// toStream converts a reading to the wire's raw integers, rounding to the standard's
// resolution; values outside the standard's range are named in ve.
func toStream(r Reading, ve *apperr.ValidationError, prefix string) protocol.DieselStream {
	d := protocol.DieselStream{
		Speed:               uint16(fSpeed.raw(r.Speed, 0xFFFF, ve, prefix)),
		AtmosphericPressure: uint8(fAtm.raw(r.AtmosphericPressure, 0xFF, ve, prefix)),
		NetTorque:           uint8(fTorque.raw(r.NetTorque, 0xFF, ve, prefix)),
		FrictionTorque:      uint8(fFriction.raw(r.FrictionTorque, 0xFF, ve, prefix)),
		EngineSpeed:         uint16(fRPM.raw(r.EngineSpeed, 0xFFFF, ve, prefix)),
		FuelFlow:            uint16(fFuelFlow.raw(r.FuelFlow, 0xFFFF, ve, prefix)),
		NOxUpstream:         uint16(fNOxUp.raw(r.NOxUp, 0xFFFF, ve, prefix)),
		NOxDownstream:       uint16(fNOxDown.raw(r.NOxDown, 0xFFFF, ve, prefix)),
		Reagent:             uint8(fReagent.raw(r.Reagent, 0xFF, ve, prefix)),
		IntakeAirFlow:       uint16(fAirFlow.raw(r.AirFlow, 0xFFFF, ve, prefix)),
		SCRInletTemp:        uint16(fSCRIn.raw(r.SCRInlet, 0xFFFF, ve, prefix)),
		SCROutletTemp:       uint16(fSCROut.raw(r.SCROutlet, 0xFFFF, ve, prefix)),
		DPFPressure:         uint16(fDPF.raw(r.DPFPressure, 0xFFFF, ve, prefix)),
		CoolantTemp:         uint8(fCoolant.raw(r.Coolant, 0xFF, ve, prefix)),
		FuelLevel:           uint8(fFuel.raw(r.FuelLevel, 0xFF, ve, prefix)),
		Mileage:             uint32(fMileage.raw(r.Mileage, 0xFFFFFFFF, ve, prefix)),
	}
	switch {
	case !r.PositionValid:
		d.Position = protocol.Position{Status: protocol.PosInvalid}
	case math.Abs(r.Lon) > 180 || math.Abs(r.Lat) > 90:
		ve.Add(prefix+"lon", "longitude must be within ±180 and latitude within ±90 degrees")
	default:
		var st byte
		if r.Lat < 0 {
			st |= protocol.PosSouth
		}
		if r.Lon < 0 {
			st |= protocol.PosWest
		}
		d.Position = protocol.Position{Status: st, Longitude: uint32(math.Round(math.Abs(r.Lon) * 1e6)), Latitude: uint32(math.Round(math.Abs(r.Lat) * 1e6))}
	}
	return d
}

func val(v float64, ok bool) detect.Value {
	if !ok {
		return detect.NA
	}
	return detect.Of(v)
}

// fromStream converts the wire's raw integers to a reading.
func fromStream(d *protocol.DieselStream) Reading {
	r := Reading{
		Speed: val(d.SpeedKmh()), AtmosphericPressure: val(d.AtmosphericPressureKPa()), NetTorque: val(d.NetTorquePercent()),
		FrictionTorque: val(d.FrictionTorquePercent()), EngineSpeed: val(d.EngineSpeedRPM()), FuelFlow: val(d.FuelFlowLPerH()),
		NOxUp: val(d.NOxUpstreamPPM()), NOxDown: val(d.NOxDownstreamPPM()), Reagent: val(d.ReagentPercent()),
		AirFlow: val(d.IntakeAirFlowKgPerH()), SCRInlet: val(d.SCRInletTempC()), SCROutlet: val(d.SCROutletTempC()),
		DPFPressure: val(d.DPFPressureKPa()), Coolant: val(d.CoolantTempC()), FuelLevel: val(d.FuelLevelPercent()),
		Mileage: val(d.MileageKm()),
	}
	if lon, lat, ok := d.Position.Degrees(); ok {
		r.PositionValid, r.Lon, r.Lat = true, lon, lat
	}
	return r
}

// sample turns a reading into the detection rules' input.
func (r Reading) sample(received time.Time) detect.Sample {
	return detect.Sample{VIN: r.VIN, At: r.At, ReceivedAt: received, Speed: r.Speed, EngineSpeed: r.EngineSpeed,
		NetTorque: r.NetTorque, NOxUp: r.NOxUp, NOxDown: r.NOxDown, Reagent: r.Reagent, SCRInletTemp: r.SCRInlet,
		SCROutletTemp: r.SCROutlet, Coolant: r.Coolant, FuelLevel: r.FuelLevel, DPFPressureDrop: r.DPFPressure,
		AirFlow: r.AirFlow, PositionValid: r.PositionValid, Lon: r.Lon, Lat: r.Lat, Mileage: r.Mileage,
		MIL: r.MIL, FaultCodes: r.FaultCodes}
}

// Readings expands a decoded real-time or reissued report into its samples. In the GB 17691
// layout a report carries one collection time; its k-th diesel data stream item was sampled k
// seconds after it (terminals sample at 1 Hz and send ten samples every 10 s). In the HJ 1239
// layout each item carries its own time. The report's OBD information (MIL, fault codes)
// applies to every sample of the report.
func Readings(f *protocol.Frame, dst []Reading) []Reading {
	vin := f.Header.VIN.String()
	mil := detect.MILUnknown
	var faults []uint32
	for i := range f.Report.Items {
		it := &f.Report.Items[i]
		if it.Type != protocol.ItemOBD {
			continue
		}
		switch it.OBD.MIL {
		case 0:
			mil = detect.MILOff
		case 1:
			mil = detect.MILOn
		}
		if it.OBD.FaultCountValid() {
			faults = slices.Clone(it.OBD.FaultCodes)
			if faults == nil {
				faults = []uint32{}
			}
		}
	}
	k := 0
	for i := range f.Report.Items {
		it := &f.Report.Items[i]
		if it.Type != protocol.ItemDiesel {
			continue
		}
		r := fromStream(&it.Diesel)
		r.VIN, r.MIL, r.FaultCodes = vin, mil, faults
		if f.Report.Layout == protocol.LayoutHJ1239 && !it.Time.IsZero() {
			r.At = it.Time
		} else {
			r.At = f.Report.Time.Add(time.Duration(k) * time.Second)
		}
		k++
		dst = append(dst, r)
	}
	return dst
}

// EncodeReadings packs one VIN's readings into frames of the national format, the one form in
// which telemetry is stored whatever its source. Readings exactly one second apart share a frame
// (up to ten, as terminals send them); others get frames of their own. The frames are
// deterministic for the same readings, so a re-sent REST batch maps to the same stored ids.
// Values outside the standard's ranges are refused naming the field (prefix + field).
func EncodeReadings(vin string, rs []Reading, prefix func(i int) string) ([][]byte, [][]int, error) {
	pv, err := protocol.ParseVIN(vin)
	if err != nil {
		return nil, nil, apperr.Invalid(prefix(0)+"vin", err.Error())
	}
	idx := make([]int, len(rs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return rs[a].At.Compare(rs[b].At) })
	var ve apperr.ValidationError
	var frames [][]byte
	var groups [][]int
	for start := 0; start < len(idx); {
		end := start + 1
		for end < len(idx) && end-start < 10 && rs[idx[end]].At.Sub(rs[idx[end-1]].At) == time.Second &&
			rs[idx[end]].MIL == rs[idx[start]].MIL && slices.Equal(rs[idx[end]].FaultCodes, rs[idx[start]].FaultCodes) {
			end++
		}
		first := rs[idx[start]]
		rep := protocol.Report{Time: first.At}
		serial := uint16(0)
		if first.MIL != detect.MILUnknown || first.FaultCodes != nil {
			obd := protocol.OBDInfo{Protocol: 0xFE, MIL: 0xFE, FaultCount: protocol.FaultCountInvalid, VIN: [17]byte(pv)}
			switch first.MIL {
			case detect.MILOff:
				obd.MIL = 0
			case detect.MILOn:
				obd.MIL = 1
			}
			if first.FaultCodes != nil {
				if len(first.FaultCodes) > 253 {
					ve.Add(prefix(idx[start])+"fault_codes", "at most 253 fault codes")
				}
				obd.FaultCount = byte(len(first.FaultCodes))
				obd.FaultCodes = first.FaultCodes
			}
			rep.Items = append(rep.Items, protocol.Item{Type: protocol.ItemOBD, Serial: serial, OBD: obd})
			serial++
		}
		for _, i := range idx[start:end] {
			rep.Items = append(rep.Items, protocol.Item{Type: protocol.ItemDiesel, Serial: serial, Diesel: toStream(rs[i], &ve, prefix(i))})
			serial++
		}
		b, err := protocol.AppendReport(nil, protocol.Header{Command: protocol.CmdRealtime, VIN: pv, Encryption: protocol.EncNone}, &rep)
		if err != nil {
			ve.Add(prefix(idx[start])+"at", err.Error())
		}
		frames = append(frames, b)
		groups = append(groups, slices.Clone(idx[start:end]))
		start = end
	}
	if err := ve.Err(); err != nil {
		return nil, nil, err
	}
	return frames, groups, nil
}
