package obd_test

import (
	"context"
	"encoding/hex"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/services/obd"
	"github.com/clearsky/clearsky/services/obd/internal/protocol"
	"github.com/clearsky/clearsky/services/obd/internal/sm2sig"
	"github.com/clearsky/clearsky/services/registry"
)

// newRegistryEnv is the OBD service against a real registry (its own HTTP server on the same
// MongoDB and Redis), with two trucks registered and their terminals bound.
func newRegistryEnv(t *testing.T, layout protocol.Layout) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rdb, prefix := testenv.Redis(t)
	deps := testenv.Platform(t, obd.Name, testenv.Mongo(t), rdb, prefix)
	regDeps := deps
	regDeps.Metrics = prometheus.NewRegistry() // its own HTTP metrics, beside the OBD service's
	reg, err := registry.New(ctx, registry.Config{RepublishEvery: 50 * time.Millisecond}, regDeps)
	if err != nil {
		t.Fatal(err)
	}
	regEngine := platform.Engine(registry.Name, regDeps)
	reg.Routes(regEngine)
	regSrv := httptest.NewServer(regEngine)
	deps.Vehicles = platform.NewVehicles("obd-test", regSrv.URL, nil, deps)
	svc, err := obd.New(ctx, obd.Config{Gateway: obd.GatewayConfig{Addr: "127.0.0.1:0", Layout: layout}}, deps)
	if err != nil {
		t.Fatal(err)
	}
	engine := platform.Engine(obd.Name, deps)
	svc.Routes(engine)
	srv := httptest.NewServer(engine)
	done := make(chan struct{}, 2)
	go func() { svc.Run(ctx); done <- struct{}{} }()
	go func() { reg.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done; srv.Close(); regSrv.Close() })
	e := &env{t: t, srv: srv, svc: svc, deps: deps, keys: deps.Keys}
	bureau := e.token(auth.Bureau, "")
	for i := range 2 {
		e.registry(regSrv.URL, "POST", "/v1/vehicles", bureau, map[string]any{"vin": vinOf(t, i), "plate": plateOf(i), "plate_colour": "yellow",
			"fuel_type": "diesel", "emission_standard": "VIb", "category": "N3", "use": "operating", "service_class": "freight", "maker": "FAW",
			"registered_on": "2025-03-01", "gross_mass_kg": 31000, "fleet_id": "fleet-1"}, 201)
		e.registry(regSrv.URL, "PUT", "/v1/vehicles/"+vinOf(t, i)+"/terminal", bureau, map[string]any{"iccid": iccidOf(i)}, 200)
	}
	e.regURL = regSrv.URL
	return e
}

func (e *env) registry(base, method, path, token string, body any, want int) map[string]any {
	e.t.Helper()
	srv := e.srv
	e.srv = &httptest.Server{URL: base}
	code, b := e.do(method, path, token, body)
	e.srv = srv
	if code != want {
		e.t.Fatalf("%s %s = %d %v, want %d", method, path, code, b, want)
	}
	return b
}

// terminal is a TCP connection speaking the national protocol as truck vin.
type terminal struct {
	t    *testing.T
	conn net.Conn
	r    *protocol.Reader
	vin  protocol.VIN
}

