package protocol

import (
	"encoding/binary"
	"fmt"
)

// Sizes of fixed data units and item parts.
const (
	timeLen      = 6
	loginLen     = timeLen + 2 + 20
	logoutLen    = timeLen + 2
	tamperLen    = timeLen + 2 + 1 + 4 + 4
	obdFixedLen  = 1 + 1 + 2 + 2 + 17 + 18 + 18 + 36 + 1
	faultCodeLen = 4
	maxSigPart   = 32
)

// Decoder decodes frames with per-terminal settings. The zero Decoder
// decodes LayoutGB17691 reports and rejects unknown item types; it is what
// the package-level Decode uses. A Decoder is safe for concurrent use as long
// as its fields are not modified.
type Decoder struct {
	// Layout is the layout of real-time and reissued report data units.
	Layout Layout
	// RawItemSizes gives the body size of information item types other than
	// ItemOBD and ItemDiesel, so that reports carrying them can be decoded,
	// keeping those bodies raw in Item.Raw. Types absent from the map end
	// the decoding of their report with ErrUnknownItem.
	RawItemSizes map[ItemType]int
	// Verified says the frames come from a Reader, which has checked their BCC already: the
	// check is not computed a second time.
	Verified bool
}

// Decode decodes one complete frame into f with the zero Decoder
// (LayoutGB17691); see Decoder.Decode.
func Decode(frame []byte, f *Frame) error {
	return Decoder{}.Decode(frame, f)
}

// Decode checks and decodes one complete frame, exactly as long as its
// length field says, into f. It overwrites f, reusing the capacity of its
// slices, and does not allocate once they are large enough; slices in f
// alias frame.
//
// The errors wrap ErrTruncated, ErrBadStart, ErrTooLong, ErrBadLength,
// ErrBadChecksum, ErrUnknownCommand, ErrBadVIN, ErrBadEncryption,
// ErrEncrypted, ErrBadTime or ErrUnknownItem. f.Header is set whenever the
// frame is at least Overhead bytes and starts with "##"; after
// ErrUnknownItem, f.Report holds the items before the unknown one.
// Otherwise the contents of f after an error are unspecified.
func (d Decoder) Decode(frame []byte, f *Frame) error {
	f.reset()
	if len(frame) < Overhead {
		return fmt.Errorf("%w: frame of %d bytes, need at least %d", ErrTruncated, len(frame), Overhead)
	}
	if frame[0] != '#' || frame[1] != '#' {
		return fmt.Errorf("%w: starts with 0x%02x 0x%02x", ErrBadStart, frame[0], frame[1])
	}
	h := &f.Header
	h.Command = Command(frame[2])
	copy(h.VIN[:], frame[3:20])
	h.SoftwareVersion = frame[20]
	h.Encryption = Encryption(frame[21])
	h.Length = binary.BigEndian.Uint16(frame[22:24])
	n := int(h.Length)
	if n > MaxDataLen {
		return fmt.Errorf("%w: data unit length %d, at most %d", ErrTooLong, n, MaxDataLen)
	}
	if len(frame) < Overhead+n {
		return fmt.Errorf("%w: frame of %d bytes, length field says %d", ErrTruncated, len(frame), Overhead+n)
	}
	if len(frame) > Overhead+n {
		return fmt.Errorf("%w: %d bytes after the bcc", ErrBadLength, len(frame)-Overhead-n)
	}
	if !d.Verified {
		if got, want := frame[HeaderLen+n], bcc(frame[2:HeaderLen+n]); got != want {
			return fmt.Errorf("%w: bcc 0x%02x, computed 0x%02x", ErrBadChecksum, got, want)
		}
	}
	if !h.Command.Valid() {
		return fmt.Errorf("%w: 0x%02x", ErrUnknownCommand, byte(h.Command))
	}
	if !h.VIN.Valid() {
		return fmt.Errorf("%w: %q", ErrBadVIN, h.VIN[:])
	}
	data := frame[HeaderLen : HeaderLen+n : HeaderLen+n]
	f.Data = data
	switch h.Encryption {
	case EncNone, EncAbnormal, EncInvalid:
	case EncRSA, EncSM2:
		return fmt.Errorf("%w: encryption flag 0x%02x", ErrEncrypted, byte(h.Encryption))
	default:
		return fmt.Errorf("%w: 0x%02x", ErrBadEncryption, byte(h.Encryption))
	}

	var err error
	switch h.Command {
	case CmdLogin:
		if err = wantLen(h.Command, data, loginLen); err != nil {
			return err
		}
		l := &f.Login
		if l.Time, err = decodeTime(data); err != nil {
			return fmt.Errorf("login time: %w", err)
		}
		l.Serial = binary.BigEndian.Uint16(data[6:])
		copy(l.ICCID[:], data[8:])
	case CmdRealtime, CmdReissue:
		return d.decodeReport(data, &f.Report)
	case CmdLogout:
		if err = wantLen(h.Command, data, logoutLen); err != nil {
			return err
		}
		if f.Logout.Time, err = decodeTime(data); err != nil {
			return fmt.Errorf("logout time: %w", err)
		}
		f.Logout.Serial = binary.BigEndian.Uint16(data[6:])
	case CmdTimeCalibration:
		switch len(data) {
		case 0:
		case timeLen:
			if f.Time, err = decodeTime(data); err != nil {
				return fmt.Errorf("calibration time: %w", err)
			}
		default:
			return fmt.Errorf("%w: %v data unit of %d bytes, want 0 or %d",
				ErrBadLength, h.Command, len(data), timeLen)
		}
	case CmdTamperAlarm:
		if err = wantLen(h.Command, data, tamperLen); err != nil {
			return err
		}
		t := &f.Tamper
		if t.Time, err = decodeTime(data); err != nil {
			return fmt.Errorf("alarm time: %w", err)
		}
		t.Serial = binary.BigEndian.Uint16(data[6:])
		t.Position.decode(data[8:])
	}
	return nil
}

