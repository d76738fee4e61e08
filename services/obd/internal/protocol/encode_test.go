package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// decoderFor returns the decoder a seed file needs.
func decoderFor(name string) Decoder {
	if strings.HasPrefix(name, "hj1239") {
		return Decoder{Layout: LayoutHJ1239}
	}
	return Decoder{}
}

func TestRoundTripSeeds(t *testing.T) {
	for name, frame := range readSeeds(t) {
		if name == "garbage_mix.bin" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			var f Frame
			if err := decoderFor(name).Decode(frame, &f); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got, err := f.AppendBinary(nil)
			if err != nil {
				t.Fatalf("AppendBinary: %v", err)
			}
			if !bytes.Equal(got, frame) {
				t.Errorf("encode(decode(x)) != x:\n got %x\nwant %x", got, frame)
			}
			// Appending keeps what dst held.
			prefix := []byte("prefix")
			got, err = f.AppendBinary(bytes.Clone(prefix))
			if err != nil || !bytes.Equal(got, cat(prefix, frame)) {
				t.Errorf("AppendBinary(prefix) = %x, %v, want prefix then the frame", got, err)
			}
		})
	}
}

func TestRoundTripStructured(t *testing.T) {
	// decode(encode(x)) == x for reports built from structured items.
	tests := []struct {
		name   string
		cmd    Command
		report *Report
	}{
		{"gb obd and ten diesel items", CmdRealtime, sampleReport(LayoutGB17691, true, 10)},
		{"gb reissue of one item", CmdReissue, sampleReport(LayoutGB17691, false, 1)},
		{"gb report without items", CmdRealtime, sampleReport(LayoutGB17691, false, 0)},
		{"gb all not available", CmdRealtime, &Report{Time: sampleTime, Items: []Item{{Type: ItemDiesel, Serial: 1, Diesel: DieselNotAvailable()}}}},
		{"hj obd and ten diesel items", CmdRealtime, func() *Report {
			r := sampleReport(LayoutHJ1239, true, 10)
			r.Signature = sampleSignature()
			return r
		}()},
		{"hj without signature", CmdReissue, sampleReport(LayoutHJ1239, false, 2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := sampleHeader
			h.Command = tc.cmd
			b, err := AppendReport(nil, h, tc.report)
			if err != nil {
				t.Fatalf("AppendReport: %v", err)
			}
			var f Frame
			if err := (Decoder{Layout: tc.report.Layout}).Decode(b, &f); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got, want := f.Header.Command, tc.cmd; got != want {
				t.Errorf("command = %v, want %v", got, want)
			}
			if got, want := f.Report.Time, tc.report.Time; !got.Equal(want) {
				t.Errorf("time = %v, want %v", got, want)
			}
			if got, want := f.Report.Serial, tc.report.Serial; got != want {
				t.Errorf("serial = %d, want %d", got, want)
			}
			if got, want := f.Report.Signature, tc.report.Signature; !bytes.Equal(got, want) {
				t.Errorf("signature = %x, want %x", got, want)
			}
			if got, want := len(f.Report.Items), len(tc.report.Items); got != want {
				t.Fatalf("%d items, want %d", got, want)
			}
			for i := range f.Report.Items {
				got, want := f.Report.Items[i], tc.report.Items[i]
				if !got.Time.Equal(want.Time) {
					t.Errorf("item %d time = %v, want %v", i, got.Time, want.Time)
				}
				got.Time, want.Time = time.Time{}, time.Time{}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("item %d:\n got %+v\nwant %+v", i, got, want)
				}
			}
		})
	}
}

func TestEncoders(t *testing.T) {
	h := Header{VIN: sampleVIN, SoftwareVersion: 0x10} // zero encryption: EncNone
	tests := []struct {
		name  string
		frame []byte
		err   error
		want  []byte
	}{
		{
			name: "login",
			want: rawFrame(0x01, vinStr, 0x01, timeBody(cat([]byte{0x00, 0x2A}, sampleICCID[:])...)),
		},
		{
			name: "logout",
			want: rawFrame(0x04, vinStr, 0x01, timeBody(0x00, 0x2A)),
		},
		{
			name: "time calibration reply",
			want: rawFrame(0x05, vinStr, 0x01, timeBody()),
		},
		{
			name: "tamper alarm",
			want: rawFrame(0x06, vinStr, 0x01, timeBody(0, 3, PosWest, 0, 0, 0, 1, 0, 0, 0, 2)),
		},
		{
			name: "realtime report",
			want: rawFrame(0x02, vinStr, 0x01, gbReport(gbItem(0x02, 5, dieselBody(nil)))),
		},
		{
			name: "raw frame",
			want: rawFrame(0x07, vinStr, 0x01, []byte("activation")),
		},
	}
	tests[0].frame, tests[0].err = AppendLogin(nil, h, Login{Time: sampleTime, Serial: 42, ICCID: sampleICCID})
	tests[1].frame, tests[1].err = AppendLogout(nil, h, Logout{Time: sampleTime, Serial: 42})
	tests[2].frame, tests[2].err = AppendTimeCalibrationReply(nil, h, sampleTime)
	tests[3].frame, tests[3].err = AppendTamperAlarm(nil, h, Tamper{Time: sampleTime, Serial: 3,
		Position: Position{Status: PosWest, Longitude: 1, Latitude: 2}})
	tests[4].frame, tests[4].err = AppendReport(nil, h, &Report{Time: sampleTime,
		Items: []Item{{Type: ItemDiesel, Serial: 5, Diesel: DieselNotAvailable()}}})
	rawHdr := h
	rawHdr.Command, rawHdr.Encryption = CmdActivation, EncNone
	tests[5].frame, tests[5].err = AppendFrame(nil, rawHdr, []byte("activation"))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err != nil {
				t.Fatalf("encode: %v", tc.err)
			}
			if !bytes.Equal(tc.frame, tc.want) {
				t.Errorf("got  %x\nwant %x", tc.frame, tc.want)
			}
		})
	}
}