func (e *env) dial(i int) *terminal {
	e.t.Helper()
	c, err := net.Dial("tcp", e.svc.GatewayAddr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	v, _ := protocol.ParseVIN(vinOf(e.t, i))
	return &terminal{t: e.t, conn: c, r: protocol.NewReader(c, 8192), vin: v}
}

func (tm *terminal) send(b []byte, err error) {
	tm.t.Helper()
	if err != nil {
		tm.t.Fatal(err)
	}
	if _, err := tm.conn.Write(b); err != nil {
		tm.t.Fatal(err)
	}
}

func (tm *terminal) header() protocol.Header {
	return protocol.Header{VIN: tm.vin, Encryption: protocol.EncNone}
}

func (tm *terminal) login(iccid string) {
	l := protocol.Login{Time: time.Now(), Serial: 1}
	copy(l.ICCID[:], iccid)
	tm.send(protocol.AppendLogin(nil, tm.header(), l))
}

// activate sends an activation signed by k and returns the platform's reply.
func (tm *terminal) activate(k *sm2sig.Key, chip string) (protocol.ActivationResult, byte) {
	tm.t.Helper()
	a := protocol.Activation{Time: time.Now(), PublicKey: k.Public(), VIN: tm.vin}
	copy(a.ChipID[:], chip)
	msg, _ := protocol.AppendActivationData(nil, a)
	sig, err := k.Sign(msg)
	if err != nil {
		tm.t.Fatal(err)
	}
	tm.send(protocol.AppendActivation(nil, tm.header(), a, sig))
	_ = tm.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	raw, err := tm.r.Next()
	if err != nil {
		tm.t.Fatalf("no activation reply: %v", err)
	}
	var f protocol.Frame
	if err := protocol.Decode(raw, &f); err != nil || f.Header.Command != protocol.CmdActivationReply {
		tm.t.Fatalf("activation reply %v: %v", f.Header.Command, err)
	}
	res, reason, err := protocol.DecodeActivationReply(f.Data)
	if err != nil {
		tm.t.Fatal(err)
	}
	return res, reason
}

// report is an HJ 1239 report of ten clean samples from at, signed by k (nil: unsigned).
func (tm *terminal) report(k *sm2sig.Key, at time.Time, serial uint16) []byte {
	tm.t.Helper()
	r := protocol.Report{Layout: protocol.LayoutHJ1239, Time: at.Add(10 * time.Second), Serial: serial,
		Items: []protocol.Item{{Type: protocol.ItemOBD, Time: at, OBD: protocol.OBDInfo{Protocol: 2, VIN: [17]byte(tm.vin)}}}}
	for i := range 10 {
		r.Items = append(r.Items, protocol.Item{Type: protocol.ItemDiesel, Time: at.Add(time.Duration(i) * time.Second),
			Diesel: protocol.DieselStream{Speed: 40 * 256, EngineSpeed: 1100 * 8, NetTorque: 170, FrictionTorque: 133, NOxUpstream: 900 * 20,
				NOxDownstream: 260 * 20, Reagent: 150, AtmosphericPressure: 180, CoolantTemp: 128, FuelLevel: 175}})
	}
	var b []byte
	var err error
	if k == nil {
		b, err = protocol.AppendReport(nil, tm.header(), &r)
	} else {
		b, err = protocol.AppendSignedReport(nil, tm.header(), &r, k.Sign)
	}
	if err != nil {
		tm.t.Fatal(err)
	}
	return b
}

// mendBCC recomputes frame b's BCC, as a forger who changed it would.
func mendBCC(b []byte) []byte {
	var x byte
	for _, c := range b[2 : len(b)-1] {
		x ^= c
	}
	b[len(b)-1] = x
	return b
}

func (e *env) waitRejected(reason string, want float64) {
	e.t.Helper()
	c := e.svc.RejectedFrames().WithLabelValues(reason)
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(c) < want; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("rejected %s = %v, want %v", reason, testutil.ToFloat64(c), want)
		}
	}
}

// TestForgedRemovalAlarmIsMarkedUnsigned: anyone who knows a truck's VIN and SIM ICCID can log
// in as its terminal. A removal alarm sent so (GB 17691 data, which this deployment accepts)
// still opens the alarm, but marked unsigned, which the checkpoint's reason repeats.
func TestForgedRemovalAlarmIsMarkedUnsigned(t *testing.T) {
	e := newRegistryEnv(t, protocol.LayoutGB17691)
	forger := e.dial(0)
	forger.login(iccidOf(0))
	forger.send(protocol.AppendTamperAlarm(nil, forger.header(), protocol.Tamper{Time: time.Now().Add(-time.Second), Serial: 1}))
	police := e.token(auth.Police, "")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, body := e.do("GET", "/v1/obd/status?plate="+plateOf(0)+"&colour=yellow", police, nil)
		alarms, _ := body["open_alarms"].([]any)
		if code == 200 && len(alarms) > 0 {
			a := alarms[0].(map[string]any)
			if a["kind"] != "tamper_removal_alarm" || a["unsigned"] != true {
				t.Fatalf("alarm from a forged login = %v, want a removal alarm marked unsigned", a)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alarm: %d %v", code, body)
		}
	}
}

