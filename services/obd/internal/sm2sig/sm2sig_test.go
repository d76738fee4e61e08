package sm2sig_test

import (
	"errors"
	"testing"
	"time"

	"github.com/clearsky/clearsky/services/obd/internal/protocol"
	"github.com/clearsky/clearsky/services/obd/internal/sm2sig"
)

// report is a real-size HJ 1239 report: an OBD item and ten diesel samples, signed by k.
func report(t testing.TB, k *sm2sig.Key, vin string) []byte {
	t.Helper()
	v, err := protocol.ParseVIN(vin)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	r := protocol.Report{Layout: protocol.LayoutHJ1239, Time: at.Add(10 * time.Second), Serial: 7,
		Items: []protocol.Item{{Type: protocol.ItemOBD, Time: at, OBD: protocol.OBDInfo{Protocol: 2, VIN: [17]byte(v)}}}}
	for i := range 10 {
		r.Items = append(r.Items, protocol.Item{Type: protocol.ItemDiesel, Time: at.Add(time.Duration(i) * time.Second),
			Diesel: protocol.DieselStream{Speed: 50 * 256, EngineSpeed: 9000, NOxDownstream: 5200, Reagent: 150}})
	}
	raw, err := protocol.AppendSignedReport(nil, protocol.Header{VIN: v, Encryption: protocol.EncNone}, &r, k.Sign)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func decode(t testing.TB, raw []byte) *protocol.Frame {
	t.Helper()
	var f protocol.Frame
	if err := (protocol.Decoder{Layout: protocol.LayoutHJ1239}).Decode(raw, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

func TestSignedReportVerifies(t *testing.T) {
	k, _ := sm2sig.NewKey()
	pub, err := sm2sig.PublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	raw := report(t, k, "LFWADRJF011002346")
	f := decode(t, raw)
	if len(f.Report.Signature) == 0 || len(f.Report.Signed) == 0 {
		t.Fatal("decoded report has no signature or signed span")
	}
	if err := sm2sig.Verify(pub, f.Report.Signed, f.Report.Signature); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
}

func TestTamperedAndForeignReportsFail(t *testing.T) {
	k, _ := sm2sig.NewKey()
	other, _ := sm2sig.NewKey()
	pub, _ := sm2sig.PublicKey(k.Public())
	otherPub, _ := sm2sig.PublicKey(other.Public())
	raw := report(t, k, "LFWADRJF011002346")

	// One byte of a sample changed (and the BCC fixed, as a forger would): the signature fails.
	f := decode(t, raw)
	signedAt := len(raw) - 1 - len(f.Report.Signature) - len(f.Report.Signed)
	tampered := append([]byte(nil), raw...)
	tampered[signedAt+40] ^= 0x01
	var bcc byte
	for _, b := range tampered[2 : len(tampered)-1] {
		bcc ^= b
	}
	tampered[len(tampered)-1] = bcc
	tf := decode(t, tampered)
	if err := sm2sig.Verify(pub, tf.Report.Signed, tf.Report.Signature); !errors.Is(err, sm2sig.ErrBadSignature) {
		t.Fatalf("tampered byte: %v, want ErrBadSignature", err)
	}
	// The same frame replayed under another VIN is checked against that VIN's key: it fails.
	if err := sm2sig.Verify(otherPub, f.Report.Signed, f.Report.Signature); !errors.Is(err, sm2sig.ErrBadSignature) {
		t.Fatalf("replay under another truck's key: %v, want ErrBadSignature", err)
	}
	// A malformed signature fails, never panics.
	for _, sig := range [][]byte{nil, {0}, {33}, {1, 5}, {1, 5, 2, 1}} {
		if err := sm2sig.Verify(pub, f.Report.Signed, sig); !errors.Is(err, sm2sig.ErrBadSignature) {
			t.Errorf("signature % x: %v", sig, err)
		}
	}
}

func TestPublicKeyOffCurve(t *testing.T) {
	var b [64]byte
	b[63] = 1
	if _, err := sm2sig.PublicKey(b); !errors.Is(err, sm2sig.ErrBadKey) {
		t.Fatalf("off-curve key: %v", err)
	}
}

func TestActivationRoundTrip(t *testing.T) {
	k, _ := sm2sig.NewKey()
	v, _ := protocol.ParseVIN("LFWADRJF011002346")
	a := protocol.Activation{Time: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC), PublicKey: k.Public(), VIN: v}
	copy(a.ChipID[:], "CHIP000000000042")
	msg, _ := protocol.AppendActivationData(nil, a)
	sig, _ := k.Sign(msg)
	raw, err := protocol.AppendActivation(nil, protocol.Header{VIN: v}, a, sig)
	if err != nil {
		t.Fatal(err)
	}
	var f protocol.Frame
	if err := protocol.Decode(raw, &f); err != nil || f.Header.Command != protocol.CmdActivation {
		t.Fatalf("decode activation frame: %v", err)
	}
	got, err := protocol.DecodeActivation(f.Data)
	if err != nil || got.PublicKey != a.PublicKey || got.ChipID != a.ChipID || got.VIN != v || !got.Time.Equal(a.Time) {
		t.Fatalf("DecodeActivation = %+v, %v", got, err)
	}
	pub, err := sm2sig.PublicKey(got.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := sm2sig.Verify(pub, got.Signed, got.Signature); err != nil {
		t.Fatalf("activation self-signature: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	k, _ := sm2sig.NewKey()
	pubBytes := k.Public()
	pub, _ := sm2sig.PublicKey(pubBytes)
	msg := []byte("a data unit")
	sig, _ := k.Sign(msg)
	f.Add(msg, sig, pubBytes[:])
	f.Add([]byte{}, []byte{1, 1, 1, 1}, make([]byte, 64))
	f.Fuzz(func(t *testing.T, msg, sig, key []byte) {
		_ = sm2sig.Verify(pub, msg, sig) // must not panic
		if len(key) == 64 {
			if p, err := sm2sig.PublicKey([64]byte(key)); err == nil {
				_ = sm2sig.Verify(p, msg, sig)
			}
		}
	})
}

func FuzzDecodeActivation(f *testing.F) {
	k, _ := sm2sig.NewKey()
	v, _ := protocol.ParseVIN("LFWADRJF011002346")
	a := protocol.Activation{Time: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC), PublicKey: k.Public(), VIN: v}
	msg, _ := protocol.AppendActivationData(nil, a)
	sig, _ := k.Sign(msg)
	f.Add(append(msg, sig...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := protocol.DecodeActivation(data)
		if err == nil && len(a.Signed)+len(a.Signature) != len(data) {
			t.Fatalf("signed %d + signature %d != %d", len(a.Signed), len(a.Signature), len(data))
		}
	})
}

// BenchmarkVerifyReport is the cost of checking one real-size HJ 1239 report's signature
// (an OBD item and ten diesel samples), the key already parsed (the gateway parses it once per
// connection).
func BenchmarkVerifyReport(b *testing.B) {
	k, _ := sm2sig.NewKey()
	pub, _ := sm2sig.PublicKey(k.Public())
	f := decode(b, report(b, k, "LFWADRJF011002346"))
	b.ReportAllocs()
	for b.Loop() {
		if err := sm2sig.Verify(pub, f.Report.Signed, f.Report.Signature); err != nil {
			b.Fatal(err)
		}
	}
}
