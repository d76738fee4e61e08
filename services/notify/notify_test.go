package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/services/notify"
)

// env is a notification service on loopback over real FerretDB and Redis, running its
// background work, with the owners' side (the events sink) at hand.
type env struct {
	*testenv.API
	db   *mongo.Database
	sink *events.Sink
}

func newEnv(t *testing.T, cfg notify.Config) *env {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	db := testenv.Mongo(t)
	deps := testenv.Platform(t, notify.Name, db, rdb, prefix)
	svc, err := notify.New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &env{API: testenv.Serve(t, notify.Name, deps, svc.Routes), db: db, sink: events.NewSink(db)}
}

// adminToken is a token of a person who administers its organisation (it manages the
// organisation's webhooks).
func (e *env) adminToken(t *testing.T, role auth.Role, tenant string) string {
	t.Helper()
	tok, err := e.Keys.Issue(auth.Principal{Role: role, Tenant: tenant, OrgAdmin: true}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func fast() notify.Config {
	return notify.Config{AllowPrivate: true, RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, RetryFor: time.Second,
		Timeout: time.Second, Parallel: 4, Every: 50 * time.Millisecond}
}

// emit stores an event as an owner's outbox runner would.
func (e *env) emit(t *testing.T, typ events.Type, orgs []string, roles []auth.Role) string {
	t.Helper()
	r := events.Must(typ, time.Now(), "rec-1", "/v1/x/rec-1", orgs, roles, map[string]any{"plate": "晋F12345"})
	if err := e.sink.Put(context.Background(), "test", []outbox.Record{r}); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// receiver is a webhook endpoint that checks signatures and records what it got.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	secret  string
	got     []map[string]any
	ids     []string
	failing bool
	bad     []string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.failing {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if msg := verify(r.secret, req.Header, body); msg != "" {
			r.bad = append(r.bad, msg)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		r.got = append(r.got, m)
		r.ids = append(r.ids, req.Header.Get("webhook-id"))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

// verify checks a delivery as a receiver would, written from the Standard Webhooks
// specification (not with the service's own code).
func verify(secret string, h http.Header, body []byte) string {
	id, ts, sig := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || !strings.HasPrefix(sig, "v1,") {
		return "missing headers"
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "bad secret"
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	if want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); sig != want {
		return "bad signature"
	}
	return ""
}

func (r *receiver) received() ([]string, []map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...), append([]map[string]any(nil), r.got...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 15 s: %s", what)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func TestWebhooks(t *testing.T) {
	e := newEnv(t, fast())
	fleetA, fleetB, bureau := e.adminToken(t, auth.Fleet, "fleet-a"), e.adminToken(t, auth.Fleet, "fleet-b"), e.Token(t, auth.Bureau, "")
	rcv := newReceiver(t)
	res := e.Do(t, "POST", "/v1/organisations/fleet-a/webhooks", fleetA, map[string]any{"url": rcv.URL + "/hook",
		"events": []string{"obd.alarm.opened", "muck.permit.revoked", "checkpoint.alert.declared"}})
	if res.Status != http.StatusCreated {
		t.Fatalf("subscribe: %d %s", res.Status, res.Raw)
	}
	secret, _ := res.Body["secret"].(string)
	sub, _ := res.Body["id"].(string)
	if !strings.HasPrefix(secret, "whsec_") || sub == "" {
		t.Fatalf("subscription answer %v", res.Body)
	}
	rcv.mu.Lock()
	rcv.secret = secret
	rcv.mu.Unlock()
	if g := e.Do(t, "GET", "/v1/organisations/fleet-a/webhooks/"+sub, fleetA, nil); g.Status != 200 || g.Body["secret"] != nil {
		t.Fatalf("the secret is shown again: %d %v", g.Status, g.Body)
	}

	mine := e.emit(t, events.OBDAlarmOpened, []string{"fleet-a"}, nil)
	e.emit(t, events.OBDAlarmOpened, []string{"fleet-b"}, nil)             // another fleet's truck: never sent
	e.emit(t, events.FuelSampleFailed, []string{"fleet-a"}, nil)           // a type it did not subscribe to
	all := e.emit(t, events.AlertDeclared, []string{events.Everyone}, nil) // to everyone
	eventually(t, "the two events about fleet-a delivered", func() bool { ids, _ := rcv.received(); return len(ids) == 2 })
	time.Sleep(300 * time.Millisecond)
	ids, got := rcv.received()
	if len(ids) != 2 || !contains(ids, mine) || !contains(ids, all) || len(rcv.bad) > 0 {
		t.Fatalf("received %v (bad %v), want %s and %s", ids, rcv.bad, mine, all)
	}
	for _, m := range got {
		if m["id"] == mine && (m["type"] != "obd.alarm.opened" || m["link"] != "/v1/x/rec-1" || !strings.HasSuffix(m["time"].(string), "+08:00")) {
			t.Fatalf("payload %v", m)
		}
	}

	t.Run("another organisation sees nothing of it", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{{"GET", "/v1/organisations/fleet-a/webhooks"}, {"GET", "/v1/organisations/fleet-a/webhooks/" + sub},
			{"GET", "/v1/organisations/fleet-a/webhooks/" + sub + "/deliveries"}, {"DELETE", "/v1/organisations/fleet-a/webhooks/" + sub}} {
			if r := e.Do(t, c.method, c.path, fleetB, nil); r.Status != 404 {
				t.Errorf("%s %s as fleet-b = %d, want 404", c.method, c.path, r.Status)
			}
		}
		if r := e.Do(t, "GET", "/v1/organisations/fleet-b/webhooks/"+sub, fleetB, nil); r.Status != 404 {
			t.Errorf("fleet-a's webhook under fleet-b = %d, want 404", r.Status)
		}
		if r := e.Do(t, "GET", "/v1/organisations/fleet-a/webhooks", bureau, nil); r.Status != 200 {
			t.Errorf("the bureau lists fleet-a's webhooks: %d", r.Status)
		}
		// Exports are scoped as the lists are, and never carry the signing secret.
		for _, path := range []string{"/v1/organisations/fleet-a/webhooks?format=csv", "/v1/organisations/fleet-a/webhooks/" + sub + "/deliveries?format=xlsx"} {
			if r := e.Do(t, "GET", path, fleetB, nil); r.Status != 404 {
				t.Errorf("%s as fleet-b = %d, want 404", path, r.Status)
			}
		}
		r := e.Do(t, "GET", "/v1/organisations/fleet-a/webhooks?format=csv", bureau, nil)
		if r.Status != 200 || !strings.Contains(r.Raw, sub) || strings.Contains(r.Raw, "whsec_") {
			t.Errorf("fleet-a's webhooks as CSV: %d %.300s", r.Status, r.Raw)
		}
	})

	t.Run("a failing receiver's deliveries are retried, then dead letters to replay", func(t *testing.T) {
		rcv.mu.Lock()
		rcv.failing = true
		rcv.mu.Unlock()
		lost := e.emit(t, events.MuckPermitRevoked, []string{"fleet-a"}, []auth.Role{auth.Police})
		dead := func() []any {
			r := e.Do(t, "GET", "/v1/organisations/fleet-a/webhooks/"+sub+"/deliveries?state=dead", fleetA, nil)
			items, _ := r.Body["items"].([]any)
			return items
		}
		eventually(t, "the delivery given up on", func() bool { return len(dead()) == 1 })
		d := dead()[0].(map[string]any)
		if d["event_id"] != lost || d["attempts"].(float64) < 3 || d["last_status"].(float64) != 503 {
			t.Fatalf("dead letter %v", d)
		}
		rcv.mu.Lock()
		rcv.failing = false
		rcv.mu.Unlock()
		r := e.Do(t, "POST", "/v1/organisations/fleet-a/webhooks/"+sub+"/dead-letters/replay", fleetA, nil)
		if r.Status != http.StatusAccepted || r.Body["replayed"].(float64) != 1 {
			t.Fatalf("replay: %d %s", r.Status, r.Raw)
		}
		eventually(t, "the replayed delivery received", func() bool { ids, _ := rcv.received(); return contains(ids, lost) })
		eventually(t, "the log shows it delivered", func() bool {
			r := e.Do(t, "GET", "/v1/organisations/fleet-a/webhooks/"+sub+"/deliveries?state=delivered", fleetA, nil)
			items, _ := r.Body["items"].([]any)
			return len(items) == 3
		})
		if len(dead()) != 0 {
			t.Fatal("dead letter left after replay")
		}
		if r := e.Do(t, "POST", "/v1/organisations/fleet-a/webhooks/"+sub+"/deliveries/"+sub+"."+lost+"/replay", fleetA, nil); r.Status != http.StatusAccepted {
			t.Fatalf("replay of a delivered one: %d %s", r.Status, r.Raw)
		}
		eventually(t, "a replay is received again, with the same webhook-id", func() bool {
			ids, _ := rcv.received()
			n := 0
			for _, id := range ids {
				if id == lost {
					n++
				}
			}
			return n == 2
		})
	})

	t.Run("bad input names the field and stores nothing", func(t *testing.T) {
		before, _ := e.db.Collection("webhook_subscriptions").CountDocuments(context.Background(), bson.D{})
		for field, body := range map[string]any{
			"url":       map[string]any{"url": "ftp://example.invalid/x", "events": []string{"obd.alarm.opened"}},
			"events[0]": map[string]any{"url": "https://example.invalid/x", "events": []string{"obd.alarm.exploded"}},
			"events":    map[string]any{"url": "https://example.invalid/x", "events": []string{}},
		} {
			e.Do(t, "POST", "/v1/organisations/fleet-a/webhooks", fleetA, body).Refused(t, field)
		}
		e.Do(t, "POST", "/v1/organisations/fleet-a/webhooks", fleetA, map[string]any{"url": "https://x.invalid/" + strings.Repeat("a", 2100), "events": []string{"obd.alarm.opened"}}).Refused(t, "url")
		if after, _ := e.db.Collection("webhook_subscriptions").CountDocuments(context.Background(), bson.D{}); after != before {
			t.Fatalf("%d subscriptions after bad input, want %d", after, before)
		}
	})

	t.Run("deleted webhooks get nothing more", func(t *testing.T) {
		if r := e.Do(t, "DELETE", "/v1/organisations/fleet-a/webhooks/"+sub, fleetA, nil); r.Status != 204 {
			t.Fatalf("delete: %d", r.Status)
		}
		n, _ := rcv.received()
		e.emit(t, events.OBDAlarmOpened, []string{"fleet-a"}, nil)
		time.Sleep(500 * time.Millisecond)
		if m, _ := rcv.received(); len(m) != len(n) {
			t.Fatalf("a deleted webhook received %d more", len(m)-len(n))
		}
	})
}

// TestPrivateAddressesRefused: without CLEARSKY_NOTIFY_ALLOW_PRIVATE a webhook may not point
// inside the network (SSRF).
func TestPrivateAddressesRefused(t *testing.T) {
	cfg := fast()
	cfg.AllowPrivate = false
	e := newEnv(t, cfg)
	tok := e.adminToken(t, auth.Fleet, "fleet-a")
	for _, u := range []string{"http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://[::1]/x", "http://localhost/x", "http://169.254.169.254/latest"} {
		e.Do(t, "POST", "/v1/organisations/fleet-a/webhooks", tok, map[string]any{"url": u, "events": []string{"obd.alarm.opened"}}).Refused(t, "url")
	}
}

func TestInbox(t *testing.T) {
	e := newEnv(t, fast())
	a1, a2, b, police, bureau := e.Token(t, auth.Fleet, "fleet-a"), e.Token(t, auth.Fleet, "fleet-a"), e.Token(t, auth.Fleet, "fleet-b"), e.Token(t, auth.Police, ""), e.Token(t, auth.Bureau, "")
	_ = a2
	x := e.emit(t, events.OBDAlarmOpened, []string{"fleet-a"}, nil)
	y := e.emit(t, events.MuckPermitRevoked, []string{"fleet-a"}, []auth.Role{auth.Police})
	z := e.emit(t, events.FuelSampleFailed, []string{"st-1"}, nil)
	count := func(tok string) float64 {
		r := e.Do(t, "GET", "/v1/notifications/unread-count", tok, nil)
		n, _ := r.Body["unread"].(float64)
		return n
	}
	eventually(t, "the inboxes filled", func() bool { return count(bureau) == 3 })
	for who, c := range map[string]struct {
		tok  string
		want float64
	}{"fleet-a": {a1, 2}, "fleet-b": {b, 0}, "police": {police, 1}, "bureau": {bureau, 3}} {
		if got := count(c.tok); got != c.want {
			t.Errorf("%s unread = %v, want %v", who, got, c.want)
		}
	}
	r := e.Do(t, "GET", "/v1/notifications", a1, nil)
	items, _ := r.Body["items"].([]any)
	if r.Status != 200 || len(items) != 2 || items[0].(map[string]any)["id"] != y || items[1].(map[string]any)["id"] != x {
		t.Fatalf("fleet-a's inbox: %d %s", r.Status, r.Raw)
	}
	etag := ""
	{
		req, _ := http.NewRequest("GET", e.URL+"/v1/notifications", nil)
		req.Header.Set("Authorization", "Bearer "+a1)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		etag = res.Header.Get("ETag")
		req.Header.Set("If-None-Match", etag)
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if etag == "" || res.StatusCode != http.StatusNotModified {
			t.Fatalf("poll with the ETag %q = %d, want 304", etag, res.StatusCode)
		}
	}
	// Marking another organisation's event read changes nothing.
	if r := e.Do(t, "POST", "/v1/notifications/read", a1, map[string]any{"ids": []string{x, z}}); r.Status != 200 || r.Body["unread"].(float64) != 1 {
		t.Fatalf("mark read: %d %s", r.Status, r.Raw)
	}
	if r := e.Do(t, "GET", "/v1/notifications?unread=true", a1, nil); len(r.Body["items"].([]any)) != 1 {
		t.Fatalf("unread after marking: %s", r.Raw)
	}
	e.Do(t, "POST", "/v1/notifications/read", a1, map[string]any{"ids": []string{"nope"}}).Refused(t, "ids[0]")
	e.Do(t, "GET", "/v1/notifications?unread=maybe", a1, nil).Refused(t, "unread")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// notifyBody is the body the service sends for an event (the schema's JSON, China time).
func notifyBody(e events.Event) ([]byte, error) {
	e.Time = e.Time.In(time.FixedZone("CST", 8*3600))
	return json.Marshal(e)
}

// sign is the Standard Webhooks signature, written from the specification.
func sign(secret, id string, ts int64, body []byte) string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
