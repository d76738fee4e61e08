package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository: this package is tools/stack.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestComposeMapping: every ClearSky service's compose environment maps to the stack with only
// hosts and ports changed, and the edge's configuration is rewritten, not copied.
func TestComposeMapping(t *testing.T) {
	ctx := context.Background()
	p, err := LoadCompose(ctx, repoRoot(t), map[string]string{"CLEARSKY_JWT_SECRET": strings.Repeat("k", 32)})
	if err != nil {
		t.Fatal(err)
	}
	st := &Stack{project: p, addrs: Addrs{}}
	if err := st.allocate(); err != nil {
		t.Fatal(err)
	}
	for _, name := range ClearSkyServices(p) {
		env, err := st.ServiceEnv(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(env) != len(p.Services[name].Environment) {
			t.Errorf("%s: %d variables in the stack, %d in docker-compose.yml", name, len(env), len(p.Services[name].Environment))
		}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			orig := *p.Services[name].Environment[k]
			for host := range p.Services {
				if strings.Contains(v, "://"+host+":") || strings.Contains(v, "://"+host+"/") {
					t.Errorf("%s: %s=%s still names the compose host %s", name, k, v, host)
				}
			}
			if strings.HasPrefix(orig, ":") && !strings.HasPrefix(v, "127.0.0.1:") {
				t.Errorf("%s: %s=%s: a listen address must be on loopback", name, k, v)
			}
			if !strings.Contains(orig, "://") && !strings.HasPrefix(orig, ":") && v != orig {
				t.Errorf("%s: %s=%q became %q: only hosts and ports may change", name, k, orig, v)
			}
			if k == "MONGODB_URI" && strings.Contains(v, "replicaSet") {
				t.Errorf("%s: %s=%s: FerretDB announces no replica set", name, k, v)
			}
		}
	}
	if _, err := st.addrs.MapValue(p, "checkpoint", "http://jaeger:4317"); err == nil {
		t.Error("a URL to a compose port the stack does not run mapped without an error")
	}
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "edge", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := st.addrs.EdgeServer(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(conf, "http://registry:") || !strings.Contains(conf, "proxy_pass http://"+st.Addr("registry", 8080)+";") ||
		!strings.Contains(conf, "listen "+st.Addr("edge", 8080)+";") {
		t.Errorf("the edge's configuration was not rewritten for the stack:\n%s", conf)
	}
	if _, err := st.addrs.EdgeServer(string(b) + "\nlocation /x { proxy_pass http://nowhere:8080; }\n"); err == nil {
		t.Error("an edge route to a service the stack does not run was rewritten without an error")
	}
}

// client talks to the stack as a user would: through the edge, with a bearer token.
type client struct {
	t    *testing.T
	base string
}

func (c client) do(method, path, token string, body any, header map[string]string) (int, map[string]any) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	hc := http.Client{Timeout: 10 * time.Second}
	res, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	if out == nil {
		out = map[string]any{"raw": string(b)}
	}
	return res.StatusCode, out
}

// lookup is one checkpoint verdict through the edge.
func (c client) lookup(token, plate string, header map[string]string) map[string]any {
	c.t.Helper()
	code, body := c.do("GET", "/v1/checkpoint/"+url.PathEscape(plate)+"?colour=yellow", token, nil, header)
	if code != 200 {
		c.t.Fatalf("lookup %s: %d %v", plate, code, body)
	}
	return body
}

// partState is the state the answer gives a part (registry, obd, ...).
func partState(answer map[string]any, part string) string {
	parts, _ := answer["parts"].([]any)
	for _, p := range parts {
		m, _ := p.(map[string]any)
		if m["part"] == part {
			s, _ := m["state"].(string)
			return s
		}
	}
	return ""
}

// reasonFrom reports whether the answer has a reason from source.
func reasonFrom(answer map[string]any, source string) bool {
	rs, _ := answer["reasons"].([]any)
	for _, r := range rs {
		if m, _ := r.(map[string]any); m["source"] == source {
			return true
		}
	}
	return false
}

