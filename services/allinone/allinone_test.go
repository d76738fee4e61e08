package allinone_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/allinone"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// start runs the all-in-one on dir until the returned stop is called.
func start(t *testing.T, dir string) (base string, out *syncBuffer, stop func()) {
	t.Helper()
	return startLogging(t, dir, io.Discard)
}

// startLogging is start with the JSON logs going to logs; stop stops it as SIGTERM does.
func startLogging(t *testing.T, dir string, logs io.Writer) (base string, out *syncBuffer, stop func()) {
	t.Helper()
	addr := freeAddr(t)
	cfg := allinone.Config{Config: platform.Config{HTTPAddr: addr, MongoDatabase: "clearsky", RedisPrefix: "cs:", Version: "test"}, DataDir: dir, OBDAddr: "127.0.0.1:0", LogOutput: logs}
	ctx, cancelCause := context.WithCancelCause(context.Background())
	cancel := func() { cancelCause(errors.New("terminated signal received")) }
	out = &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- allinone.Run(ctx, cfg, out) }()
	base = "http://" + addr
	deadline := time.Now().Add(90 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("all-in-one stopped before it was ready: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("all-in-one not ready within 90 s\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return base, out, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("all-in-one stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("all-in-one did not stop within 30 s")
		}
	}
}

func get(t *testing.T, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

// TestStartsFromNothing starts the all-in-one on an empty data directory with no MongoDB and no
// Redis configured, checks that the demo data is served, restarts it and checks that the demo
// data is not loaded twice and survived.
func TestStartsFromNothing(t *testing.T) {
	dir := t.TempDir()
	base, out, stop := start(t, dir)
	if !strings.Contains(out.String(), "loading demo data") || !strings.Contains(out.String(), "ClearSky is running") ||
		!strings.Contains(out.String(), "Listening on this machine only") || !strings.Contains(out.String(), "CLEARSKY_HTTP_ADDR=:8080") {
		t.Fatalf("first start output lacks the demo load or the banner:\n%s", out.String())
	}
	secret, err := allinone.Secret(allinone.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := auth.NewKeys(secret)
	police, _ := keys.Issue(auth.Principal{Role: auth.Police}, time.Now(), time.Hour)
	void := fmt.Sprintf("%s/v1/registry/status?plate=%s&colour=yellow", base, url.QueryEscape("晋F89012"))
	code, body := get(t, void, police)
	if code != 200 || body["status"] != "plate_void" {
		t.Fatalf("demo void plate = %d %v", code, body)
	}
	fleet, _ := keys.Issue(auth.Principal{Role: auth.Fleet, Tenant: "fleet-shuozhou-logistics"}, time.Now(), time.Hour)
	code, body = get(t, base+"/v1/vehicles", fleet)
	if code != 200 || len(body["items"].([]any)) != 6 {
		t.Fatalf("demo fleet vehicles = %d %v, want 6", code, body)
	}
	// The first start made the bureau's administrator; its one-time password is in the banner,
	// and signing in with it asks for a new one. The JWKS is served at the same address.
	m := regexp.MustCompile(`administrator is "admin" with the one-time password\n  (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the first start's banner has no one-time password:\n%s", out.String())
	}
	res, err := http.Post(base+"/v1/auth/sessions", "application/json", strings.NewReader(fmt.Sprintf(`{"username":"admin","password":%q}`, m[1])))
	if err != nil {
		t.Fatal(err)
	}
	var me map[string]any
	_ = json.NewDecoder(res.Body).Decode(&me)
	res.Body.Close()
	if req, _ := me["required"].([]any); res.StatusCode != 201 || len(req) == 0 || req[0] != "change_password" {
		t.Fatalf("sign in with the one-time password: %d %v", res.StatusCode, me)
	}
	// A demo person per role: its password is in the banner, needs no change, and its session
	// gives an access token the other services take.
	dm := regexp.MustCompile(`police:\s+demo-police\s+(\S+)`).FindStringSubmatch(out.String())
	if dm == nil {
		t.Fatalf("the first start's banner has no demo police officer:\n%s", out.String())
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	res, err = hc.Post(base+"/v1/auth/sessions", "application/json", strings.NewReader(fmt.Sprintf(`{"username":"demo-police","password":%q}`, dm[1])))
	if err != nil {
		t.Fatal(err)
	}
	me = nil
	_ = json.NewDecoder(res.Body).Decode(&me)
	res.Body.Close()
	if req, _ := me["required"].([]any); res.StatusCode != 201 || len(req) != 0 {
		t.Fatalf("demo police sign-in: %d %v", res.StatusCode, me)
	}
	treq, _ := http.NewRequest("POST", base+"/v1/auth/token", nil)
	treq.Header.Set("X-CSRF-Token", fmt.Sprint(me["csrf_token"]))
	res, err = hc.Do(treq)
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	access, _ := tok["access_token"].(string)
	if res.StatusCode != 200 || access == "" {
		t.Fatalf("demo police token: %d %v", res.StatusCode, tok)
	}
	if code, body := get(t, void, access); code != 200 || body["status"] != "plate_void" {
		t.Fatalf("the demo officer's access token at the registry: %d %v", code, body)
	}
	res, err = http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set map[string]any
	_ = json.NewDecoder(res.Body).Decode(&set)
	res.Body.Close()
	if keys, _ := set["keys"].([]any); res.StatusCode != 200 || len(keys) == 0 {
		t.Fatalf("JWKS at the all-in-one: %d %v", res.StatusCode, set)
	}
	stop()

	firstBase := base
	base, out, stop = start(t, dir)
	defer stop()
	if strings.Contains(out.String(), "loading demo data") || strings.Contains(out.String(), "one-time password") {
		t.Fatalf("second start loaded the demo data or made an administrator again:\n%s", out.String())
	}
	code, body = get(t, base+"/v1/vehicles", fleet)
	if code != 200 || len(body["items"].([]any)) != 6 {
		t.Fatalf("after restart fleet vehicles = %d %v, want 6", code, body)
	}
	// The restarted in-process Redis is empty: the registry rebuilds it from MongoDB.
	code, body = get(t, strings.Replace(void, firstBase, base, 1), police)
	if code != 200 || body["status"] != "plate_void" {
		t.Fatalf("after restart void plate = %d %v", code, body)
	}
}

// TestOneProcessPerDataDir: a second all-in-one on a data dir in use refuses to start, naming
// the PID that holds it; once the first stops, the data dir is free again.
func TestOneProcessPerDataDir(t *testing.T) {
	dir := t.TempDir()
	_, _, stop := start(t, dir)
	cfg := allinone.Config{Config: platform.Config{HTTPAddr: freeAddr(t), MongoDatabase: "clearsky", RedisPrefix: "cs:", Version: "test"},
		DataDir: dir, OBDAddr: "127.0.0.1:0", LogOutput: io.Discard}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := allinone.Run(ctx, cfg, &out)
	if !errors.Is(err, allinone.ErrDataDirInUse) || !strings.Contains(err.Error(), fmt.Sprintf("PID %d", os.Getpid())) {
		t.Fatalf("second start on a data dir in use = %v\n%s\nwant a refusal naming PID %d", err, out.String(), os.Getpid())
	}
	if pid, held := allinone.LockHolder(dir); !held || pid != os.Getpid() {
		t.Fatalf("LockHolder = %d %v while the first runs", pid, held)
	}
	stop()
	if _, held := allinone.LockHolder(dir); held {
		t.Fatal("the data dir is still locked after the all-in-one stopped")
	}
	release, err := allinone.LockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after stop: %v", err)
	}
	release()
}

// TestLocalByDefault: unset, the all-in-one listens on loopback only (the banner prints sign-in
// tokens) and says how to open it; the addresses given are kept.
func TestLocalByDefault(t *testing.T) {
	c, err := allinone.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.OBDAddr != "127.0.0.1:7700" {
		t.Fatalf("default addresses %s, %s; want 127.0.0.1:8080, 127.0.0.1:7700", c.HTTPAddr, c.OBDAddr)
	}
	env := map[string]string{"CLEARSKY_HTTP_ADDR": ":9090", "CLEARSKY_OBD_ADDR": "0.0.0.0:7701"}
	c, err = allinone.FromEnv(func(k string) string { return env[k] })
	if err != nil || c.HTTPAddr != ":9090" || c.OBDAddr != "0.0.0.0:7701" {
		t.Fatalf("given addresses = %s, %s, %v", c.HTTPAddr, c.OBDAddr, err)
	}
	if p, _ := platform.FromEnv(func(string) string { return "" }); p.HTTPAddr != ":8080" {
		t.Fatalf("a single service's default = %s, want :8080 (it runs in a container)", p.HTTPAddr)
	}
}

// TestQuietStart: the demo data's loading is one line, not a screenful of access logs above the
// banner, and a stop (SIGTERM) logs one line.
func TestQuietStart(t *testing.T) {
	logs := &syncBuffer{}
	_, out, stop := startLogging(t, t.TempDir(), logs)
	banner := strings.Index(out.String(), "ClearSky is running")
	if n := strings.Count(out.String(), "loading demo data"); n != 1 || banner < 0 {
		t.Fatalf("start-up output: %d demo data lines, want 1 before the banner:\n%s", n, out.String())
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	requests, loaded := 0, 0
	for _, l := range lines {
		if strings.Contains(l, `"msg":"http_request"`) {
			requests++
		}
		if strings.Contains(l, `"msg":"demo_data_loaded"`) && strings.Contains(l, `"level":"INFO"`) {
			loaded++
		}
	}
	if requests != 0 || loaded != 1 {
		t.Fatalf("start-up logs: %d access log lines and %d demo_data_loaded, want 0 and 1:\n%s", requests, loaded, logs.String())
	}
	before := len(lines)
	stop()
	after := strings.Split(strings.TrimSpace(logs.String()), "\n")[before:]
	shutdown := 0
	for _, l := range after {
		if strings.Contains(l, `"msg":"shutting_down"`) && strings.Contains(l, "terminated signal received") {
			shutdown++
		}
	}
	if shutdown != 1 {
		t.Fatalf("logged at stop:\n%s\nwant one shutting_down line with the signal", strings.Join(after, "\n"))
	}
}
