package notify_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/outbox"
)

// TestDeliveryThroughput measures events delivered per second to a local receiver, from the
// events collection through the fan-out, the deliveries and their signed posts, against a
// baseline of the same bodies posted straight to the same receiver, signed, as many at once.
// It runs with TEST_EVENTS_MEASURE=<events> (docs/performance.md).
func TestDeliveryThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("TEST_EVENTS_MEASURE"))
	if n <= 0 {
		t.Skip("set TEST_EVENTS_MEASURE=<events> to measure the delivery throughput")
	}
	var got atomic.Int64
	var mu sync.Mutex
	seen := map[string]bool{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		if id := r.Header.Get("webhook-id"); !seen[id] {
			seen[id] = true
			got.Add(1)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	cfg := fast()
	cfg.Every, cfg.Parallel = 20*time.Millisecond, 16
	// The service's loop starts with the environment; the events are stored first, while no
	// webhook wants them, and the subscription made before they are fanned out.
	e := newEnv(t, cfg)
	tok := e.adminToken(t, auth.Bureau, "")
	sub := e.Do(t, "POST", "/v1/organisations/bureau/webhooks", tok, map[string]any{"url": rcv.URL, "events": []string{"obd.alarm.opened"}})
	if sub.Status != 201 {
		t.Fatalf("subscribe: %d %s", sub.Status, sub.Raw)
	}
	secret := sub.Body["secret"].(string)
	var bodies [][]byte
	var ids []string
	start := time.Now()
	for i := 0; i < n; i += 500 {
		var rs []outbox.Record
		for j := i; j < min(i+500, n); j++ {
			r := events.Must(events.OBDAlarmOpened, time.Now(), fmt.Sprintf("LSMTRKAB%09d:nox_exceedance:1", j), "/v1/obd/vehicles/x/alarms",
				[]string{"fleet-a"}, nil, map[string]any{"vin": "LSMTRKAB000000001", "kind": "nox_exceedance", "plate": "晋F12345", "message": "NOx 1450 ppm over 900"})
			rs = append(rs, r)
			ev, _ := events.FromRecord(r)
			b, _ := notifyBody(ev)
			bodies, ids = append(bodies, b), append(ids, r.ID)
		}
		if err := e.sink.Put(context.Background(), "obd_alarms", rs); err != nil {
			t.Fatal(err)
		}
	}
	eventually := func(what string, cond func() bool) {
		deadline := time.Now().Add(10 * time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 10 min: %s (%d of %d)", what, got.Load(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	stored := time.Since(start)
	fannedOut := time.Duration(0)
	eventually("every event delivered", func() bool {
		if fannedOut == 0 {
			if k, _ := e.db.Collection("webhook_deliveries").CountDocuments(context.Background(), bson.D{}); k >= int64(n) {
				fannedOut = time.Since(start)
			}
		}
		return got.Load() >= int64(n)
	})
	t.Logf("stored after %s, fanned out after %s", stored.Round(time.Millisecond), fannedOut.Round(time.Millisecond))
	platform := time.Since(start)

	// The baseline: the same bodies, signed, posted 16 at a time.
	got.Store(0)
	clear(seen)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	start = time.Now()
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				ts := time.Now().Unix()
				req, _ := http.NewRequest("POST", rcv.URL, bytes.NewReader(bodies[i]))
				req.Header.Set("webhook-id", ids[i])
				req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
				req.Header.Set("webhook-signature", sign(secret, ids[i], ts, bodies[i]))
				res, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
	wg.Wait()
	baseline := time.Since(start)
	pr, br := float64(n)/platform.Seconds(), float64(n)/baseline.Seconds()
	t.Logf("%d events: platform %.0f events/s (%s, storing included), baseline %.0f posts/s (%s), ratio %.3f", n, pr, platform.Round(time.Millisecond), br, baseline.Round(time.Millisecond), pr/br)
}
