package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

const vinStr = "LFWSRXSJ5M1A00001"

// timeBody is sampleTimeWire followed by extra bytes.
func timeBody(extra ...byte) []byte {
	return append(bytes.Clone(sampleTimeWire), extra...)
}

// gbReport builds a GB 17691 report data unit by hand: the collection time,
// then the given items (already encoded).
func gbReport(items ...[]byte) []byte {
	return cat(append([][]byte{sampleTimeWire}, items...)...)
}

// gbItem builds a GB 17691 item by hand: type, serial and body.
func gbItem(typ byte, serial uint16, body []byte) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint16(b, serial)
	return append(b, body...)
}

// dieselBody returns a 37-byte diesel stream body of all ones (every field
// not available) with the given bytes set.
func dieselBody(set map[int]byte) []byte {
	b := bytes.Repeat([]byte{0xFF}, DieselStreamLen)
	for off, v := range set {
		b[off] = v
	}
	return b
}

// obdBody builds an OBD information body by hand with the given fault count
// byte and fault codes.
func obdBody(count byte, codes ...uint32) []byte {
	b := []byte{1, 0} // ISO 27145, MIL off
	b = binary.BigEndian.AppendUint16(b, 0xA5A5)
	b = binary.BigEndian.AppendUint16(b, 0x5A5A)
	b = append(b, vinStr...)
	b = append(b, "CALID0000000000001"...)
	b = append(b, "CVN000000000000001"...)
	b = append(b, bytes.Repeat([]byte{0x11}, 36)...)
	b = append(b, count)
	for _, c := range codes {
		b = binary.BigEndian.AppendUint32(b, c)
	}
	return b
}

