package protocol

import (
	"encoding/binary"
	"fmt"
	"time"
)

// The encoders append a complete frame to dst, computing the data unit length
// and the BCC, and return the extended slice. On error they return dst as
// given. They do not validate the header's VIN or software version, so that
// tests can build the invalid frames a terminal may send.

// AppendFrame appends a frame with header h and data unit data to dst. It
// fails with ErrTooLong if data is longer than MaxDataLen.
func AppendFrame(dst []byte, h Header, data []byte) ([]byte, error) {
	if len(data) > MaxDataLen {
		return dst, fmt.Errorf("%w: data unit of %d bytes, at most %d", ErrTooLong, len(data), MaxDataLen)
	}
	start := len(dst)
	dst = appendHeader(dst, &h)
	dst = append(dst, data...)
	return finish(dst, start)
}

// AppendLogin appends a vehicle login frame. h.Command is ignored; a zero
// h.Encryption is taken as EncNone.
func AppendLogin(dst []byte, h Header, l Login) ([]byte, error) {
	h.Command = CmdLogin
	return appendFrame(dst, &h, func(dst []byte) ([]byte, error) { return l.appendTo(dst) })
}

// AppendLogout appends a vehicle logout frame. h.Command is ignored; a zero
// h.Encryption is taken as EncNone.
func AppendLogout(dst []byte, h Header, l Logout) ([]byte, error) {
	h.Command = CmdLogout
	return appendFrame(dst, &h, func(dst []byte) ([]byte, error) { return l.appendTo(dst) })
}

// AppendReport appends a real-time report frame, or a reissued report frame
// if h.Command is CmdReissue, in the layout r.Layout. A zero h.Command is
// taken as CmdRealtime, a zero h.Encryption as EncNone.
func AppendReport(dst []byte, h Header, r *Report) ([]byte, error) {
	switch h.Command {
	case 0:
		h.Command = CmdRealtime
	case CmdRealtime, CmdReissue:
	default:
		return dst, fmt.Errorf("%w: %v is not a report command", ErrUnknownCommand, h.Command)
	}
	return appendFrame(dst, &h, r.appendTo)
}

// AppendTamperAlarm appends an anti-tamper alarm frame. h.Command is
// ignored; a zero h.Encryption is taken as EncNone.
func AppendTamperAlarm(dst []byte, h Header, t Tamper) ([]byte, error) {
	h.Command = CmdTamperAlarm
	return appendFrame(dst, &h, func(dst []byte) ([]byte, error) { return t.appendTo(dst) })
}

// AppendTimeCalibrationReply appends the platform's answer to a terminal
// time calibration request: a CmdTimeCalibration frame carrying t.
// h.Command is ignored; a zero h.Encryption is taken as EncNone.
func AppendTimeCalibrationReply(dst []byte, h Header, t time.Time) ([]byte, error) {
	h.Command = CmdTimeCalibration
	return appendFrame(dst, &h, func(dst []byte) ([]byte, error) { return appendTime(dst, t) })
}

// AppendBinary appends f encoded as a frame to dst, implementing
// encoding.BinaryAppender. The data unit is encoded from the part of f that
// Header.Command selects, or copied from f.Data for activation frames,
// activation replies and RSA or SM2 encrypted frames. Header.Length is
// ignored; outside encrypted frames a zero Header.Encryption is taken as
// EncNone.
func (f *Frame) AppendBinary(dst []byte) ([]byte, error) {
	h := f.Header
	if h.Encryption == EncRSA || h.Encryption == EncSM2 {
		return AppendFrame(dst, h, f.Data)
	}
	switch h.Command {
	case CmdLogin:
		return appendFrame(dst, &h, f.Login.appendTo)
	case CmdRealtime, CmdReissue:
		return appendFrame(dst, &h, f.Report.appendTo)
	case CmdLogout:
		return appendFrame(dst, &h, f.Logout.appendTo)
	case CmdTimeCalibration:
		if f.Time.IsZero() {
			return AppendFrame(dst, h, nil)
		}
		return appendFrame(dst, &h, func(dst []byte) ([]byte, error) { return appendTime(dst, f.Time) })
	case CmdTamperAlarm:
		return appendFrame(dst, &h, f.Tamper.appendTo)
	case CmdActivation, CmdActivationReply:
		return AppendFrame(dst, h, f.Data)
	}
	return dst, fmt.Errorf("%w: 0x%02x", ErrUnknownCommand, byte(h.Command))
}

