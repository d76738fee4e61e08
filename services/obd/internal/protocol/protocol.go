package protocol

import (
	"errors"
	"fmt"
	"time"
)

// Sizes of the frame.
const (
	// HeaderLen is the size of the header: start, command, VIN, software
	// version, encryption and data unit length.
	HeaderLen = 24
	// Overhead is the size of a frame around its data unit (header and BCC).
	Overhead = HeaderLen + 1
	// MaxDataLen is the largest data unit length the standard allows.
	MaxDataLen = 65531
	// MaxFrameLen is the size of the largest frame the standard allows.
	MaxFrameLen = MaxDataLen + Overhead
)

// Errors returned by Decode, the encoders and Reader. They are returned
// wrapped with context; test for them with errors.Is.
var (
	// ErrBadStart reports a frame that does not begin with "##".
	ErrBadStart = errors.New("protocol: frame does not start with ##")
	// ErrTruncated reports a frame, data unit or item shorter than its
	// length or layout requires.
	ErrTruncated = errors.New("protocol: truncated")
	// ErrTooLong reports a data unit longer than MaxDataLen or a frame
	// longer than a Reader's bound.
	ErrTooLong = errors.New("protocol: too long")
	// ErrBadLength reports a frame with bytes after its BCC, or a data unit
	// whose length does not fit its command.
	ErrBadLength = errors.New("protocol: bad length")
	// ErrBadChecksum reports a BCC that does not match the frame.
	ErrBadChecksum = errors.New("protocol: bad checksum")
	// ErrBadVIN reports a VIN that is not 17 characters of [0-9A-HJ-NPR-Z].
	ErrBadVIN = errors.New("protocol: bad vin")
	// ErrUnknownCommand reports a command unit outside 0x01..0x08.
	ErrUnknownCommand = errors.New("protocol: unknown command")
	// ErrBadEncryption reports an encryption byte that is none of the
	// defined values.
	ErrBadEncryption = errors.New("protocol: bad encryption flag")
	// ErrEncrypted reports an RSA or SM2 encrypted data unit, which Decode
	// leaves raw in Frame.Data after decoding the header.
	ErrEncrypted = errors.New("protocol: encrypted data unit")
	// ErrBadTime reports an impossible date or time, or one the 6-byte
	// field cannot represent.
	ErrBadTime = errors.New("protocol: bad time")
	// ErrUnknownItem reports an information item type whose length is not
	// known, which ends the decoding of its report.
	ErrUnknownItem = errors.New("protocol: unknown information item type")
)

// Command is the command unit of a frame.
type Command byte

// Commands. Uplink frames go from the terminal to the platform.
const (
	// CmdLogin is the vehicle login: time, login serial and ICCID.
	CmdLogin Command = 0x01
	// CmdRealtime is the real-time report.
	CmdRealtime Command = 0x02
	// CmdReissue is the reissued report, sent to fill gaps after a loss of
	// connection; its data unit is that of CmdRealtime.
	CmdReissue Command = 0x03
	// CmdLogout is the vehicle logout: time and the login's serial.
	CmdLogout Command = 0x04
	// CmdTimeCalibration is the terminal time calibration: an empty uplink
	// request, answered by the platform with a 6-byte time.
	CmdTimeCalibration Command = 0x05
	// CmdTamperAlarm is the HJ 1239 anti-tamper (removal) alarm.
	CmdTamperAlarm Command = 0x06
	// CmdActivation is the HJ 1239 activation request; its data unit is
	// kept raw.
	CmdActivation Command = 0x07
	// CmdActivationReply is the HJ 1239 activation reply; its data unit is
	// kept raw.
	CmdActivationReply Command = 0x08
)

// Valid reports whether c is one of the defined commands.
func (c Command) Valid() bool { return c >= CmdLogin && c <= CmdActivationReply }

// String returns a short lowercase name of c.
func (c Command) String() string {
	switch c {
	case CmdLogin:
		return "login"
	case CmdRealtime:
		return "realtime"
	case CmdReissue:
		return "reissue"
	case CmdLogout:
		return "logout"
	case CmdTimeCalibration:
		return "time-calibration"
	case CmdTamperAlarm:
		return "tamper-alarm"
	case CmdActivation:
		return "activation"
	case CmdActivationReply:
		return "activation-reply"
	}
	return fmt.Sprintf("command(0x%02x)", byte(c))
}