func TestDecodeCommands(t *testing.T) {
	sig := sampleSignature()
	tests := []struct {
		name    string
		decoder Decoder
		frame   []byte
		check   func(t *testing.T, f *Frame)
	}{
		{
			name:  "login",
			frame: rawFrame(0x01, vinStr, 0x01, timeBody(cat([]byte{0x00, 0x2A}, []byte("89860123456789012345"))...)),
			check: func(t *testing.T, f *Frame) {
				if got, want := f.Login.Time, sampleTime; !got.Equal(want) {
					t.Errorf("time = %v, want %v", got, want)
				}
				if got, want := f.Login.Serial, uint16(42); got != want {
					t.Errorf("serial = %d, want %d", got, want)
				}
				if got, want := string(f.Login.ICCID[:]), "89860123456789012345"; got != want {
					t.Errorf("iccid = %q, want %q", got, want)
				}
			},
		},
		{
			name: "realtime",
			frame: rawFrame(0x02, vinStr, 0x01, gbReport(
				gbItem(0x01, 1, obdBody(1, 0xDEADBEEF)),
				gbItem(0x02, 2, dieselBody(map[int]byte{0: 0x10, 1: 0x00})),
				gbItem(0x02, 3, dieselBody(nil)),
			)),
			check: func(t *testing.T, f *Frame) {
				r := &f.Report
				if got, want := r.Time, sampleTime; !got.Equal(want) {
					t.Errorf("time = %v, want %v", got, want)
				}
				if got, want := len(r.Items), 3; got != want {
					t.Fatalf("%d items, want %d", got, want)
				}
				for i, want := range []struct {
					typ    ItemType
					serial uint16
				}{{ItemOBD, 1}, {ItemDiesel, 2}, {ItemDiesel, 3}} {
					if got := r.Items[i]; got.Type != want.typ || got.Serial != want.serial {
						t.Errorf("item %d = type 0x%02x serial %d, want type 0x%02x serial %d",
							i, got.Type, got.Serial, want.typ, want.serial)
					}
				}
				o := &r.Items[0].OBD
				if o.Protocol != 1 || o.MIL != 0 || o.DiagnosticSupport != 0xA5A5 || o.DiagnosticReadiness != 0x5A5A {
					t.Errorf("obd status = %d %d 0x%04x 0x%04x, want 1 0 0xa5a5 0x5a5a",
						o.Protocol, o.MIL, o.DiagnosticSupport, o.DiagnosticReadiness)
				}
				if got, want := string(o.VIN[:])+string(o.CalibrationID[:])+string(o.CVN[:]),
					vinStr+"CALID0000000000001"+"CVN000000000000001"; got != want {
					t.Errorf("obd strings = %q, want %q", got, want)
				}
				if got, want := o.IUPR, [36]byte(bytes.Repeat([]byte{0x11}, 36)); got != want {
					t.Errorf("iupr = %x, want %x", got, want)
				}
				if got, want := o.FaultCodes, []uint32{0xDEADBEEF}; !reflect.DeepEqual(got, want) {
					t.Errorf("fault codes = %x, want %x", got, want)
				}
				if kmh, ok := r.Items[1].Diesel.SpeedKmh(); kmh != 16 || !ok {
					t.Errorf("speed = %v, %v, want 16, true", kmh, ok)
				}
			},
		},
		{
			name:  "reissue",
			frame: rawFrame(0x03, vinStr, 0x01, gbReport(gbItem(0x02, 77, dieselBody(nil)))),
			check: func(t *testing.T, f *Frame) {
				if got, want := f.Header.Command, CmdReissue; got != want {
					t.Errorf("command = %v, want %v", got, want)
				}
				if len(f.Report.Items) != 1 || f.Report.Items[0].Serial != 77 {
					t.Errorf("items = %+v, want one with serial 77", f.Report.Items)
				}
			},
		},
		{
			name:  "logout",
			frame: rawFrame(0x04, vinStr, 0x01, timeBody(0x01, 0x02)),
			check: func(t *testing.T, f *Frame) {
				if got, want := f.Logout, (Logout{Time: sampleTime, Serial: 0x0102}); !got.Time.Equal(want.Time) || got.Serial != want.Serial {
					t.Errorf("logout = %+v, want %+v", got, want)
				}
			},
		},
		{
			name:  "time calibration request",
			frame: rawFrame(0x05, vinStr, 0x01, nil),
			check: func(t *testing.T, f *Frame) {
				if !f.Time.IsZero() || len(f.Data) != 0 {
					t.Errorf("time = %v, data = %x, want zero and empty", f.Time, f.Data)
				}
			},
		},
		{
			name:  "time calibration reply",
			frame: rawFrame(0x05, vinStr, 0x01, timeBody()),
			check: func(t *testing.T, f *Frame) {
				if got, want := f.Time, sampleTime; !got.Equal(want) {
					t.Errorf("time = %v, want %v", got, want)
				}
			},
		},
		{
			name:  "tamper alarm",
			frame: rawFrame(0x06, vinStr, 0x01, timeBody(0x00, 0x09, PosSouth, 0x04, 0x2E, 0xA1, 0xF0, 0x02, 0x63, 0xA1, 0x15)),
			check: func(t *testing.T, f *Frame) {
				a := &f.Tamper
				if !a.Time.Equal(sampleTime) || a.Serial != 9 {
					t.Errorf("tamper = %v serial %d, want %v serial 9", a.Time, a.Serial, sampleTime)
				}
				lon, lat, ok := a.Position.Degrees()
				if lon != 70.164976 || lat != -40.083733 || !ok {
					t.Errorf("position = %v, %v, %v, want 70.164976, -40.083733, true", lon, lat, ok)
				}
			},
		},
		{
			name:  "activation kept raw",
			frame: rawFrame(0x07, vinStr, 0x01, []byte{1, 2, 3}),
			check: func(t *testing.T, f *Frame) {
				if got, want := f.Data, []byte{1, 2, 3}; !bytes.Equal(got, want) {
					t.Errorf("data = %x, want %x", got, want)
				}
			},
		},
		{
			name:  "activation reply kept raw",
			frame: rawFrame(0x08, vinStr, 0x01, []byte{0x02, 0x01}),
			check: func(t *testing.T, f *Frame) {
				if got, want := f.Data, []byte{0x02, 0x01}; !bytes.Equal(got, want) {
					t.Errorf("data = %x, want %x", got, want)
				}
			},
		},
		{
			name:  "abnormal encryption flag decoded as plain",
			frame: rawFrame(0x04, vinStr, 0xFE, timeBody(0, 1)),
			check: func(t *testing.T, f *Frame) {
				if f.Header.Encryption != EncAbnormal || f.Logout.Serial != 1 {
					t.Errorf("header %+v logout %+v, want abnormal flag and serial 1", f.Header, f.Logout)
				}
			},
		},
		{
			name:    "hj1239 realtime",
			decoder: Decoder{Layout: LayoutHJ1239},
			frame: rawFrame(0x02, vinStr, 0x01, cat(sampleTimeWire, []byte{0x00, 0x07},
				[]byte{0x02}, []byte{24, 3, 15, 10, 20, 21}, dieselBody(nil),
				[]byte{0x01}, []byte{24, 3, 15, 10, 20, 22}, obdBody(0xFE),
				sig)),
			check: func(t *testing.T, f *Frame) {
				r := &f.Report
				if r.Layout != LayoutHJ1239 || r.Serial != 7 || !r.Time.Equal(sampleTime) {
					t.Errorf("report layout %v serial %d time %v, want hj1239 7 %v", r.Layout, r.Serial, r.Time, sampleTime)
				}
				if len(r.Items) != 2 || r.Items[0].Type != ItemDiesel || r.Items[1].Type != ItemOBD {
					t.Fatalf("items = %+v, want diesel then obd", r.Items)
				}
				if got, want := r.Items[1].Time, sampleTime.Add(-8*time.Second); !got.Equal(want) {
					t.Errorf("item time = %v, want %v", got, want)
				}
				if !bytes.Equal(r.Signature, sig) {
					t.Errorf("signature = %x, want %x", r.Signature, sig)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f Frame
			if err := tc.decoder.Decode(tc.frame, &f); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got, want := f.Header.Command, Command(tc.frame[2]); got != want {
				t.Errorf("command = %v, want %v", got, want)
			}
			if got, want := f.Header.VIN.String(), vinStr; got != want {
				t.Errorf("vin = %q, want %q", got, want)
			}
			if got, want := f.Header.SoftwareVersion, byte(0x10); got != want {
				t.Errorf("software version = 0x%02x, want 0x%02x", got, want)
			}
			if got, want := int(f.Header.Length), len(tc.frame)-Overhead; got != want {
				t.Errorf("length = %d, want %d", got, want)
			}
			tc.check(t, &f)
			out, err := f.AppendBinary(nil)
			if err != nil {
				t.Fatalf("AppendBinary: %v", err)
			}
			if !bytes.Equal(out, tc.frame) {
				t.Errorf("re-encoded frame differs:\n got %x\nwant %x", out, tc.frame)
			}
		})
	}
}

func TestDecodeTime(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		want time.Time // zero for an error
	}{
		{"sample", sampleTimeWire, sampleTime},
		{"beijing midnight is the previous day in utc", []byte{24, 1, 1, 0, 0, 0}, time.Date(2023, 12, 31, 16, 0, 0, 0, time.UTC)},
		{"year 2000", []byte{0, 1, 1, 8, 0, 0}, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"year 2255", []byte{255, 12, 31, 23, 59, 59}, time.Date(2255, 12, 31, 15, 59, 59, 0, time.UTC)},
		{"leap day", []byte{24, 2, 29, 12, 0, 0}, time.Date(2024, 2, 29, 4, 0, 0, 0, time.UTC)},
		{"2100 is not leap", []byte{100, 2, 29, 12, 0, 0}, time.Time{}},
		{"29 february 2023", []byte{23, 2, 29, 12, 0, 0}, time.Time{}},
		{"month 0", []byte{24, 0, 1, 0, 0, 0}, time.Time{}},
		{"month 13", []byte{24, 13, 1, 0, 0, 0}, time.Time{}},
		{"day 0", []byte{24, 1, 0, 0, 0, 0}, time.Time{}},
		{"31 april", []byte{24, 4, 31, 0, 0, 0}, time.Time{}},
		{"day 32", []byte{24, 1, 32, 0, 0, 0}, time.Time{}},
		{"hour 24", []byte{24, 1, 1, 24, 0, 0}, time.Time{}},
		{"minute 60", []byte{24, 1, 1, 0, 60, 0}, time.Time{}},
		{"second 60", []byte{24, 1, 1, 0, 0, 60}, time.Time{}},
		{"bcd is not binary", []byte{0x24, 0x12, 0x31, 0x23, 0x59, 0x59}, time.Time{}},
		{"all ones", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f Frame
			err := Decode(rawFrame(0x04, vinStr, 0x01, append(bytes.Clone(tc.wire), 0, 1)), &f)
			if tc.want.IsZero() {
				if !errors.Is(err, ErrBadTime) {
					t.Fatalf("Decode error = %v, want %v", err, ErrBadTime)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := f.Logout.Time; !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("time = %v, want %v in UTC", got, tc.want)
			}
			out, err := AppendLogout(nil, Header{VIN: sampleVIN, SoftwareVersion: 0x10}, f.Logout)
			if err != nil {
				t.Fatalf("AppendLogout: %v", err)
			}
			if got := out[HeaderLen : HeaderLen+6]; !bytes.Equal(got, tc.wire) {
				t.Errorf("re-encoded time = %v, want %v", got, tc.wire)
			}
		})
	}
}

