package sensing

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// gatedStore counts the history reads and holds the first one until released, so that the
// uploads arriving meanwhile queue behind it.
type gatedStore struct {
	memStore
	mu      sync.Mutex
	reads   int
	plates  map[string]bool // plates whose history was read
	release chan struct{}
}

func (g *gatedStore) InsertJob(context.Context, Job) error { return nil }
func (g *gatedStore) ExceedancesOf(_ context.Context, keys []string, _ time.Time) ([]Exceedance, error) {
	g.mu.Lock()
	g.reads++
	first := g.reads == 1
	for _, k := range keys {
		g.plates[k] = true
	}
	g.mu.Unlock()
	if first {
		<-g.release
	}
	return nil, nil
}

func TestConcurrentUploadsDeriveTogether(t *testing.T) {
	now := time.Now()
	vs := memVehicles{}
	for i := range 8 {
		p := fmt.Sprintf("晋F%05d", i)
		vs[vehicleid.Key(p, vehicleid.Yellow)] = summary.Vehicle{Plate: p, PlateColour: "yellow", FuelType: "diesel"}
	}
	store := &gatedStore{memStore: memStore{station: Station{ID: "RS-1", OperatorID: "op", CalibratedOn: now.AddDate(0, 0, -10)}},
		plates: map[string]bool{}, release: make(chan struct{})}
	exp := tracetest.NewInMemoryExporter()
	svc := NewService(allStores(store), vs, memCache{}, nil, Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)), sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	batch := func(i int) []ReadingInput {
		return []ReadingInput{{ReadingID: fmt.Sprintf("R%d", i), StationID: "RS-1", Plate: fmt.Sprintf("晋F%05d", i), PlateColour: "yellow",
			MeasuredAt: now.Add(-time.Minute).Format(time.RFC3339), Opacity: fp(45), NO: fp(400), Ringelmann: fp(0),
			SpeedKmh: fp(40), AccelMS2: fp(0.3), WindMS: fp(1)}}
	}
	p := auth.Principal{Subject: "bureau@x", Role: auth.Bureau}
	errs := make(chan error, 8)
	go func() { _, err := svc.Upload(context.Background(), p, batch(0)); errs <- err }()
	// The first upload's round is held in its history read; seven more uploads queue behind it.
	waitFor(t, "the first round's history read", func() bool { return store.readCount() > 0 })
	for i := 1; i < 8; i++ {
		go func() { _, err := svc.Upload(context.Background(), p, batch(i)); errs <- err }()
	}
	waitFor(t, "seven uploads queued behind the first round", func() bool { return svc.queued() == 7 })
	close(store.release)
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if store.readCount() != 2 {
		t.Errorf("history read %d times for 8 concurrent uploads; want 2 (one round for the first, one for the seven queued)", store.readCount())
	}
	if len(store.plates) != 8 {
		t.Errorf("history read for %d plates; want all 8", len(store.plates))
	}
	// Each upload's trace leads to the round that derived it, and each round to its uploads.
	rounds, waits := map[trace.SpanID]int{}, 0
	for _, sp := range exp.GetSpans() {
		if sp.Name == "remotesensing.derive_round" {
			rounds[sp.SpanContext.SpanID()] = len(sp.Links)
		}
	}
	for _, sp := range exp.GetSpans() {
		if sp.Name != "remotesensing.derive_wait" {
			continue
		}
		waits++
		if len(sp.Links) != 1 {
			t.Fatalf("upload's derive_wait has %d links; want 1, to its round", len(sp.Links))
		}
		if _, ok := rounds[sp.Links[0].SpanContext.SpanID()]; !ok {
			t.Errorf("upload's derive_wait links to %v, not a round", sp.Links[0].SpanContext.SpanID())
		}
	}
	linked := 0
	for _, n := range rounds {
		linked += n
	}
	if waits != 8 || len(rounds) != 2 || linked != 8 {
		t.Errorf("%d waits, %d rounds linking %d uploads; want 8, 2 and 8", waits, len(rounds), linked)
	}
}

func (g *gatedStore) readCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reads
}

func (s *Service) queued() int {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	return len(s.dqueue)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
