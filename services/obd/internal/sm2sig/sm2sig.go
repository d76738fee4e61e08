// Package sm2sig verifies the SM2 signatures of HJ 1239 terminals (and makes them, for the
// simulator and tests), with github.com/emmansun/gmsm: SM2 over the SM2 P-256 curve, the message
// digested with SM3 after the signer's identity hash Z (GM/T 0009-2012, with its default user id
// "1234567812345678", as HJ 1239 terminals use). On the wire a signature is R length (1) + R +
// S length (1) + S, each part 1..32 bytes, big-endian; a public key is X || Y (64 bytes).
package sm2sig

import (
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
)

// ErrBadKey: the 64 bytes are not a point of the SM2 curve.
var ErrBadKey = errors.New("not an SM2 public key")

// ErrBadSignature: the signature does not verify (or is malformed).
var ErrBadSignature = errors.New("SM2 signature does not verify")

// PublicKey parses a terminal's public key, X || Y.
func PublicKey(b [64]byte) (*ecdsa.PublicKey, error) {
	c := sm2.P256()
	x, y := new(big.Int).SetBytes(b[:32]), new(big.Int).SetBytes(b[32:])
	if !c.IsOnCurve(x, y) {
		return nil, ErrBadKey
	}
	return &ecdsa.PublicKey{Curve: c, X: x, Y: y}, nil
}

// Verify checks sig, in the wire form, over msg with pub.
func Verify(pub *ecdsa.PublicKey, msg, sig []byte) error {
	r, s, ok := split(sig)
	if !ok || !sm2.VerifyWithSM2(pub, nil, msg, r, s) {
		return ErrBadSignature
	}
	return nil
}

func split(sig []byte) (r, s *big.Int, ok bool) {
	if len(sig) < 1 {
		return nil, nil, false
	}
	n := int(sig[0])
	if n < 1 || n > 32 || len(sig) < 2+n {
		return nil, nil, false
	}
	m := int(sig[1+n])
	if m < 1 || m > 32 || len(sig) != 2+n+m {
		return nil, nil, false
	}
	return new(big.Int).SetBytes(sig[1 : 1+n]), new(big.Int).SetBytes(sig[2+n:]), true
}

// Key is a terminal's key pair (the simulator's and the tests'; real terminals keep theirs in
// their security chip).
type Key struct {
	priv *sm2.PrivateKey
}

// NewKey generates a key pair.
func NewKey() (*Key, error) {
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate SM2 key: %w", err)
	}
	return &Key{priv: k}, nil
}

// Public is the public key, X || Y.
func (k *Key) Public() [64]byte {
	var b [64]byte
	k.priv.PublicKey.X.FillBytes(b[:32])
	k.priv.PublicKey.Y.FillBytes(b[32:])
	return b
}

// Sign signs msg, returning the wire form.
func (k *Key) Sign(msg []byte) ([]byte, error) {
	r, s, err := sm2.SignWithSM2(rand.Reader, &k.priv.PrivateKey, nil, msg)
	if err != nil {
		return nil, fmt.Errorf("SM2 sign: %w", err)
	}
	rb, sb := r.Bytes(), s.Bytes()
	out := make([]byte, 0, 2+len(rb)+len(sb))
	out = append(out, byte(len(rb)))
	out = append(out, rb...)
	out = append(out, byte(len(sb)))
	return append(out, sb...), nil
}