// dieselField describes one field of the diesel stream for the table tests.
type dieselField struct {
	name   string
	offset int
	size   int
	get    func(*DieselStream) (float64, bool)
}

var dieselFields = []dieselField{
	{"speed", 0, 2, (*DieselStream).SpeedKmh},
	{"atmospheric pressure", 2, 1, (*DieselStream).AtmosphericPressureKPa},
	{"net torque", 3, 1, (*DieselStream).NetTorquePercent},
	{"friction torque", 4, 1, (*DieselStream).FrictionTorquePercent},
	{"engine speed", 5, 2, (*DieselStream).EngineSpeedRPM},
	{"fuel flow", 7, 2, (*DieselStream).FuelFlowLPerH},
	{"nox upstream", 9, 2, (*DieselStream).NOxUpstreamPPM},
	{"nox downstream", 11, 2, (*DieselStream).NOxDownstreamPPM},
	{"reagent", 13, 1, (*DieselStream).ReagentPercent},
	{"intake air flow", 14, 2, (*DieselStream).IntakeAirFlowKgPerH},
	{"scr inlet temperature", 16, 2, (*DieselStream).SCRInletTempC},
	{"scr outlet temperature", 18, 2, (*DieselStream).SCROutletTempC},
	{"dpf differential pressure", 20, 2, (*DieselStream).DPFPressureKPa},
	{"coolant temperature", 22, 1, (*DieselStream).CoolantTempC},
	{"fuel level", 23, 1, (*DieselStream).FuelLevelPercent},
	{"mileage", 33, 4, (*DieselStream).MileageKm},
}