func wantLen(c Command, data []byte, n int) error {
	if len(data) != n {
		return fmt.Errorf("%w: %v data unit of %d bytes, want %d", ErrBadLength, c, len(data), n)
	}
	return nil
}

// decodeReport decodes a real-time or reissued report data unit.
func (d Decoder) decodeReport(data []byte, r *Report) error {
	r.Layout = d.Layout
	hj := d.Layout == LayoutHJ1239
	head := timeLen
	if hj {
		head += 2
	}
	if len(data) < head {
		return fmt.Errorf("%w: report data unit of %d bytes, need at least %d", ErrTruncated, len(data), head)
	}
	var err error
	if r.Time, err = decodeTime(data); err != nil {
		return fmt.Errorf("report time: %w", err)
	}
	if hj {
		r.Serial = binary.BigEndian.Uint16(data[timeLen:])
	}
	p := head
	for p < len(data) {
		typ := ItemType(data[p])
		size := -1 // body size of a raw item
		if typ != ItemOBD && typ != ItemDiesel {
			n, ok := d.RawItemSizes[typ]
			switch {
			case ok && n >= 0:
				size = n
			case hj && isSignature(data[p:]):
				r.Signature = data[p:len(data):len(data)]
				r.Signed = data[:p:p]
				return nil
			default:
				return fmt.Errorf("%w: 0x%02x at data unit offset %d (item %d)", ErrUnknownItem, byte(typ), p, len(r.Items)+1)
			}
		}
		if hj {
			if len(data)-p < 1+timeLen {
				return fmt.Errorf("%w: item header at data unit offset %d", ErrTruncated, p)
			}
		} else if len(data)-p < 3 {
			return fmt.Errorf("%w: item header at data unit offset %d", ErrTruncated, p)
		}
		it := r.nextItem()
		it.Type = typ
		if hj {
			if it.Time, err = decodeTime(data[p+1:]); err != nil {
				return fmt.Errorf("item %d collection time: %w", len(r.Items), err)
			}
			p += 1 + timeLen
		} else {
			it.Serial = binary.BigEndian.Uint16(data[p+1:])
			p += 3
		}
		body := data[p:]
		switch {
		case typ == ItemDiesel:
			if len(body) < DieselStreamLen {
				return fmt.Errorf("%w: diesel stream item %d has %d bytes, want %d", ErrTruncated, len(r.Items), len(body), DieselStreamLen)
			}
			it.Diesel.decode(body[:DieselStreamLen])
			p += DieselStreamLen
		case typ == ItemOBD:
			n, err := it.OBD.decode(body)
			if err != nil {
				return fmt.Errorf("obd item %d: %w", len(r.Items), err)
			}
			p += n
		default:
			if len(body) < size {
				return fmt.Errorf("%w: item %d of type 0x%02x has %d bytes, want %d", ErrTruncated, len(r.Items), byte(typ), len(body), size)
			}
			it.Raw = body[:size:size]
			p += size
		}
	}
	return nil
}