// Encryption is the encryption flag of a frame.
type Encryption byte

// Encryption flags.
const (
	// EncNone marks a plain data unit.
	EncNone Encryption = 0x01
	// EncRSA marks an RSA encrypted data unit.
	EncRSA Encryption = 0x02
	// EncSM2 marks an SM2 encrypted data unit.
	EncSM2 Encryption = 0x03
	// EncAbnormal is the "abnormal" flag; the data unit is decoded as plain.
	EncAbnormal Encryption = 0xFE
	// EncInvalid is the "invalid" flag; the data unit is decoded as plain.
	EncInvalid Encryption = 0xFF
)

// Layout selects the data unit layout of real-time and reissued reports; see
// the package documentation.
type Layout uint8

// Layouts.
const (
	// LayoutGB17691 is collection time, then items of type + serial + body.
	LayoutGB17691 Layout = iota
	// LayoutHJ1239 is send time + serial, then items of type + collection
	// time + body, then an SM2 signature.
	LayoutHJ1239
)

// String returns the name of the standard l follows.
func (l Layout) String() string {
	switch l {
	case LayoutGB17691:
		return "gb17691"
	case LayoutHJ1239:
		return "hj1239"
	}
	return fmt.Sprintf("layout(%d)", uint8(l))
}

// VIN is a vehicle identification number as carried on the wire. It is an
// array so that decoding does not allocate.
type VIN [17]byte

// vinChar marks the characters a VIN may hold: digits and capital letters
// other than I, O and Q.
var vinChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = c != 'I' && c != 'O' && c != 'Q'
	}
	return t
}()

// Valid reports whether v is 17 characters of [0-9A-HJ-NPR-Z]. It does not
// check the check digit.
func (v VIN) Valid() bool {
	for _, c := range v {
		if !vinChar[c] {
			return false
		}
	}
	return true
}

// String returns v as a string.
func (v VIN) String() string { return string(v[:]) }

// ParseVIN returns s as a VIN, or an error wrapping ErrBadVIN if s is not 17
// characters of [0-9A-HJ-NPR-Z].
func ParseVIN(s string) (VIN, error) {
	var v VIN
	if len(s) != len(v) {
		return v, fmt.Errorf("%w: %q is %d bytes, want %d", ErrBadVIN, s, len(s), len(v))
	}
	copy(v[:], s)
	if !v.Valid() {
		return VIN{}, fmt.Errorf("%w: %q", ErrBadVIN, s)
	}
	return v, nil
}

// Header is the fixed part of a frame before its data unit.
type Header struct {
	// Command is the command unit.
	Command Command
	// VIN identifies the vehicle.
	VIN VIN
	// SoftwareVersion is the terminal software version.
	SoftwareVersion byte
	// Encryption is the encryption flag.
	Encryption Encryption
	// Length is the data unit length. Decode sets it; the encoders compute
	// it and ignore the value given.
	Length uint16
}

// beijing is the offset of Beijing time, in which the wire carries times.
const beijing = 8 * time.Hour

// decodeTime converts a 6-byte Beijing time to UTC.
func decodeTime(b []byte) (time.Time, error) {
	_ = b[5]
	year, month, day := 2000+int(b[0]), int(b[1]), int(b[2])
	hour, min, sec := int(b[3]), int(b[4]), int(b[5])
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || min > 59 || sec > 59 {
		return time.Time{}, fmt.Errorf("%w: %d-%02d-%02d %02d:%02d:%02d", ErrBadTime,
			year, month, day, hour, min, sec)
	}
	return time.Date(year, time.Month(month), day, hour, min, sec, 0, time.UTC).Add(-beijing), nil
}

// daysIn returns the number of days of month in year.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// appendTime appends t as a 6-byte Beijing time.
func appendTime(dst []byte, t time.Time) ([]byte, error) {
	t = t.UTC().Add(beijing)
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	if year < 2000 || year > 2255 {
		return dst, fmt.Errorf("%w: year %d outside 2000..2255", ErrBadTime, year)
	}
	return append(dst, byte(year-2000), byte(month), byte(day), byte(hour), byte(min), byte(sec)), nil
}