func fieldByName(t *testing.T, name string) dieselField {
	t.Helper()
	for _, f := range dieselFields {
		if f.name == name {
			return f
		}
	}
	t.Fatalf("no field %q", name)
	return dieselField{}
}

// decodeDiesel decodes a real-time frame carrying one diesel item with the
// given body.
func decodeDiesel(t *testing.T, body []byte) *DieselStream {
	t.Helper()
	var f Frame
	if err := Decode(rawFrame(0x02, vinStr, 0x01, gbReport(gbItem(0x02, 1, body))), &f); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(f.Report.Items) != 1 {
		t.Fatalf("%d items, want 1", len(f.Report.Items))
	}
	return &f.Report.Items[0].Diesel
}

func TestDieselFieldResolution(t *testing.T) {
	tests := []struct {
		field string
		raw   uint32
		want  float64
	}{
		{"speed", 0, 0},
		{"speed", 256, 1},
		{"speed", 0xFAFF, 250.99609375},
		{"atmospheric pressure", 0, 0},
		{"atmospheric pressure", 250, 125},
		{"net torque", 0, -125},
		{"net torque", 125, 0},
		{"net torque", 250, 125},
		{"friction torque", 0, -125},
		{"friction torque", 250, 125},
		{"engine speed", 0xFAFF, 8031.875},
		{"engine speed", 12000, 1500},
		{"fuel flow", 0xFAFF, 3212.75},
		{"fuel flow", 1, 0.05},
		{"nox upstream", 0, -200},
		{"nox upstream", 4000, 0},
		{"nox upstream", 0xFAFF, 3012.75},
		{"nox downstream", 0, -200},
		{"nox downstream", 4001, 0.05},
		{"nox downstream", 0xFAFF, 3012.75},
		{"reagent", 0, 0},
		{"reagent", 1, 0.4},
		{"reagent", 250, 100},
		{"intake air flow", 0xFAFF, 3212.75},
		{"scr inlet temperature", 0, -273},
		{"scr inlet temperature", 9376, 20},
		{"scr inlet temperature", 0xFAFF, 1734.96875},
		{"scr outlet temperature", 0, -273},
		{"scr outlet temperature", 8737, 0.03125},
		{"dpf differential pressure", 0xFAFF, 6425.5},
		{"dpf differential pressure", 1, 0.1},
		{"coolant temperature", 0, -40},
		{"coolant temperature", 250, 210},
		{"fuel level", 250, 100},
		{"mileage", 0, 0},
		{"mileage", 1234567, 123456.7},
		{"mileage", 0xFFFFFFFE, 429496729.4},
	}
	for _, tc := range tests {
		f := fieldByName(t, tc.field)
		t.Run(tc.field, func(t *testing.T) {
			body := dieselBody(nil)
			for i := range f.size {
				body[f.offset+i] = byte(tc.raw >> (8 * (f.size - 1 - i)))
			}
			d := decodeDiesel(t, body)
			got, ok := f.get(d)
			if !ok || math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("raw 0x%x: got %v, %v, want %v, true", tc.raw, got, ok, tc.want)
			}
			// Every other field stays not available: the field sits at
			// its documented offset and no other.
			for _, other := range dieselFields {
				if other.name == f.name {
					continue
				}
				if v, ok := other.get(d); ok {
					t.Errorf("%s = %v, want not available", other.name, v)
				}
			}
		})
	}
}

func TestDieselAllOnesNotAvailable(t *testing.T) {
	d := decodeDiesel(t, dieselBody(nil))
	for _, f := range dieselFields {
		t.Run(f.name, func(t *testing.T) {
			if got, ok := f.get(d); ok {
				t.Errorf("got %v, true, want not available", got)
			}
		})
	}
	if lon, lat, ok := d.Position.Degrees(); ok {
		t.Errorf("position = %v, %v, true, want not available", lon, lat)
	}
	if got, want := *d, DieselNotAvailable(); got != want {
		t.Errorf("decoded %+v, want DieselNotAvailable() %+v", got, want)
	}
}