// isSignature reports whether b is exactly an SM2 signature as HJ 1239
// closes a report with: R length (1..32) + R + S length (1..32) + S.
func isSignature(b []byte) bool {
	if len(b) < 1 {
		return false
	}
	r := int(b[0])
	if r < 1 || r > maxSigPart || len(b) < 2+r {
		return false
	}
	s := int(b[1+r])
	return s >= 1 && s <= maxSigPart && len(b) == 2+r+s
}

// decode decodes an OBD information body from the start of b and returns
// its size.
func (o *OBDInfo) decode(b []byte) (int, error) {
	if len(b) < obdFixedLen {
		return 0, fmt.Errorf("%w: %d bytes, need at least %d", ErrTruncated, len(b), obdFixedLen)
	}
	o.Protocol = b[0]
	o.MIL = b[1]
	o.DiagnosticSupport = binary.BigEndian.Uint16(b[2:])
	o.DiagnosticReadiness = binary.BigEndian.Uint16(b[4:])
	copy(o.VIN[:], b[6:23])
	copy(o.CalibrationID[:], b[23:41])
	copy(o.CVN[:], b[41:59])
	copy(o.IUPR[:], b[59:95])
	o.FaultCount = b[95]
	o.FaultCodes = o.FaultCodes[:0]
	if !o.FaultCountValid() {
		return obdFixedLen, nil
	}
	n := obdFixedLen + faultCodeLen*int(o.FaultCount)
	if len(b) < n {
		return 0, fmt.Errorf("%w: %d fault codes need %d bytes, have %d", ErrTruncated, o.FaultCount, n, len(b))
	}
	for p := obdFixedLen; p < n; p += faultCodeLen {
		o.FaultCodes = append(o.FaultCodes, binary.BigEndian.Uint32(b[p:]))
	}
	return n, nil
}

// decode decodes a diesel data stream body of DieselStreamLen bytes.
func (d *DieselStream) decode(b []byte) {
	_ = b[DieselStreamLen-1]
	d.Speed = binary.BigEndian.Uint16(b[0:])
	d.AtmosphericPressure = b[2]
	d.NetTorque = b[3]
	d.FrictionTorque = b[4]
	d.EngineSpeed = binary.BigEndian.Uint16(b[5:])
	d.FuelFlow = binary.BigEndian.Uint16(b[7:])
	d.NOxUpstream = binary.BigEndian.Uint16(b[9:])
	d.NOxDownstream = binary.BigEndian.Uint16(b[11:])
	d.Reagent = b[13]
	d.IntakeAirFlow = binary.BigEndian.Uint16(b[14:])
	d.SCRInletTemp = binary.BigEndian.Uint16(b[16:])
	d.SCROutletTemp = binary.BigEndian.Uint16(b[18:])
	d.DPFPressure = binary.BigEndian.Uint16(b[20:])
	d.CoolantTemp = b[22]
	d.FuelLevel = b[23]
	d.Position.decode(b[24:])
	d.Mileage = binary.BigEndian.Uint32(b[33:])
}

// decode decodes a positioning status and coordinates (9 bytes).
func (p *Position) decode(b []byte) {
	_ = b[8]
	p.Status = b[0]
	p.Longitude = binary.BigEndian.Uint32(b[1:])
	p.Latitude = binary.BigEndian.Uint32(b[5:])
}

// bcc returns the XOR of the bytes of b.
func bcc(b []byte) byte {
	var x uint64
	for len(b) >= 8 {
		x ^= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	x ^= x >> 32
	x ^= x >> 16
	x ^= x >> 8
	c := byte(x)
	for _, v := range b {
		c ^= v
	}
	return c
}
