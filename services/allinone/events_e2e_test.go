package allinone_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/testenv"
)

// buildTool builds a command of the module into dir and returns its path.
func buildTool(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = filepath.Join("..", "..")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// platformProc is the all-in-one binary running as a process of its own.
type platformProc struct {
	bin  string
	env  []string
	base string
	cmd  *exec.Cmd
	logs *syncBuffer
}

func (p *platformProc) start(t *testing.T) {
	t.Helper()
	p.logs = &syncBuffer{}
	p.cmd = exec.Command(p.bin, "run")
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		res, err := http.Get(p.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the platform was not ready within 120 s:\n%s", p.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kill stops the platform as a crash does: SIGKILL, nothing flushed.
func (p *platformProc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = p.cmd.Process.Wait()
}

// hookReceiver is a webhook receiver on a fixed loopback address that can be stopped and
// started again; it checks every delivery's signature as the Standard Webhooks
// specification says and keeps what it got, by webhook-id.
type hookReceiver struct {
	addr   string
	secret string
	srv    *http.Server
	mu     sync.Mutex
	got    map[string][]map[string]any // webhook-id -> bodies received
	bad    []string
}

func (r *hookReceiver) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve)}
	go func() { _ = r.srv.Serve(ln) }()
}

func (r *hookReceiver) stop() { _ = r.srv.Close() }

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts, sig := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	r.mu.Lock()
	defer r.mu.Unlock()
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.secret, "whsec_"))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	if sig != "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)) {
		r.bad = append(r.bad, id)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var b map[string]any
	if err := json.Unmarshal(body, &b); err != nil || b["id"] != id {
		r.bad = append(r.bad, id)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.got[id] = append(r.got[id], b)
	w.WriteHeader(http.StatusOK)
}

func (r *hookReceiver) ids() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for id, bs := range r.got {
		out[id] = len(bs)
	}
	return out
}

func (r *hookReceiver) ofType(typ string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, bs := range r.got {
		if bs[0]["type"] == typ {
			out = append(out, bs[0])
		}
	}
	return out
}

