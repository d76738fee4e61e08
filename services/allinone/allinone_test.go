package allinone_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
	addr := freeAddr(t)
	cfg := allinone.Config{Config: platform.Config{HTTPAddr: addr, MongoDatabase: "clearsky", RedisPrefix: "cs:", Version: "test"}, DataDir: dir, OBDAddr: "127.0.0.1:0", LogOutput: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
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
	if !strings.Contains(out.String(), "loading demo data") || !strings.Contains(out.String(), "ClearSky is running") {
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
	stop()

	firstBase := base
	base, out, stop = start(t, dir)
	defer stop()
	if strings.Contains(out.String(), "loading demo data") {
		t.Fatalf("second start loaded the demo data again:\n%s", out.String())
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
