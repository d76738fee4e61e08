package verdict

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// downParts is Redis down: every read fails at once.
type downParts struct{}

func (downParts) Read(context.Context, string, string) (Read, error) {
	return Read{}, errors.New("redis: connection refused")
}
func (downParts) WriteBack(context.Context, string, summary.Part, []byte) error {
	return errors.New("down")
}
func (downParts) MarkUnknown(context.Context, string) error { return errors.New("down") }
func (downParts) Refund(string, Window)                     {}

// storedParts is a Redis holding fixed envelopes, swappable by the test.
type storedParts struct {
	mu    sync.Mutex
	parts map[summary.Part][]byte
}

func (p *storedParts) Read(context.Context, string, string) (Read, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Read{Parts: p.parts, Rate: Window{Minute: time.Now().Unix() / 60, Cur: 1}}, nil
}
func (p *storedParts) WriteBack(context.Context, string, summary.Part, []byte) error { return nil }
func (p *storedParts) MarkUnknown(context.Context, string) error                     { return nil }
func (p *storedParts) Refund(string, Window)                                         {}

// slowOwners answers after delay, counting the calls per part.
type slowOwners struct {
	delay time.Duration
	calls sync.Map // summary.Part → *atomic.Int64
	data  map[summary.Part]any
}

func (o *slowOwners) Fetch(ctx context.Context, p summary.Part, plate string, c vehicleid.Colour) (json.RawMessage, error) {
	n, _ := o.calls.LoadOrStore(p, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	select {
	case <-time.After(o.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	d, ok := o.data[p]
	if !ok {
		return nil, errors.New("no such part here")
	}
	return json.Marshal(d)
}

func (o *slowOwners) count(p summary.Part) int64 {
	n, ok := o.calls.Load(p)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

type nopAlerts struct{}

func (nopAlerts) InsertAlert(context.Context, Alert, ...events.Draft) error { return nil }
func (nopAlerts) EndAlert(context.Context, string, time.Time, string, ...events.Draft) (Alert, error) {
	return Alert{}, nil
}
func (nopAlerts) Alerts(context.Context, time.Time, int) ([]Alert, error) { return nil, nil }

type nopLog struct{}

func (nopLog) Record(context.Context, Lookup) error                  { return nil }
func (nopLog) Recent(context.Context, string, int) ([]Lookup, error) { return nil, nil }

func newTestService(cfg Config, parts Parts, owners Owners) *Service {
	return NewService(cfg, parts, owners, nopAlerts{}, nopLog{}, slog.New(slog.NewTextHandler(io.Discard, nil)), noop.NewTracerProvider())
}

var officer = auth.Principal{Role: auth.Police, Subject: "officer-1"}

func clean() map[summary.Part]any {
	v := truck()
	return map[summary.Part]any{summary.Registry: v, summary.RemoteSensing: summary.RemoteSensingStatus{},
		summary.OBD: summary.Truck{VIN: v.VIN}, summary.Muck: summary.MuckStatus{}}
}

// An owner slower than the deadline: the lookup answers within it, the part unknown (inspect).
func TestLookupAnswersWithinTheDeadline(t *testing.T) {
	owners := &slowOwners{delay: 3 * time.Second, data: clean()}
	s := newTestService(Config{Deadline: 300 * time.Millisecond}, downParts{}, owners)
	t0 := time.Now()
	a, err := s.Lookup(context.Background(), officer, "晋F12345", "yellow", nil)
	took := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	if took > 400*time.Millisecond {
		t.Fatalf("lookup took %v with a 300 ms deadline", took)
	}
	if a.Verdict == Pass || a.Parts[0].State != Unknown {
		t.Fatalf("verdict %s, registry %s; want at least inspect with the registry unknown", a.Verdict, a.Parts[0].State)
	}
}

// Many officers looking up one plate while Redis is down cost each owner one call.
func TestConcurrentFallbacksShareOneFetch(t *testing.T) {
	owners := &slowOwners{delay: 100 * time.Millisecond, data: clean()}
	s := newTestService(Config{RatePerMinute: 1000}, downParts{}, owners)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			p := officer
			p.Subject = "officer-" + string(rune('a'+i))
			if _, err := s.Lookup(context.Background(), p, "晋F12345", "yellow", nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, p := range []summary.Part{summary.Registry, summary.RemoteSensing, summary.OBD, summary.Muck} {
		if n := owners.count(p); n != 1 {
			t.Errorf("%d concurrent lookups of one plate asked the %s owner %d times, want 1", 20, p, n)
		}
	}
}

// Past MaxFallbacks calls in flight, a lookup is refused at once with 503 and Retry-After.
func TestFallbacksShedLoad(t *testing.T) {
	owners := &slowOwners{delay: 200 * time.Millisecond, data: clean()}
	s := newTestService(Config{RatePerMinute: 1000, MaxFallbacks: 3}, downParts{}, owners)
	var wg sync.WaitGroup
	var shed, answered atomic.Int64
	var slowestShed atomic.Int64
	for i := range 10 {
		wg.Go(func() {
			plate := "晋F1234" + string(rune('0'+i))
			t0 := time.Now()
			_, err := s.Lookup(context.Background(), officer, plate, "yellow", nil)
			switch {
			case err == nil:
				answered.Add(1)
			case errors.Is(err, apperr.ErrUnavailable):
				var re *apperr.RetryError
				if !errors.As(err, &re) || re.After <= 0 {
					t.Errorf("shed without Retry-After: %v", err)
				}
				shed.Add(1)
				if d := int64(time.Since(t0)); d > slowestShed.Load() {
					slowestShed.Store(d)
				}
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if shed.Load() == 0 || answered.Load() == 0 {
		t.Fatalf("%d shed, %d answered; want both with 3 places for 10 plates", shed.Load(), answered.Load())
	}
	if d := time.Duration(slowestShed.Load()); d > 600*time.Millisecond {
		t.Fatalf("a shed lookup took %v: it queued", d)
	}
}

// A part older than one already served (Redis restored from an older copy) is asked of its
// owner, not used.
func TestNeverPrefersAnOlderPart(t *testing.T) {
	v := truck()
	v.TerminalBound, v.Heavy = false, false // remote sensing and muck only
	enc := func(p summary.Part, at time.Time, d any) []byte {
		b, err := summary.Encode(p, at, d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	newer := time.Now().Add(-time.Minute)
	stored := &storedParts{parts: map[summary.Part][]byte{
		summary.Registry:      enc(summary.Registry, newer, v),
		summary.RemoteSensing: enc(summary.RemoteSensing, newer, summary.RemoteSensingStatus{}),
		summary.Muck:          enc(summary.Muck, newer, summary.MuckStatus{}),
	}}
	owners := &slowOwners{data: map[summary.Part]any{summary.Registry: v, summary.RemoteSensing: summary.RemoteSensingStatus{}, summary.Muck: summary.MuckStatus{}}}
	s := newTestService(Config{RatePerMinute: 1000}, stored, owners)
	if _, err := s.Lookup(context.Background(), officer, "晋F12345", "yellow", nil); err != nil {
		t.Fatal(err)
	}
	if n := owners.count(summary.RemoteSensing); n != 0 {
		t.Fatalf("owner asked %d times with every part in Redis", n)
	}
	// Redis comes back from a copy an hour older.
	stored.mu.Lock()
	stored.parts[summary.RemoteSensing] = enc(summary.RemoteSensing, newer.Add(-time.Hour), summary.RemoteSensingStatus{})
	stored.mu.Unlock()
	a, err := s.Lookup(context.Background(), officer, "晋F12345", "yellow", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := owners.count(summary.RemoteSensing); n != 1 || a.Parts[1].State != Fetched {
		t.Fatalf("older part: owner asked %d times, state %s; want it asked once, fetched", n, a.Parts[1].State)
	}
	if n := owners.count(summary.Muck); n != 0 {
		t.Fatalf("the muck part did not change but was asked %d times", n)
	}
}

// fullLog is an audit trail whose queue is full: Record waits a while for room, then fails.
type fullLog struct{ nopLog }

func (fullLog) Record(ctx context.Context, _ Lookup) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(150 * time.Millisecond):
		return errors.New("the audit queue stayed full")
	}
}

// An audit trail that cannot keep up: the lookup is refused with 503, never answered
// unaudited and never held past the store's wait.
func TestLookupUnauditedIsRefusedInTime(t *testing.T) {
	owners := &slowOwners{data: clean()}
	s := NewService(Config{Deadline: 200 * time.Millisecond}, downParts{}, owners, nopAlerts{}, fullLog{},
		slog.New(slog.NewTextHandler(io.Discard, nil)), noop.NewTracerProvider())
	t0 := time.Now()
	_, err := s.Lookup(context.Background(), officer, "晋F12345", "yellow", nil)
	if !errors.Is(err, apperr.ErrUnavailable) {
		t.Fatalf("lookup with the audit queue full: %v, want unavailable", err)
	}
	if took := time.Since(t0); took > 300*time.Millisecond {
		t.Fatalf("lookup with the audit queue full took %v, deadline 200 ms", took)
	}
}
