package monitor_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/obd/internal/monitor"
	"github.com/clearsky/clearsky/services/obd/internal/monitorstore"
	"github.com/clearsky/clearsky/services/obd/internal/protocol"
	"github.com/clearsky/clearsky/services/obd/internal/sim"
)

const vin = "LFWADRJF011002346"

// parts is a Cache that keeps the last part it was given.
type parts struct {
	mu   sync.Mutex
	last summary.Truck
}

func (p *parts) Put(_ context.Context, es ...summary.Entry) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range es {
		p.last = e.Data.(summary.Truck)
	}
	return nil
}

type vehicles struct{}

func (vehicles) ByVIN(context.Context, string) (summary.Vehicle, error) {
	return summary.Vehicle{VIN: vin, Plate: "晋F77777", PlateColour: "yellow", Status: "active"}, nil
}
func (vehicles) ByPlate(context.Context, string, vehicleid.Colour) (summary.Vehicle, error) {
	return summary.Vehicle{VIN: vin, Plate: "晋F77777", PlateColour: "yellow", Status: "active"}, nil
}

// TestJudgesWhatTheEdgeDecoded: frames in the HJ 1239 layout (items with their own times) are
// stored and judged from the readings decoded at the edge, with their layout and signature
// state kept, so that the samples read back are the items' and the alarms fire.
func TestJudgesWhatTheEdgeDecoded(t *testing.T) {
	db := testenv.Mongo(t)
	store := monitorstore.New(db)
	if err := store.EnsureIndexes(context.Background(), mongodb.UniqueIndexes); err != nil {
		t.Fatal(err)
	}
	cache := &parts{}
	m := monitor.New(monitor.Config{}, store, cache, vehicles{}, slog.New(slog.NewTextHandler(io.Discard, nil)), noop.NewTracerProvider(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	term := sim.Terminal{VIN: vin, ICCID: "89860012345678909999", Profile: sim.ReagentEmpty, Layout: protocol.LayoutHJ1239}
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	var frames []*monitor.Frame
	dec := protocol.Decoder{Layout: protocol.LayoutHJ1239}
	for k := range 6 {
		raw, err := sim.Frame(term, protocol.CmdRealtime, start.Add(time.Duration(k)*10*time.Second), k)
		if err != nil {
			t.Fatal(err)
		}
		var f protocol.Frame
		if err := dec.Decode(raw, &f); err != nil {
			t.Fatal(err)
		}
		fr := monitor.FrameOf(&f, raw, time.Now(), monitor.SourceTCP)
		fr.Signed = k%2 == 0
		frames = append(frames, fr)
	}
	ins, err := m.Store(ctx, vin, frames)
	if err != nil || len(ins) != 6 || !ins[0] {
		t.Fatalf("Store = %v, %v", ins, err)
	}
	if again, _ := m.Store(ctx, vin, frames[:1]); again[0] {
		t.Fatal("the same frame stored twice")
	}
	_, st := m.Summary(ctx, vin)
	found := false
	for _, a := range st.OpenAlarms {
		found = found || a.Kind == "reagent_empty"
	}
	if !found {
		t.Fatalf("open alarms %+v, want reagent_empty (judged from the HJ 1239 readings)", st.OpenAlarms)
	}
	back, err := store.Frames(ctx, vin, start, start.Add(time.Minute), 100)
	if err != nil || len(back) != 6 {
		t.Fatalf("Frames = %d, %v", len(back), err)
	}
	for i, fr := range back {
		if fr.Layout != protocol.LayoutHJ1239 || fr.Signed != (i%2 == 0) || !fr.From.Equal(start.Add(time.Duration(i)*10*time.Second)) {
			t.Fatalf("frame %d read back: layout %v signed %v from %v", i, fr.Layout, fr.Signed, fr.From)
		}
	}
}