// find returns the first delivery of type typ that pred admits, or nil.
func (r *hookReceiver) find(typ string, pred func(map[string]any) bool) map[string]any {
	for _, b := range r.ofType(typ) {
		if pred(b) {
			return b
		}
	}
	return nil
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestEventsReachWebhooksEndToEnd runs the all-in-one binary against FerretDB and Redis,
// subscribes a webhook receiver, makes an OBD alarm fire, a sample fail and a permit be
// revoked, and checks each delivery's signature and payload; then it stops the receiver, makes
// more events, kills the platform with SIGKILL right after, starts it again and the receiver
// too, and sees every event delivered, once by id.
func TestEventsReachWebhooksEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the platform's binaries")
	}
	db := testenv.Mongo(t)
	_, prefix := testenv.Redis(t)
	dir := t.TempDir()
	bin := buildTool(t, dir, "./services/allinone/cmd/clearsky")
	sim := buildTool(t, dir, "./services/obd/cmd/obdsim")
	secret := "e2e-secret-e2e-secret-e2e-secret-e2e"
	keys, err := auth.NewKeys([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	token := func(role auth.Role, tenant string) string {
		s, err := keys.Issue(auth.Principal{Role: role, Tenant: tenant, OrgAdmin: true}, time.Now(), 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	httpAddr, obdAddr := freeAddr(t), freeAddr(t)
	p := &platformProc{bin: bin, base: "http://" + httpAddr, env: append(os.Environ(),
		"CLEARSKY_DATA_DIR="+filepath.Join(dir, "data"), "CLEARSKY_HTTP_ADDR="+httpAddr, "CLEARSKY_OBD_ADDR="+obdAddr,
		"MONGODB_URI="+testenv.MongoURI(t), "MONGODB_DATABASE="+db.Name(), "REDIS_URL="+testenv.RedisURL(t), "CLEARSKY_REDIS_PREFIX="+prefix,
		"CLEARSKY_JWT_SECRET="+secret, "LOG_LEVEL=warn", "CLEARSKY_NOTIFY_ALLOW_PRIVATE=true", "CLEARSKY_NOTIFY_EVERY=100ms",
		"CLEARSKY_NOTIFY_RETRY_MIN=200ms", "CLEARSKY_NOTIFY_RETRY_MAX=1s", "CLEARSKY_NOTIFY_RETRY_FOR=30m")}
	p.start(t)
	defer func() { p.kill(t) }()
	bureau, station := token(auth.Bureau, ""), token(auth.Station, "st-shuocheng-01")
	construction := token(auth.Construction, "zjj-shuocheng")

	rcv := &hookReceiver{addr: "127.0.0.1:0", got: map[string][]map[string]any{}}
	rcv.start(t)
	types := []string{string(events.OBDAlarmOpened), string(events.FuelSampleFailed), string(events.FuelCaseOpened), string(events.MuckPermitRevoked)}
	st, sub := call(t, p.base, "POST", "/v1/organisations/bureau/webhooks", bureau, map[string]any{"url": "http://" + rcv.addr + "/clearsky", "events": types})
	if st != 201 {
		t.Fatalf("subscribe: %d %v", st, sub)
	}
	rcv.secret = sub["secret"].(string)
	start := time.Now()

	// An OBD alarm: a simulated truck drives with its NOx far above the limit.
	out, err := exec.Command(sim, "-addr", obdAddr, "-api", p.base, "-token", bureau, "-register", "-trucks", "1", "-frames", "60",
		"-vin-prefix", "LSMTRKE2", "-profiles", "nox_high").CombinedOutput()
	if err != nil {
		t.Fatalf("obdsim: %v\n%s", err, out)
	}
	// A failing sample: sulfur five times the limit.
	failing := func(id string) map[string]any {
		return map[string]any{"sample_id": id, "site_id": "st-shuocheng-01", "product": "gasoline", "grade": "92",
			"sampled_at": time.Now().Add(-time.Hour).Format(time.RFC3339), "results": []map[string]any{{"parameter": "sulfur", "value": 50, "unit": "mg/kg"}}}
	}
	if st, b := call(t, p.base, "POST", "/v1/fuel/samples", station, failing("E2E-1")); st != 201 || b["verdict"] != "fail" {
		t.Fatalf("failing sample: %d %v", st, b)
	}
	// A permit revoked by its construction bureau.
	const permit = "fleet-shuozhou-logistics:pmt-demo-fd12345"
	if st, b := call(t, p.base, "POST", "/v1/muck/permits/"+permit+"/revoke", construction, map[string]any{"reason": "overloaded, end-to-end test"}); st != 200 {
		t.Fatalf("revoke: %d %v", st, b)
	}
	defer func() {
		if t.Failed() {
			cur, _ := db.Collection(events.Collection).Find(context.Background(), bson.D{})
			var docs []bson.M
			_ = cur.All(context.Background(), &docs)
			for _, d := range docs {
				t.Logf("stored event %v %v", d["type"], d["_id"])
			}
			for _, typ := range types {
				t.Logf("received %d %s", len(rcv.ofType(typ)), typ)
			}
			var dels []bson.M
			cur, _ = db.Collection("webhook_deliveries").Find(context.Background(), bson.D{})
			_ = cur.All(context.Background(), &dels)
			for _, d := range dels {
				t.Logf("delivery %v tries %v status %v err %v", d["event_type"], d["tries"], d["last_status"], d["last_error"])
			}
			t.Logf("platform output:\n%s", p.logs.String())
		}
	}()
	// The demo data's own events (its failing samples, its revocation) arrive too: the test's
	// are picked out by their records.
	var alarm, sample, revoked map[string]any
	waitFor(t, 60*time.Second, "the alarm, the sample, its case and the revocation delivered", func() bool {
		alarm = rcv.find("obd.alarm.opened", func(b map[string]any) bool { return strings.HasPrefix(b["subject"].(string), "LSMTRKE2") })
		sample = rcv.find("fuel.sample.failed", func(b map[string]any) bool { return b["subject"] == "st-shuocheng-01:E2E-1" })
		revoked = rcv.find("muck.permit.revoked", func(b map[string]any) bool { return b["subject"] == permit })
		c := rcv.find("fuel.case.opened", func(b map[string]any) bool { return b["subject"] == "nc-st-shuocheng-01:E2E-1" })
		return alarm != nil && sample != nil && revoked != nil && c != nil
	})
	// The NOx profile opens an NOx or an SCR-efficiency alarm first, as the rules find it.
	if kind, _ := alarm["data"].(map[string]any)["kind"].(string); !strings.HasPrefix(alarm["link"].(string), "/v1/obd/vehicles/LSMTRKE2") ||
		(kind != "nox_exceedance" && kind != "scr_efficiency_low") || !contains(alarm["organisations"], "fleet-sim") {
		t.Errorf("alarm payload %v", alarm)
	}
	if sample["link"] != "/v1/fuel/samples/st-shuocheng-01:E2E-1" || !contains(sample["organisations"], "st-shuocheng-01") {
		t.Errorf("sample payload %v", sample)
	}
	if revoked["link"] != "/v1/muck/permits/"+permit || revoked["data"].(map[string]any)["reason"] != "overloaded, end-to-end test" ||
		!contains(revoked["organisations"], "fleet-shuozhou-logistics") || !contains(revoked["organisations"], "zjj-shuocheng") {
		t.Errorf("revocation payload %v", revoked)
	}
	for _, b := range []map[string]any{alarm, sample, revoked} {
		if ts, _ := b["time"].(string); !strings.HasSuffix(ts, "+08:00") {
			t.Errorf("event time %q is not in China time", ts)
		}
	}

	// The receiver goes away; more events happen; the platform dies hard right after.
	rcv.stop()
	for i := 2; i <= 4; i++ {
		if st, b := call(t, p.base, "POST", "/v1/fuel/samples", station, failing(fmt.Sprintf("E2E-%d", i))); st != 201 {
			t.Fatalf("failing sample %d: %d %v", i, st, b)
		}
	}
	time.Sleep(1500 * time.Millisecond) // some events stored, some fanned out, some still in their owners' outbox
	p.kill(t)
	rcv.start(t)
	p.start(t)

	want := map[string]bool{}
	waitFor(t, 90*time.Second, "every event of the subscribed types delivered", func() bool {
		cur, err := db.Collection(events.Collection).Find(context.Background(), bson.D{{Key: "type", Value: bson.D{{Key: "$in", Value: types}}}})
		if err != nil {
			t.Fatal(err)
		}
		var docs []events.Doc
		if err := cur.All(context.Background(), &docs); err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			if strings.Contains(d.Subject, "E2E-") || strings.HasPrefix(d.Subject, "LSMTRKE2") || (d.Subject == permit && !d.Time.Before(start)) {
				want[d.ID] = true
			}
		}
		got := rcv.ids()
		n := 0
		for id := range want {
			if got[id] > 0 {
				n++
			}
		}
		return len(want) >= 10 && n == len(want) // the alarm(s), 4 samples and their 4 cases, the revocation
	})
	got := rcv.ids()
	dups := 0
	for id := range want {
		dups += got[id] - 1
	}
	if len(rcv.bad) > 0 {
		t.Errorf("deliveries with bad signatures or bodies: %v", rcv.bad)
	}
	t.Logf("%d events delivered, %d duplicate deliveries (allowed by at-least-once, detectable by webhook-id)", len(want), dups)
	for i := 1; i <= 4; i++ {
		id := fmt.Sprintf("st-shuocheng-01:E2E-%d", i)
		if rcv.find("fuel.sample.failed", func(b map[string]any) bool { return b["subject"] == id }) == nil {
			t.Errorf("failed sample %s not delivered", id)
		}
	}
}

func contains(list any, s string) bool {
	l, _ := list.([]any)
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