// eventually retries f every 200 ms until it returns "" or timeout passes; the last message fails.
func eventually(t *testing.T, timeout time.Duration, f func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestStack runs the deployed topology (every service its own process, the edge, Redis, FerretDB
// on PostgreSQL, Jaeger) and drives it as the README does, then breaks it: the registry killed
// and restarted, Redis stopped. scripts/stack test runs it with the tools it needs.
func TestStack(t *testing.T) {
	jaeger := os.Getenv("CLEARSKY_JAEGER")
	if jaeger == "" {
		if os.Getenv("CLEARSKY_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("CLEARSKY_JAEGER is unset but CLEARSKY_REQUIRE_INTEGRATION=1: run scripts/stack test")
		}
		t.Skip("CLEARSKY_JAEGER is unset: run scripts/stack test")
	}
	pg := os.Getenv("CLEARSKY_STACK_POSTGRES")
	if pg == "" {
		pg = "postgres://postgres@127.0.0.1:5432/postgres"
	}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	work := t.TempDir()
	st, err := Start(ctx, Config{Root: repoRoot(t), Work: work, Jaeger: jaeger, Postgres: pg, Database: "clearsky_stack_test",
		Env: map[string]string{}, Extra: []string{"./services/obd/cmd/obdsim"}, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Stop()
		if err := st.DropDatabase(context.Background()); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(work, "logs", "*.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				t.Logf("%s (last lines):\n%s", filepath.Base(l), strings.Join(lines[max(0, len(lines)-8):], "\n"))
			}
		}
	})
	t.Logf("stack up in %s", time.Since(t0).Round(100*time.Millisecond))
	token := func(role, tenant, subject string) string {
		tok, err := st.Token(ctx, role, tenant, subject)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	fleet, bureau := token("fleet", "fleet-shuozhou-logistics", ""), token("bureau", "", "")
	// An officer per step: the retries below must not reach the checkpoint's rate limit
	// (CLEARSKY_CHECKPOINT_RATE lookups per officer a minute).
	police := token("police", "", "officer-readme")
	edge := client{t: t, base: st.URL("edge")}

	// The README's flow, through the edge.
	const vin, plate = "LFWADRJF011002346", "晋F77777"
	if code, b := edge.do("POST", "/v1/vehicles", fleet, map[string]any{"vin": vin, "plate": plate, "plate_colour": "yellow",
		"fuel_type": "diesel", "emission_standard": "VIb", "category": "N3", "use": "operating", "service_class": "freight",
		"maker": "FAW Jiefang", "registered_on": "2026-03-01", "gross_mass_kg": 31000}, nil); code != 201 {
		t.Fatalf("register the truck: %d %v", code, b)
	}
	if code, b := edge.do("PUT", "/v1/vehicles/"+vin+"/terminal", fleet, map[string]any{"iccid": "89860012345678909999"}, nil); code != 200 {
		t.Fatalf("bind its terminal: %d %v", code, b)
	}
	sim := exec.CommandContext(ctx, filepath.Join(st.Bin(), "obdsim"), "-addr", st.Addr("obd", 7700), "-api", st.URL("edge"),
		"-token", bureau, "-register", "-trucks", "2", "-frames", "40")
	if out, err := sim.CombinedOutput(); err != nil {
		t.Fatalf("obdsim to the OBD gateway at %s: %v\n%s", st.Addr("obd", 7700), err, out)
	}
	eventually(t, 30*time.Second, func() string {
		code, b := edge.do("GET", "/v1/obd/vehicles/LSMTRKAB000000001/alarms?state=open", bureau, nil, nil)
		if items, _ := b["items"].([]any); code != 200 || len(items) == 0 {
			return fmt.Sprintf("the first simulated truck has no open alarm: %d %v", code, b)
		}
		return ""
	})
	eventually(t, 30*time.Second, func() string {
		a := edge.lookup(police, "晋S00001", nil)
		if a["verdict"] == "pass" || !reasonFrom(a, "obd") {
			return fmt.Sprintf("晋S00001 (NOx far above the limit) = %v, want inspect or stop for an OBD reason", a)
		}
		return ""
	})
	clean := edge.lookup(police, plate, nil)
	if clean["verdict"] != "pass" {
		t.Fatalf("%s (registered, nothing against it) = %v, want pass", plate, clean)
	}

	// The registry killed: a plate whose registry part Redis does not hold (evicted, or Redis
	// restarted empty) is answered with that part unknown, never pass, and the checkpoint stays ready.
	police = token("police", "", "officer-registry-down")
	if err := st.Kill("registry"); err != nil {
		t.Fatal(err)
	}
	rds := st.Addr("redis", 6379)
	forget := func() {
		for _, cmd := range [][]string{
			{"DEL", "cs:{" + plate + ":yellow}:registry", "cs:{" + plate + ":yellow}:registry_unknown", "cs:registry:synced:v2"},
			{"PUBLISH", "cs:parts:changed", plate + ":yellow"}, // the checkpoint's near cache drops it
		} {
			if line, err := RedisCommand(rds, cmd...); err != nil || strings.HasPrefix(line, "-") {
				t.Fatalf("redis %v: %q %v", cmd, line, err)
			}
		}
	}
	eventually(t, 10*time.Second, func() string {
		// Again each time: the checkpoint sees the registry's synced marker gone within a second,
		// and until then takes a plate Redis lacks for one the registry does not know.
		forget()
		a := edge.lookup(police, plate, nil)
		if partState(a, "registry") != "unknown" {
			return fmt.Sprintf("with the registry down and its part not in Redis, %s = %v, want the registry part unknown", plate, a)
		}
		if a["verdict"] == "pass" {
			return fmt.Sprintf("%s passed with its registry part unknown: %v", plate, a)
		}
		return ""
	})
	checkReady(t, st, "checkpoint", "ready")
	if err := st.Restart("registry"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() string {
		if a := edge.lookup(police, plate, nil); a["verdict"] != "pass" || partState(a, "registry") == "unknown" {
			return fmt.Sprintf("with the registry back, %s = %v, want pass again", plate, a)
		}
		return ""
	})

	// Redis stopped: every service that uses it says degraded and keeps answering; one lookup's
	// trace (the owners asked, as Redis cannot answer) is in Jaeger.
	police = token("police", "", "officer-redis-down")
	if err := st.Kill("redis"); err != nil {
		t.Fatal(err)
	}
	for _, name := range st.Services() {
		env, _ := st.ServiceEnv(name)
		want := "ready"
		if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "REDIS_URL=") }) {
			want = "degraded"
		}
		checkReady(t, st, name, want)
	}
	for _, r := range []struct{ path, token string }{
		{"/v1/vehicles", fleet}, {"/v1/obd/alarms?state=open", bureau}, {"/v1/muck/sites", bureau},
		{"/v1/fuel/sites", bureau}, {"/v1/remote-sensing/stations", bureau}, {"/.well-known/jwks.json", ""}, {"/", ""},
	} {
		if code, b := edge.do("GET", r.path, r.token, nil, nil); code != 200 {
			t.Errorf("with Redis down, GET %s = %d %v", r.path, code, b)
		}
	}
	traceID := randomHex(16)
	down := edge.lookup(police, plate, map[string]string{"traceparent": "00-" + traceID + "-" + randomHex(8) + "-01"})
	if down["verdict"] != "pass" {
		t.Errorf("with Redis down, %s = %v, want pass (every part from its owner)", plate, down)
	}
	want := []string{"clearsky-checkpoint", "clearsky-registry", "clearsky-muck"}
	eventually(t, 20*time.Second, func() string {
		got, err := traceServices(st.URL("jaeger"), traceID)
		if err != nil {
			return err.Error()
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				return fmt.Sprintf("trace %s in Jaeger has spans of %v, want at least %v", traceID, got, want)
			}
		}
		return ""
	})
	if err := st.Restart("redis"); err != nil {
		t.Fatal(err)
	}
	for _, name := range st.Services() {
		checkReadyWithin(t, st, name, "ready", 15*time.Second)
	}
	t.Logf("stack test done in %s", time.Since(t0).Round(100*time.Millisecond))
}