func TestPosition(t *testing.T) {
	tests := []struct {
		name     string
		status   byte
		lon, lat uint32
		wantLon  float64
		wantLat  float64
		wantOK   bool
	}{
		{"north east", 0, 116397128, 39916527, 116.397128, 39.916527, true},
		{"south", PosSouth, 116397128, 39916527, 116.397128, -39.916527, true},
		{"west", PosWest, 116397128, 39916527, -116.397128, 39.916527, true},
		{"south west", PosSouth | PosWest, 180000000, 90000000, -180, -90, true},
		{"invalid fix", PosInvalid, 116397128, 39916527, 0, 0, false},
		{"invalid fix south west", PosInvalid | PosSouth | PosWest, 1, 1, 0, 0, false},
		{"longitude not available", 0, 0xFFFFFFFF, 39916527, 0, 0, false},
		{"latitude not available", 0, 116397128, 0xFFFFFFFF, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := dieselBody(nil)
			body[24] = tc.status
			binary.BigEndian.PutUint32(body[25:], tc.lon)
			binary.BigEndian.PutUint32(body[29:], tc.lat)
			d := decodeDiesel(t, body)
			lon, lat, ok := d.Position.Degrees()
			if lon != tc.wantLon || lat != tc.wantLat || ok != tc.wantOK {
				t.Errorf("diesel item: got %v, %v, %v, want %v, %v, %v", lon, lat, ok, tc.wantLon, tc.wantLat, tc.wantOK)
			}
			var f Frame
			err := Decode(rawFrame(0x06, vinStr, 0x01, timeBody(cat([]byte{0, 1}, body[24:33])...)), &f)
			if err != nil {
				t.Fatalf("Decode tamper: %v", err)
			}
			lon, lat, ok = f.Tamper.Position.Degrees()
			if lon != tc.wantLon || lat != tc.wantLat || ok != tc.wantOK {
				t.Errorf("tamper alarm: got %v, %v, %v, want %v, %v, %v", lon, lat, ok, tc.wantLon, tc.wantLat, tc.wantOK)
			}
		})
	}
}

