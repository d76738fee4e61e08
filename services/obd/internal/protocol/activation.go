package protocol

import (
	"fmt"
	"time"
)

// Sizes of the HJ 1239 activation data unit's fixed fields.
const (
	ChipIDLen     = 16
	PublicKeyLen  = 64 // the SM2 public key, X || Y, 32 bytes each
	activationLen = timeLen + ChipIDLen + PublicKeyLen + 17
)

// Activation is the data unit of an HJ 1239 activation (CmdActivation): the terminal files its
// security chip's id and SM2 public key for a VIN, signed with the matching private key (a proof
// that it holds it).
type Activation struct {
	// Time is the activation time.
	Time time.Time
	// ChipID is the security chip's id.
	ChipID [ChipIDLen]byte
	// PublicKey is the chip's SM2 public key, X || Y.
	PublicKey [PublicKeyLen]byte
	// VIN is the vehicle the terminal activates for.
	VIN VIN
	// Signature is the SM2 signature over Signed, R length + R + S length + S; it aliases the
	// decoded input.
	Signature []byte
	// Signed is the part of the data unit the signature covers (every field before it); it
	// aliases the decoded input.
	Signed []byte
}

// DecodeActivation decodes an activation data unit (Frame.Data of a CmdActivation frame).
func DecodeActivation(data []byte) (Activation, error) {
	var a Activation
	if len(data) < activationLen {
		return a, fmt.Errorf("%w: activation data unit of %d bytes, need at least %d", ErrTruncated, len(data), activationLen)
	}
	t, err := decodeTime(data)
	if err != nil {
		return a, fmt.Errorf("activation time: %w", err)
	}
	a.Time = t
	p := timeLen
	copy(a.ChipID[:], data[p:p+ChipIDLen])
	p += ChipIDLen
	copy(a.PublicKey[:], data[p:p+PublicKeyLen])
	p += PublicKeyLen
	copy(a.VIN[:], data[p:p+17])
	p += 17
	if !a.VIN.Valid() {
		return a, fmt.Errorf("%w: activation VIN %q", ErrBadVIN, a.VIN[:])
	}
	if !isSignature(data[p:]) {
		return a, fmt.Errorf("%w: activation signature of %d bytes", ErrBadLength, len(data)-p)
	}
	a.Signed = data[:p:p]
	a.Signature = data[p:len(data):len(data)]
	return a, nil
}

// AppendActivationData appends a's data unit without its signature: the bytes to sign.
func AppendActivationData(dst []byte, a Activation) ([]byte, error) {
	dst, err := appendTime(dst, a.Time)
	if err != nil {
		return dst, err
	}
	dst = append(dst, a.ChipID[:]...)
	dst = append(dst, a.PublicKey[:]...)
	return append(dst, a.VIN[:]...), nil
}

// AppendActivation appends an activation frame: a's data unit followed by sig.
func AppendActivation(dst []byte, h Header, a Activation, sig []byte) ([]byte, error) {
	if !isSignature(sig) {
		return dst, fmt.Errorf("%w: activation signature of %d bytes", ErrBadLength, len(sig))
	}
	h.Command = CmdActivation
	return appendFrame(dst, &h, func(dst []byte) ([]byte, error) {
		dst, err := AppendActivationData(dst, a)
		return append(dst, sig...), err
	})
}

// ActivationResult is the platform's answer to an activation (CmdActivationReply).
type ActivationResult byte

// Activation results and, after ActivationRefused, the reasons HJ 1239 gives.
const (
	ActivationOK      ActivationResult = 0x01
	ActivationRefused ActivationResult = 0x02

	// RefusedAlreadyFiled: the VIN already has another chip on file.
	RefusedAlreadyFiled byte = 0x01
	// RefusedVIN: the VIN is wrong or unknown.
	RefusedVIN byte = 0x02
	// RefusedOther: any other reason (a signature that does not verify, among them).
	RefusedOther byte = 0x03
)

// AppendActivationReply appends the platform's activation reply: 0x01, or 0x02 and the reason.
func AppendActivationReply(dst []byte, h Header, res ActivationResult, reason byte) ([]byte, error) {
	h.Command = CmdActivationReply
	if h.Encryption == 0 {
		h.Encryption = EncNone
	}
	data := []byte{byte(res)}
	if res == ActivationRefused {
		data = append(data, reason)
	}
	return AppendFrame(dst, h, data)
}

// DecodeActivationReply decodes an activation reply's data unit.
func DecodeActivationReply(data []byte) (ActivationResult, byte, error) {
	switch {
	case len(data) == 1 && ActivationResult(data[0]) == ActivationOK:
		return ActivationOK, 0, nil
	case len(data) == 2 && ActivationResult(data[0]) == ActivationRefused:
		return ActivationRefused, data[1], nil
	}
	return 0, 0, fmt.Errorf("%w: activation reply % x", ErrBadLength, data)
}