// checkReady: service's /readyz answers 200 with status want, within 10 s.
func checkReady(t *testing.T, st *Stack, service, want string) {
	t.Helper()
	checkReadyWithin(t, st, service, want, 10*time.Second)
}

func checkReadyWithin(t *testing.T, st *Stack, service, want string, within time.Duration) {
	t.Helper()
	c := client{t: t, base: st.URL(service)}
	eventually(t, within, func() string {
		code, b := c.do("GET", "/readyz", "", nil, nil)
		if code != 200 || b["status"] != want {
			return fmt.Sprintf("%s /readyz = %d %v, want 200 %s", service, code, b, want)
		}
		return ""
	})
}

// traceServices fetches a trace from Jaeger's query API and lists the services of its spans.
func traceServices(jaeger, id string) ([]string, error) {
	hc := http.Client{Timeout: 5 * time.Second}
	res, err := hc.Get(jaeger + "/api/traces/" + id)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var body struct {
		Data []struct {
			Spans []struct {
				ProcessID string `json:"processID"`
			} `json:"spans"`
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
			} `json:"processes"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("jaeger /api/traces/%s: %d: %w", id, res.StatusCode, err)
	}
	var out []string
	for _, tr := range body.Data {
		for _, s := range tr.Spans {
			if n := tr.Processes[s.ProcessID].ServiceName; !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testLog writes the stack's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
