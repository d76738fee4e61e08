package protocol

import (
	"encoding/binary"
	"testing"
	"time"
)

// Sample values shared by the tests, the testdata generator and the
// benchmarks.
var (
	sampleVIN    = VIN{'L', 'F', 'W', 'S', 'R', 'X', 'S', 'J', '5', 'M', '1', 'A', '0', '0', '0', '0', '1'}
	sampleHeader = Header{VIN: sampleVIN, SoftwareVersion: 0x10, Encryption: EncNone}
	// sampleTime is 2024-03-15 10:20:30 Beijing time.
	sampleTime = time.Date(2024, 3, 15, 2, 20, 30, 0, time.UTC)
	// sampleTimeWire is sampleTime on the wire.
	sampleTimeWire = []byte{24, 3, 15, 10, 20, 30}
	sampleICCID    = [20]byte([]byte("89860123456789012345"))
)

// sampleDiesel returns the i-th diesel stream sample of a plausible
// 10-second run.
func sampleDiesel(i int) DieselStream {
	return DieselStream{
		Speed:               uint16((60 + i) * 256), // 60+i km/h
		AtmosphericPressure: 200,                    // 100 kPa
		NetTorque:           125 + 40,               // 40 %
		FrictionTorque:      125 + 5,                // 5 %
		EngineSpeed:         uint16((1400 + 10*i) * 8),
		FuelFlow:            uint16(25 * 20),            // 25 L/h
		NOxUpstream:         uint16(4000 + 8000 + 20*i), // 400+i ppm
		NOxDownstream:       uint16(4000 + 600),         // 30 ppm
		Reagent:             200,                        // 80 %
		IntakeAirFlow:       uint16(900 * 20),           // 900 kg/h
		SCRInletTemp:        uint16((273 + 350) * 32),   // 350 °C
		SCROutletTemp:       uint16((273 + 330) * 32),   // 330 °C
		DPFPressure:         35,                         // 3.5 kPa
		CoolantTemp:         40 + 85,                    // 85 °C
		FuelLevel:           150,                        // 60 %
		Position:            Position{Status: 0, Longitude: 116397128 + uint32(i*100), Latitude: 39916527},
		Mileage:             1234567 + uint32(i), // 123456.7 km
	}
}

// sampleOBD returns an OBD information body with two fault codes.
func sampleOBD() OBDInfo {
	o := OBDInfo{
		Protocol:            2, // SAE J1939
		MIL:                 1,
		DiagnosticSupport:   0x0F0F,
		DiagnosticReadiness: 0x0101,
		FaultCodes:          []uint32{0x00123401, 0x0A0B0C0D},
		FaultCount:          2,
	}
	copy(o.VIN[:], sampleVIN[:])
	copy(o.CalibrationID[:], "CAL0123456789ABCDE")
	copy(o.CVN[:], "CVN00000000DEADBEE")
	for i := range o.IUPR {
		o.IUPR[i] = byte(i)
	}
	return o
}

// sampleReport returns a report with an OBD item (if obd) followed by n
// diesel stream items, in layout l.
func sampleReport(l Layout, obd bool, n int) *Report {
	r := &Report{Layout: l, Time: sampleTime}
	serial := uint16(1)
	if l == LayoutHJ1239 {
		r.Serial = 7
	}
	if obd {
		r.Items = append(r.Items, Item{Type: ItemOBD, OBD: sampleOBD()})
	}
	for i := range n {
		r.Items = append(r.Items, Item{Type: ItemDiesel, Diesel: sampleDiesel(i)})
	}
	for i := range r.Items {
		if l == LayoutHJ1239 {
			r.Items[i].Time = sampleTime.Add(time.Duration(i) * time.Second)
		} else {
			r.Items[i].Serial = serial
			serial++
		}
	}
	return r
}

// sampleSignature is a well-formed HJ 1239 signature: 32-byte R, 32-byte S.
func sampleSignature() []byte {
	sig := []byte{32}
	for i := range 32 {
		sig = append(sig, byte(0xA0+i))
	}
	sig = append(sig, 32)
	for i := range 32 {
		sig = append(sig, byte(0x50+i))
	}
	return sig
}

// mustFrame returns a function that fails the test if an encoder's error is
// not nil and returns its frame: mustFrame(t)(AppendLogin(...)).
func mustFrame(tb testing.TB) func([]byte, error) []byte {
	return func(b []byte, err error) []byte {
		tb.Helper()
		if err != nil {
			tb.Fatalf("encode: %v", err)
		}
		return b
	}
}

// rawFrame builds a frame by hand, independently of the encoders: header
// fields, data unit and the BCC.
func rawFrame(cmd byte, vin string, enc byte, data []byte) []byte {
	b := []byte{'#', '#', cmd}
	b = append(b, vin...)
	b = append(b, 0x10, enc)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	b = append(b, data...)
	var x byte
	for _, c := range b[2:] {
		x ^= c
	}
	return append(b, x)
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// realtimeFrame returns the benchmark frame: an OBD item and ten diesel
// stream items, GB 17691 layout.
func realtimeFrame(tb testing.TB) []byte {
	tb.Helper()
	h := sampleHeader
	h.Command = CmdRealtime
	return mustFrame(tb)(AppendReport(nil, h, sampleReport(LayoutGB17691, true, 10)))
}