// appendFrame appends the frame whose data unit body appends.
func appendFrame(dst []byte, h *Header, body func([]byte) ([]byte, error)) ([]byte, error) {
	if h.Encryption == 0 {
		h.Encryption = EncNone
	}
	start := len(dst)
	dst, err := body(appendHeader(dst, h))
	if err != nil {
		return dst[:start], fmt.Errorf("encode %v: %w", h.Command, err)
	}
	out, err := finish(dst, start)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

// appendHeader appends h with a zero length field.
func appendHeader(dst []byte, h *Header) []byte {
	dst = append(dst, '#', '#', byte(h.Command))
	dst = append(dst, h.VIN[:]...)
	return append(dst, h.SoftwareVersion, byte(h.Encryption), 0, 0)
}

// finish fills in the length of the frame starting at dst[start] and
// appends its BCC.
func finish(dst []byte, start int) ([]byte, error) {
	n := len(dst) - start - HeaderLen
	if n > MaxDataLen {
		return dst[:start], fmt.Errorf("%w: data unit of %d bytes, at most %d", ErrTooLong, n, MaxDataLen)
	}
	binary.BigEndian.PutUint16(dst[start+22:], uint16(n))
	return append(dst, bcc(dst[start+2:])), nil
}

func (l *Login) appendTo(dst []byte) ([]byte, error) {
	dst, err := appendTime(dst, l.Time)
	if err != nil {
		return dst, err
	}
	dst = binary.BigEndian.AppendUint16(dst, l.Serial)
	return append(dst, l.ICCID[:]...), nil
}

func (l *Logout) appendTo(dst []byte) ([]byte, error) {
	dst, err := appendTime(dst, l.Time)
	if err != nil {
		return dst, err
	}
	return binary.BigEndian.AppendUint16(dst, l.Serial), nil
}

func (t *Tamper) appendTo(dst []byte) ([]byte, error) {
	dst, err := appendTime(dst, t.Time)
	if err != nil {
		return dst, err
	}
	dst = binary.BigEndian.AppendUint16(dst, t.Serial)
	return t.Position.appendTo(dst), nil
}

func (p *Position) appendTo(dst []byte) []byte {
	dst = append(dst, p.Status)
	dst = binary.BigEndian.AppendUint32(dst, p.Longitude)
	return binary.BigEndian.AppendUint32(dst, p.Latitude)
}

func (r *Report) appendTo(dst []byte) ([]byte, error) {
	hj := false
	switch r.Layout {
	case LayoutGB17691:
		if len(r.Signature) > 0 {
			return dst, fmt.Errorf("%w: signature in a %v report", ErrBadLength, r.Layout)
		}
	case LayoutHJ1239:
		hj = true
	default:
		return dst, fmt.Errorf("protocol: unknown %v", r.Layout)
	}
	dst, err := appendTime(dst, r.Time)
	if err != nil {
		return dst, fmt.Errorf("report time: %w", err)
	}
	if hj {
		dst = binary.BigEndian.AppendUint16(dst, r.Serial)
	}
	for i := range r.Items {
		it := &r.Items[i]
		dst = append(dst, byte(it.Type))
		if hj {
			if dst, err = appendTime(dst, it.Time); err != nil {
				return dst, fmt.Errorf("item %d collection time: %w", i+1, err)
			}
		} else {
			dst = binary.BigEndian.AppendUint16(dst, it.Serial)
		}
		switch it.Type {
		case ItemOBD:
			if dst, err = it.OBD.appendTo(dst); err != nil {
				return dst, fmt.Errorf("obd item %d: %w", i+1, err)
			}
		case ItemDiesel:
			dst = it.Diesel.appendTo(dst)
		default:
			dst = append(dst, it.Raw...)
		}
	}
	return append(dst, r.Signature...), nil
}

func (o *OBDInfo) appendTo(dst []byte) ([]byte, error) {
	count := len(o.FaultCodes)
	if count > FaultCountInvalid-1 {
		return dst, fmt.Errorf("%w: %d fault codes, at most %d", ErrTooLong, count, FaultCountInvalid-1)
	}
	dst = append(dst, o.Protocol, o.MIL)
	dst = binary.BigEndian.AppendUint16(dst, o.DiagnosticSupport)
	dst = binary.BigEndian.AppendUint16(dst, o.DiagnosticReadiness)
	dst = append(dst, o.VIN[:]...)
	dst = append(dst, o.CalibrationID[:]...)
	dst = append(dst, o.CVN[:]...)
	dst = append(dst, o.IUPR[:]...)
	if count == 0 && !o.FaultCountValid() {
		return append(dst, o.FaultCount), nil
	}
	dst = append(dst, byte(count))
	for _, c := range o.FaultCodes {
		dst = binary.BigEndian.AppendUint32(dst, c)
	}
	return dst, nil
}

func (d *DieselStream) appendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, d.Speed)
	dst = append(dst, d.AtmosphericPressure, d.NetTorque, d.FrictionTorque)
	dst = binary.BigEndian.AppendUint16(dst, d.EngineSpeed)
	dst = binary.BigEndian.AppendUint16(dst, d.FuelFlow)
	dst = binary.BigEndian.AppendUint16(dst, d.NOxUpstream)
	dst = binary.BigEndian.AppendUint16(dst, d.NOxDownstream)
	dst = append(dst, d.Reagent)
	dst = binary.BigEndian.AppendUint16(dst, d.IntakeAirFlow)
	dst = binary.BigEndian.AppendUint16(dst, d.SCRInletTemp)
	dst = binary.BigEndian.AppendUint16(dst, d.SCROutletTemp)
	dst = binary.BigEndian.AppendUint16(dst, d.DPFPressure)
	dst = append(dst, d.CoolantTemp, d.FuelLevel)
	dst = d.Position.appendTo(dst)
	return binary.BigEndian.AppendUint32(dst, d.Mileage)
}

// AppendSignedReport appends an HJ 1239 report frame whose signature sign computes over the data
// unit before it (r.Signature is ignored). sign must return R length + R + S length + S.
func AppendSignedReport(dst []byte, h Header, r *Report, sign func(signed []byte) ([]byte, error)) ([]byte, error) {
	if r.Layout != LayoutHJ1239 {
		return dst, fmt.Errorf("%w: only %v reports are signed", ErrBadLength, LayoutHJ1239)
	}
	if h.Command == 0 {
		h.Command = CmdRealtime
	}
	unsigned := *r
	unsigned.Signature = nil
	return appendFrame(dst, &h, func(dst []byte) ([]byte, error) {
		start := len(dst)
		dst, err := unsigned.appendTo(dst)
		if err != nil {
			return dst, err
		}
		sig, err := sign(dst[start:])
		if err != nil {
			return dst, fmt.Errorf("sign report: %w", err)
		}
		if !isSignature(sig) {
			return dst, fmt.Errorf("%w: signature of %d bytes", ErrBadLength, len(sig))
		}
		return append(dst, sig...), nil
	})
}