func TestFaultCount(t *testing.T) {
	tests := []struct {
		name      string
		body      []byte
		wantCount byte
		wantCodes []uint32
		wantValid bool
	}{
		{"none", obdBody(0), 0, nil, true},
		{"three", obdBody(3, 1, 0x00FFFF00, 0xFFFFFFFF), 3, []uint32{1, 0x00FFFF00, 0xFFFFFFFF}, true},
		{"0xfe invalid, no codes follow", obdBody(0xFE), 0xFE, nil, false},
		{"0xff not available, no codes follow", obdBody(0xFF), 0xFF, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A diesel item follows: it must be found right after the
			// fault codes.
			frame := rawFrame(0x02, vinStr, 0x01, gbReport(gbItem(0x01, 1, tc.body), gbItem(0x02, 2, dieselBody(map[int]byte{22: 125}))))
			var f Frame
			if err := Decode(frame, &f); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(f.Report.Items) != 2 {
				t.Fatalf("%d items, want 2", len(f.Report.Items))
			}
			o := &f.Report.Items[0].OBD
			if o.FaultCount != tc.wantCount || o.FaultCountValid() != tc.wantValid {
				t.Errorf("fault count = 0x%02x valid %v, want 0x%02x valid %v", o.FaultCount, o.FaultCountValid(), tc.wantCount, tc.wantValid)
			}
			if len(o.FaultCodes) != len(tc.wantCodes) || (len(tc.wantCodes) > 0 && !reflect.DeepEqual(o.FaultCodes, tc.wantCodes)) {
				t.Errorf("fault codes = %x, want %x", o.FaultCodes, tc.wantCodes)
			}
			if c, ok := f.Report.Items[1].Diesel.CoolantTempC(); c != 85 || !ok {
				t.Errorf("next item coolant = %v, %v, want 85, true", c, ok)
			}
			out, err := f.AppendBinary(nil)
			if err != nil || !bytes.Equal(out, frame) {
				t.Errorf("re-encoded = %x, %v, want %x", out, err, frame)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := rawFrame(0x04, vinStr, 0x01, timeBody(0, 1))
	withLen := func(n uint16) []byte {
		b := bytes.Clone(good)
		binary.BigEndian.PutUint16(b[22:], n)
		return b
	}
	tests := []struct {
		name    string
		decoder Decoder
		frame   []byte
		want    error
		msg     string // a substring of the message, if any
	}{
		{"empty", Decoder{}, nil, ErrTruncated, ""},
		{"header only", Decoder{}, good[:HeaderLen], ErrTruncated, ""},
		{"cut short", Decoder{}, good[:len(good)-1], ErrTruncated, ""},
		{"bad start", Decoder{}, cat([]byte("#$"), good[2:]), ErrBadStart, ""},
		{"bad bcc", Decoder{}, cat(good[:len(good)-1], []byte{good[len(good)-1] ^ 1}), ErrBadChecksum, "bcc"},
		{"flipped data bit", Decoder{}, func() []byte { b := bytes.Clone(good); b[30] ^= 0x80; return b }(), ErrBadChecksum, ""},
		{"length says more", Decoder{}, withLen(9), ErrTruncated, ""},
		{"length says less", Decoder{}, withLen(7), ErrBadLength, ""},
		{"length over 65531", Decoder{}, withLen(0xFFFC), ErrTooLong, ""},
		{"trailing byte", Decoder{}, cat(good, []byte{0}), ErrBadLength, ""},
		{"lowercase vin", Decoder{}, rawFrame(0x04, "lfwsrxsj5m1a00001", 0x01, timeBody(0, 1)), ErrBadVIN, ""},
		{"vin with I", Decoder{}, rawFrame(0x04, "LFWSRXSJ5M1I00001", 0x01, timeBody(0, 1)), ErrBadVIN, ""},
		{"vin with O", Decoder{}, rawFrame(0x04, "LFWSRXSJ5M1O00001", 0x01, timeBody(0, 1)), ErrBadVIN, ""},
		{"vin with Q", Decoder{}, rawFrame(0x04, "QFWSRXSJ5M1A00001", 0x01, timeBody(0, 1)), ErrBadVIN, ""},
		{"vin with nul", Decoder{}, rawFrame(0x04, "LFWSRXSJ5M1A0000\x00", 0x01, timeBody(0, 1)), ErrBadVIN, ""},
		{"vin not ascii", Decoder{}, rawFrame(0x04, "LFWSRXSJ5M1A000\xc3\xa9", 0x01, timeBody(0, 1)), ErrBadVIN, ""},
		{"command 0x00", Decoder{}, rawFrame(0x00, vinStr, 0x01, nil), ErrUnknownCommand, "0x00"},
		{"command 0x09", Decoder{}, rawFrame(0x09, vinStr, 0x01, nil), ErrUnknownCommand, "0x09"},
		{"command 0x82", Decoder{}, rawFrame(0x82, vinStr, 0x01, nil), ErrUnknownCommand, "0x82"},
		{"rsa encrypted", Decoder{}, rawFrame(0x02, vinStr, 0x02, []byte{1, 2, 3}), ErrEncrypted, ""},
		{"sm2 encrypted", Decoder{}, rawFrame(0x02, vinStr, 0x03, []byte{1, 2, 3}), ErrEncrypted, ""},
		{"encryption flag 0x00", Decoder{}, rawFrame(0x04, vinStr, 0x00, timeBody(0, 1)), ErrBadEncryption, ""},
		{"encryption flag 0x04", Decoder{}, rawFrame(0x04, vinStr, 0x04, timeBody(0, 1)), ErrBadEncryption, ""},
		{"login too short", Decoder{}, rawFrame(0x01, vinStr, 0x01, timeBody(0, 1)), ErrBadLength, "login"},
		{"logout too long", Decoder{}, rawFrame(0x04, vinStr, 0x01, timeBody(0, 1, 2)), ErrBadLength, "logout"},
		{"tamper too short", Decoder{}, rawFrame(0x06, vinStr, 0x01, timeBody(0, 1)), ErrBadLength, ""},
		{"time calibration of 3 bytes", Decoder{}, rawFrame(0x05, vinStr, 0x01, []byte{24, 1, 1}), ErrBadLength, ""},
		{"login bad time", Decoder{}, rawFrame(0x01, vinStr, 0x01, cat([]byte{24, 13, 1, 0, 0, 0, 0, 1}, sampleICCID[:])), ErrBadTime, "login time"},
		{"tamper bad time", Decoder{}, rawFrame(0x06, vinStr, 0x01, cat([]byte{24, 2, 30, 0, 0, 0, 0, 1}, make([]byte, 9))), ErrBadTime, ""},
		{"calibration bad time", Decoder{}, rawFrame(0x05, vinStr, 0x01, []byte{24, 1, 1, 0, 0, 61}), ErrBadTime, ""},
		{"report shorter than its time", Decoder{}, rawFrame(0x02, vinStr, 0x01, []byte{24, 1, 1}), ErrTruncated, ""},
		{"report bad time", Decoder{}, rawFrame(0x02, vinStr, 0x01, cat([]byte{24, 1, 1, 25, 0, 0}, gbItem(2, 1, dieselBody(nil)))), ErrBadTime, ""},
		{"unknown item 0x03", Decoder{}, rawFrame(0x02, vinStr, 0x01, gbReport(gbItem(0x02, 1, dieselBody(nil)), gbItem(0x03, 2, make([]byte, 20)))), ErrUnknownItem, "0x03"},
		{"unknown item 0x80", Decoder{}, rawFrame(0x02, vinStr, 0x01, gbReport(gbItem(0x80, 1, make([]byte, 17)))), ErrUnknownItem, "0x80"},
		{"unknown item 0x80 with another size known", Decoder{RawItemSizes: map[ItemType]int{0x81: 4}}, rawFrame(0x02, vinStr, 0x01, gbReport(gbItem(0x80, 1, make([]byte, 17)))), ErrUnknownItem, "0x80"},
		{"item header cut short", Decoder{}, rawFrame(0x02, vinStr, 0x01, gbReport([]byte{0x02, 0x00})), ErrTruncated, ""},
		{"diesel item cut short", Decoder{}, rawFrame(0x02, vinStr, 0x01, gbReport(gbItem(0x02, 1, dieselBody(nil)[:36]))), ErrTruncated, "diesel"},
		{"obd item cut short", Decoder{}, rawFrame(0x02, vinStr, 0x01, gbReport(gbItem(0x01, 1, obdBody(0)[:95]))), ErrTruncated, "obd"},
		{"fault codes cut short", Decoder{}, rawFrame(0x02, vinStr, 0x01, gbReport(gbItem(0x01, 1, obdBody(3, 1, 2)))), ErrTruncated, "fault codes"},
		{"raw item cut short", Decoder{RawItemSizes: map[ItemType]int{0x80: 17}}, rawFrame(0x02, vinStr, 0x01, gbReport(gbItem(0x80, 1, make([]byte, 16)))), ErrTruncated, ""},
		{"hj report shorter than its head", Decoder{Layout: LayoutHJ1239}, rawFrame(0x02, vinStr, 0x01, timeBody(0)), ErrTruncated, ""},
		{"hj item time bad", Decoder{Layout: LayoutHJ1239}, rawFrame(0x02, vinStr, 0x01, cat(timeBody(0, 1), []byte{0x02, 24, 1, 1, 0, 0, 99}, dieselBody(nil))), ErrBadTime, "collection time"},
		{"hj item header cut short", Decoder{Layout: LayoutHJ1239}, rawFrame(0x02, vinStr, 0x01, cat(timeBody(0, 1), []byte{0x02, 24, 1})), ErrTruncated, ""},
		{"hj signature of wrong length", Decoder{Layout: LayoutHJ1239}, rawFrame(0x02, vinStr, 0x01, cat(timeBody(0, 1), sampleSignature()[:60])), ErrUnknownItem, ""},
		{"hj signature with trailing byte", Decoder{Layout: LayoutHJ1239}, rawFrame(0x02, vinStr, 0x01, cat(timeBody(0, 1), sampleSignature(), []byte{0})), ErrUnknownItem, ""},
		{"hj signature part over 32 bytes", Decoder{Layout: LayoutHJ1239}, rawFrame(0x02, vinStr, 0x01, cat(timeBody(0, 1), []byte{33}, make([]byte, 33), []byte{1, 1})), ErrUnknownItem, "0x21"},
		{"hj unknown item", Decoder{Layout: LayoutHJ1239}, rawFrame(0x02, vinStr, 0x01, cat(timeBody(0, 1), []byte{0x03}, sampleTimeWire, make([]byte, 30))), ErrUnknownItem, "0x03"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f Frame
			err := tc.decoder.Decode(tc.frame, &f)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode error = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

func TestDecodeUnknownItemKeepsEarlierItems(t *testing.T) {
	frame := rawFrame(0x02, vinStr, 0x01, gbReport(
		gbItem(0x02, 1, dieselBody(nil)),
		gbItem(0x02, 2, dieselBody(nil)),
		gbItem(0x05, 3, make([]byte, 40)),
	))
	var f Frame
	err := Decode(frame, &f)
	if !errors.Is(err, ErrUnknownItem) {
		t.Fatalf("Decode error = %v, want %v", err, ErrUnknownItem)
	}
	if got, want := len(f.Report.Items), 2; got != want {
		t.Errorf("%d items kept, want %d", got, want)
	}
	if got, want := f.Header.VIN, sampleVIN; got != want {
		t.Errorf("vin = %v, want %v", got, want)
	}
}

func TestDecodeEncryptedKeepsHeaderAndData(t *testing.T) {
	frame := rawFrame(0x02, vinStr, 0x03, []byte{9, 8, 7})
	var f Frame
	if err := Decode(frame, &f); !errors.Is(err, ErrEncrypted) {
		t.Fatalf("Decode error = %v, want %v", err, ErrEncrypted)
	}
	if f.Header.Command != CmdRealtime || f.Header.Encryption != EncSM2 || !bytes.Equal(f.Data, []byte{9, 8, 7}) {
		t.Errorf("header %+v data %x, want realtime, sm2, 090807", f.Header, f.Data)
	}
	out, err := f.AppendBinary(nil)
	if err != nil || !bytes.Equal(out, frame) {
		t.Errorf("re-encoded = %x, %v, want %x", out, err, frame)
	}
}

func TestRawItemSizes(t *testing.T) {
	supplementary := bytes.Repeat([]byte{0x80}, 17)
	frame := rawFrame(0x02, vinStr, 0x01, gbReport(
		gbItem(0x02, 1, dieselBody(nil)),
		gbItem(0x80, 2, supplementary),
		gbItem(0x02, 3, dieselBody(map[int]byte{22: 0})),
	))
	d := Decoder{RawItemSizes: map[ItemType]int{ItemSupplementary: 17}}
	var f Frame
	if err := d.Decode(frame, &f); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got, want := len(f.Report.Items), 3; got != want {
		t.Fatalf("%d items, want %d", got, want)
	}
	if it := f.Report.Items[1]; it.Type != ItemSupplementary || it.Serial != 2 || !bytes.Equal(it.Raw, supplementary) {
		t.Errorf("item = type 0x%02x serial %d raw %x, want 0x80, 2, %x", it.Type, it.Serial, it.Raw, supplementary)
	}
	if c, ok := f.Report.Items[2].Diesel.CoolantTempC(); c != -40 || !ok {
		t.Errorf("last item coolant = %v, %v, want -40, true", c, ok)
	}
	out, err := f.AppendBinary(nil)
	if err != nil || !bytes.Equal(out, frame) {
		t.Errorf("re-encoded = %x, %v, want %x", out, err, frame)
	}
}

func TestLayoutMismatch(t *testing.T) {
	seeds := readSeeds(t)
	hj, gb := seeds["hj1239_realtime.bin"], seeds["realtime_10items.bin"]
	var f Frame

	// The HJ 1239 frame's serial (0x0007) is read as an item of type 0x00.
	if err := Decode(hj, &f); !errors.Is(err, ErrUnknownItem) {
		t.Errorf("hj1239 frame decoded as gb17691: error = %v, want %v", err, ErrUnknownItem)
	}
	// The GB 17691 frame's first item type and serial are read as the
	// report serial, its serial's low byte (0x01) as an OBD item whose
	// collection time is the OBD status bytes, and so on out of step until
	// a byte that is no item type.
	if err := (Decoder{Layout: LayoutHJ1239}).Decode(gb, &f); !errors.Is(err, ErrUnknownItem) {
		t.Errorf("gb17691 frame decoded as hj1239: error = %v, want %v", err, ErrUnknownItem)
	}
	if err := (Decoder{Layout: LayoutHJ1239}).Decode(hj, &f); err != nil {
		t.Fatalf("hj1239 frame decoded as hj1239: %v", err)
	}
	if got, want := len(f.Report.Items), 11; got != want {
		t.Errorf("%d items, want %d", got, want)
	}
	if err := (Decoder{Layout: LayoutHJ1239}).Decode(seeds["login.bin"], &f); err != nil {
		t.Errorf("login decoded as hj1239: %v", err)
	}
}

func TestDecodeReusedFrame(t *testing.T) {
	seeds := readSeeds(t)
	// Decode every seed into one Frame, in an order that shrinks and grows
	// its slices, and check each result against a fresh decode.
	names := []string{"realtime_10items.bin", "login.bin", "reissue.bin", "realtime_10items.bin", "tamper.bin", "hj1239_realtime.bin", "reissue.bin"}
	var reused Frame
	for _, name := range names {
		d := Decoder{}
		if strings.HasPrefix(name, "hj") {
			d.Layout = LayoutHJ1239
		}
		var fresh Frame
		if err := d.Decode(seeds[name], &fresh); err != nil {
			t.Fatalf("%s: Decode: %v", name, err)
		}
		if err := d.Decode(seeds[name], &reused); err != nil {
			t.Fatalf("%s: Decode into reused frame: %v", name, err)
		}
		got, err := reused.AppendBinary(nil)
		if err != nil {
			t.Fatalf("%s: AppendBinary: %v", name, err)
		}
		want, _ := fresh.AppendBinary(nil)
		if !bytes.Equal(got, want) || !bytes.Equal(got, seeds[name]) {
			t.Errorf("%s: reused frame encodes to %x, want %x", name, got, want)
		}
		if len(reused.Report.Items) != len(fresh.Report.Items) {
			t.Fatalf("%s: reused frame has %d items, want %d", name, len(reused.Report.Items), len(fresh.Report.Items))
		}
		for i := range fresh.Report.Items {
			got, want := reused.Report.Items[i], fresh.Report.Items[i]
			if len(got.OBD.FaultCodes) == 0 && len(want.OBD.FaultCodes) == 0 {
				got.OBD.FaultCodes, want.OBD.FaultCodes = nil, nil // capacity may differ
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: item %d of the reused frame = %+v, want %+v", name, i, got, want)
			}
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	frame := realtimeFrame(t)
	var f Frame
	if err := Decode(frame, &f); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := Decode(frame, &f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode into a reused Frame: %v allocs per frame, want 0", allocs)
	}
}

func TestVIN(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{vinStr, true},
		{"1HGCM82633A004352", true},
		{"LFWSRXSJ5M1A0000", false},
		{"LFWSRXSJ5M1A000012", false},
		{"LFWSRXSJ5M1A0000i", false},
		{"LFWSRXSJ5M1A0000I", false},
		{"LFWSRXSJ5M1A0000-", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			v, err := ParseVIN(tc.in)
			if got := err == nil; got != tc.want {
				t.Fatalf("ParseVIN(%q) error = %v, want ok %v", tc.in, err, tc.want)
			}
			if err != nil {
				if !errors.Is(err, ErrBadVIN) {
					t.Errorf("error = %v, want %v", err, ErrBadVIN)
				}
				return
			}
			if got := v.String(); got != tc.in || !v.Valid() {
				t.Errorf("String() = %q, Valid() = %v, want %q, true", got, v.Valid(), tc.in)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{CmdLogin.String(), "login"},
		{CmdRealtime.String(), "realtime"},
		{CmdReissue.String(), "reissue"},
		{CmdLogout.String(), "logout"},
		{CmdTimeCalibration.String(), "time-calibration"},
		{CmdTamperAlarm.String(), "tamper-alarm"},
		{CmdActivation.String(), "activation"},
		{CmdActivationReply.String(), "activation-reply"},
		{Command(0x42).String(), "command(0x42)"},
		{LayoutGB17691.String(), "gb17691"},
		{LayoutHJ1239.String(), "hj1239"},
		{Layout(9).String(), "layout(9)"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