// TestActivationAndSignedTelemetry: in the HJ 1239 layout a terminal activates with its chip's
// SM2 key, which the registry then holds; its reports verify against that key. A tampered byte,
// a frame replayed under another truck, an unsigned report or a removal alarm from a forged login
// of an activated truck are rejected and counted; a second chip cannot take over a VIN.
func TestActivationAndSignedTelemetry(t *testing.T) {
	e := newRegistryEnv(t, protocol.LayoutHJ1239)
	keyA, _ := sm2sig.NewKey()
	keyB, _ := sm2sig.NewKey()
	intruder, _ := sm2sig.NewKey()

	a := e.dial(0)
	if res, reason := a.activate(keyA, "CHIPA00000000001"); res != protocol.ActivationOK {
		t.Fatalf("activation of truck 0 = %v %v, want ok", res, reason)
	}
	if res, _ := a.activate(keyA, "CHIPA00000000001"); res != protocol.ActivationOK {
		t.Fatalf("the same activation again = %v, want ok (idempotent)", res)
	}
	if res, reason := a.activate(intruder, "CHIPX00000000009"); res != protocol.ActivationRefused || reason != protocol.RefusedAlreadyFiled {
		t.Fatalf("another chip for truck 0 = %v %v, want refused: already filed", res, reason)
	}
	bad, _ := sm2sig.NewKey()
	tm := e.dial(1)
	act := protocol.Activation{Time: time.Now(), PublicKey: bad.Public(), VIN: tm.vin}
	msg, _ := protocol.AppendActivationData(nil, act)
	sig, _ := intruder.Sign(msg) // signed with a key other than the one it files
	tm.send(protocol.AppendActivation(nil, tm.header(), act, sig))
	e.waitRejected("bad_signature", 1)

	bureau := e.token(auth.Bureau, "")
	v := e.registry(e.regURL, "GET", "/v1/vehicles/"+vinOf(t, 0), bureau, nil, 200)
	pub := keyA.Public()
	if term, _ := v["terminal"].(map[string]any); term == nil || term["public_key"] != hex.EncodeToString(pub[:]) {
		t.Fatalf("registry's terminal of truck 0 = %v, want the activated key", v["terminal"])
	}
	fleet := e.token(auth.Fleet, "fleet-1")
	e.registry(e.regURL, "PUT", "/v1/vehicles/"+vinOf(t, 0)+"/terminal/key", fleet,
		map[string]any{"chip_id": "X", "public_key": strings.Repeat("0", 128)}, 403)

	b := e.dial(1)
	if res, _ := b.activate(keyB, "CHIPB00000000002"); res != protocol.ActivationOK {
		t.Fatal("activation of truck 1 refused")
	}
	// The registry's part carries the key once published; log in after it is there.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if v, err := e.deps.Vehicles.ByVIN(context.Background(), vinOf(t, 1)); err == nil && v.TerminalKey != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("truck 1's key never reached its registry part")
		}
	}
	a.login(iccidOf(0))
	b.login(iccidOf(1))
	at := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	good := a.report(keyA, at, 1)
	a.send(good, nil)
	tampered := append([]byte(nil), good...)
	tampered[60] ^= 0x01
	a.send(mendBCC(tampered), nil)
	e.waitRejected("bad_signature", 2)
	replay := a.report(keyA, at.Add(10*time.Second), 2)
	copy(replay[3:20], b.vin[:]) // truck 0's signed frame sent as truck 1's
	b.send(mendBCC(replay), nil)
	e.waitRejected("bad_signature", 3)

	forger := e.dial(0)
	forger.login(iccidOf(0))
	forger.send(forger.report(nil, at.Add(20*time.Second), 3), nil)
	e.waitRejected("signature_missing", 1)
	forger.send(protocol.AppendTamperAlarm(nil, forger.header(), protocol.Tamper{Time: time.Now(), Serial: 4}))
	e.waitRejected("unproven_session", 1)

	// The good frame was stored, signed; nothing else was.
	frames := e.deps.DB.Collection("obd_frames")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n, _ := frames.CountDocuments(context.Background(), bson.D{{Key: "vin", Value: vinOf(t, 0)}, {Key: "signed", Value: true}})
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d signed frames of truck 0 stored, want 1", n)
		}
	}
	if n, _ := frames.CountDocuments(context.Background(), bson.D{}); n != 1 {
		t.Fatalf("%d frames stored, want only the good one", n)
	}
}