func TestEncodeTimeZones(t *testing.T) {
	// The same instant in any zone is sent as the same Beijing time, and
	// sub-second precision is dropped.
	h := sampleHeader
	want := rawFrame(0x05, vinStr, 0x01, []byte{24, 1, 1, 8, 30, 0}) // 2024-01-01 08:30:00 Beijing
	for _, tm := range []time.Time{
		time.Date(2024, 1, 1, 0, 30, 0, 0, time.UTC),
		time.Date(2024, 1, 1, 0, 30, 0, 999_999_999, time.UTC),
		time.Date(2023, 12, 31, 19, 30, 0, 0, time.FixedZone("EST", -5*3600)),
		time.Date(2024, 1, 1, 8, 30, 0, 0, time.FixedZone("CST", 8*3600)),
	} {
		got, err := AppendTimeCalibrationReply(nil, h, tm)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("AppendTimeCalibrationReply(%v) = %x, %v, want %x", tm, got, err, want)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	h := sampleHeader
	tooManyCodes := sampleReport(LayoutGB17691, true, 0)
	tooManyCodes.Items[0].OBD.FaultCodes = make([]uint32, 254)
	gbWithSignature := sampleReport(LayoutGB17691, false, 1)
	gbWithSignature.Signature = sampleSignature()
	badItemTime := sampleReport(LayoutHJ1239, false, 1)
	badItemTime.Items[0].Time = time.Time{}
	bigRaw := &Report{Time: sampleTime, Items: []Item{{Type: 0x80, Raw: make([]byte, MaxDataLen)}}}
	loginHdr := h
	loginHdr.Command = CmdLogin
	unknownHdr := h
	unknownHdr.Command = 0x09

	tests := []struct {
		name   string
		encode func(dst []byte) ([]byte, error)
		want   error
	}{
		{"zero time", func(dst []byte) ([]byte, error) { return AppendLogin(dst, h, Login{}) }, ErrBadTime},
		{"year 1999", func(dst []byte) ([]byte, error) {
			return AppendLogout(dst, h, Logout{Time: time.Date(1999, 12, 31, 15, 59, 59, 0, time.UTC)})
		}, ErrBadTime},
		{"year 2256", func(dst []byte) ([]byte, error) {
			return AppendTimeCalibrationReply(dst, h, time.Date(2256, 1, 1, 0, 0, 0, 0, time.UTC))
		}, ErrBadTime},
		{"hj item without time", func(dst []byte) ([]byte, error) { return AppendReport(dst, h, badItemTime) }, ErrBadTime},
		{"254 fault codes", func(dst []byte) ([]byte, error) { return AppendReport(dst, h, tooManyCodes) }, ErrTooLong},
		{"signature in a gb report", func(dst []byte) ([]byte, error) { return AppendReport(dst, h, gbWithSignature) }, ErrBadLength},
		{"report over 65531 bytes", func(dst []byte) ([]byte, error) { return AppendReport(dst, h, bigRaw) }, ErrTooLong},
		{"report as login", func(dst []byte) ([]byte, error) {
			return AppendReport(dst, loginHdr, sampleReport(LayoutGB17691, false, 1))
		}, ErrUnknownCommand},
		{"data over 65531 bytes", func(dst []byte) ([]byte, error) { return AppendFrame(dst, h, make([]byte, MaxDataLen+1)) }, ErrTooLong},
		{"unknown command", func(dst []byte) ([]byte, error) { return (&Frame{Header: unknownHdr}).AppendBinary(dst) }, ErrUnknownCommand},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("kept")
			got, err := tc.encode(dst)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if string(got) != "kept" {
				t.Errorf("dst = %q after an error, want %q", got, "kept")
			}
		})
	}
}

func TestAppendFrameMaxData(t *testing.T) {
	h := sampleHeader
	h.Command = CmdActivation
	b, err := AppendFrame(nil, h, make([]byte, MaxDataLen))
	if err != nil {
		t.Fatalf("AppendFrame: %v", err)
	}
	if got, want := len(b), MaxFrameLen; got != want {
		t.Errorf("frame of %d bytes, want %d", got, want)
	}
	var f Frame
	if err := Decode(b, &f); err != nil {
		t.Errorf("Decode: %v", err)
	}
}
