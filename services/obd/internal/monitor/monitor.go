// Package monitor is the OBD service's core: it takes telemetry frames from the TCP gateway and
// readings from fleet platforms' REST uploads, stores each frame once, runs the detection rules
// (package detect) on what is new, keeps alarms, and publishes each truck's state to Redis for
// the checkpoint.
//
// Frames go through bounded per-partition queues (a truck always maps to the same partition).
// One goroutine per partition writes its queue to MongoDB in batches and then runs detection,
// so a truck's state is only ever touched by one goroutine and never double counts: only frames
// that were new in MongoDB (not duplicate-key) reach the rules. When storage is slow the queues
// fill and Submit blocks, which stops the gateway reading its sockets: terminals are slowed,
// nothing is dropped and memory stays bounded.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/cursor"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/obd/internal/detect"
	"github.com/clearsky/clearsky/services/obd/internal/protocol"
)

// Sources of a frame.
const (
	SourceTCP  = "tcp"
	SourceREST = "rest"
)

// Frame is one stored telemetry frame, kept in the national binary format whatever its source.
type Frame struct {
	// ID is VIN:collection-second:serial for terminal frames (a reissue of the same frame has the
	// same id) and VIN:first-second:rest:n for REST uploads.
	ID       string
	VIN      string
	Source   string
	Command  protocol.Command
	From, To time.Time // first and last sample instants
	Samples  int
	Received time.Time
	Raw      []byte
	// Layout is the layout Raw was decoded with (stored with the frame, to decode it again).
	Layout protocol.Layout
	// Readings are the frame's samples, decoded once at the edge (FrameOf) with the decoder
	// that read the frame; the rules run on them. Not stored.
	Readings []Reading
	// Signed: the frame's HJ 1239 signature verified against the key its terminal filed at
	// activation. Unsigned frames are stored and judged, marked so end to end.
	Signed bool
}

// FrameID is the idempotency key of a terminal frame.
func FrameID(vin string, collected time.Time, serial uint16) string {
	return fmt.Sprintf("%s:%d:%d", vin, collected.Unix(), serial)
}

// WriteResult is what became of one frame in a batch write.
type WriteResult uint8

// Write results.
const (
	Failed WriteResult = iota
	Inserted
	Duplicate
)

// Alarm is a stored alarm of one truck.
type Alarm struct {
	ID    string
	VIN   string
	Plate string
	// FleetID is the truck's fleet when the alarm was written (the registry's record).
	FleetID string
	detect.Alarm
}

// alarmEvent is the domain event of an alarm's opening or closing: it concerns the truck's
// fleet (and the bureau).
func alarmEvent(t events.Type, a Alarm, at time.Time) events.Draft {
	data := map[string]any{"vin": a.VIN, "kind": string(a.Kind), "message": a.Message}
	if a.Plate != "" {
		data["plate"] = a.Plate
	}
	if t == events.OBDAlarmClosed && a.CloseReason != "" {
		data["reason"] = a.CloseReason
	}
	return events.Draft{Type: t, At: at, Subject: a.ID, Link: "/v1/obd/vehicles/" + a.VIN + "/alarms",
		Organisations: []string{a.FleetID}, Data: data}
}

// AlarmFilter narrows the district's alarm list.
type AlarmFilter struct {
	OpenOnly bool
	Kind     detect.Kind // empty: every kind
}

// AlarmID is the stable id of an alarm: VIN, kind and opening instant.
func AlarmID(vin string, a detect.Alarm) string {
	return fmt.Sprintf("%s:%s:%d", vin, a.Kind, a.OpenedAt.UnixMilli())
}

// TruckRecord is what survives a restart of a truck's detection state besides its alarms.
type TruckRecord struct {
	VIN       string
	Exemption detect.Exemption
	SavedAt   time.Time
}

// Store keeps frames, alarms and truck records (MongoDB).
type Store interface {
	// InsertFrames stores frames unordered and tells, per frame, whether it was new, already
	// stored, or failed; err is non-nil when any failed.
	InsertFrames(ctx context.Context, fs []Frame) ([]WriteResult, error)
	// Frames returns a truck's frames whose samples may fall in [from, to], oldest first.
	Frames(ctx context.Context, vin string, from, to time.Time, limit int) ([]Frame, error)
	// LastFrame returns a truck's newest frame by collection time, if any.
	LastFrame(ctx context.Context, vin string) (Frame, bool, error)
	// InsertAlarm stores a new alarm (one that exists is no error) with the events of its opening.
	InsertAlarm(ctx context.Context, a Alarm, evs ...events.Draft) error
	// UpdateAlarm stores an alarm's new state with the events of the change, in one write.
	UpdateAlarm(ctx context.Context, a Alarm, evs ...events.Draft) error
	// Alarms returns a truck's alarms, newest first; only open ones when openOnly.
	Alarms(ctx context.Context, vin string, openOnly bool, limit int) ([]Alarm, error)
	// ListAlarms returns every truck's alarms that f admits, newest first (opening time, then
	// id), after the key.
	ListAlarms(ctx context.Context, f AlarmFilter, after cursor.Key, limit int) ([]Alarm, error)
	SaveTruck(ctx context.Context, r TruckRecord) error
	LoadTruck(ctx context.Context, vin string) (TruckRecord, bool, error)
	Thresholds(ctx context.Context) (detect.Thresholds, bool, error)
	SaveThresholds(ctx context.Context, th detect.Thresholds, by string) error
	// DeleteFramesBefore removes frames received before t (retention).
	DeleteFramesBefore(ctx context.Context, t time.Time) (int64, error)
}

// Cache publishes each truck's state for the checkpoint (Redis).
type Cache interface {
	Put(ctx context.Context, es ...summary.Entry) error
}

// truckEntry is a truck's OBD part for summary.Writer.
func truckEntry(plate, colour string, s summary.Truck) summary.Entry {
	return summary.Entry{PlateKey: vehicleid.Key(plate, vehicleid.Colour(colour)), Data: s}
}

// Vehicles is the registry, as the OBD service sees it.
type Vehicles interface {
	ByVIN(ctx context.Context, vin string) (summary.Vehicle, error)
	ByPlate(ctx context.Context, plate string, colour vehicleid.Colour) (summary.Vehicle, error)
}

// Config tunes the pipeline.
type Config struct {
	Partitions int           // writer goroutines; default 2
	QueueSize  int           // frames queued per partition before Submit blocks; default 4096
	BatchSize  int           // frames per MongoDB write; default 500
	FlushEvery time.Duration // longest a frame waits for its batch; default 100 ms
	SweepEvery time.Duration // offline / gap checks; default 30 s
	// SummaryEvery is the longest a truck's published state lags its data when no alarm changes.
	SummaryEvery time.Duration // default 30 s
}

func (c *Config) defaults() {
	if c.Partitions <= 0 {
		c.Partitions = 2
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4096
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = 100 * time.Millisecond
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = 30 * time.Second
	}
	if c.SummaryEvery <= 0 {
		c.SummaryEvery = 30 * time.Second
	}
}

// Metrics counts what the pipeline did.
type Metrics struct {
	Persisted  prometheus.Counter
	Duplicates prometheus.Counter
	Samples    prometheus.Counter
	Alarms     *prometheus.CounterVec
	Queued     prometheus.GaugeFunc
	StoreRetry prometheus.Counter
}

// Monitor is the pipeline.
type Monitor struct {
	cfg      Config
	store    Store
	cache    Cache
	vehicles Vehicles
	log      *slog.Logger
	tracer   trace.Tracer
	th       atomic.Pointer[detect.Thresholds]
	parts    []*partition
	metrics  Metrics
	now      func() time.Time
}

// New builds the pipeline; Run starts it.
func New(cfg Config, store Store, cache Cache, vehicles Vehicles, log *slog.Logger, tp trace.TracerProvider, reg prometheus.Registerer) *Monitor {
	cfg.defaults()
	m := &Monitor{cfg: cfg, store: store, cache: cache, vehicles: vehicles, log: log,
		tracer: tp.Tracer("github.com/clearsky/clearsky/services/obd"), now: time.Now}
	th := detect.DefaultThresholds()
	m.th.Store(&th)
	for range cfg.Partitions {
		m.parts = append(m.parts, &partition{m: m, q: make(chan item, cfg.QueueSize), trucks: map[string]*truckState{}})
	}
	m.metrics = Metrics{
		Persisted:  prometheus.NewCounter(prometheus.CounterOpts{Name: "clearsky_obd_frames_persisted_total", Help: "Telemetry frames written to MongoDB."}),
		Duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "clearsky_obd_frames_duplicate_total", Help: "Frames already stored (reissues, re-sent uploads)."}),
		Samples:    prometheus.NewCounter(prometheus.CounterOpts{Name: "clearsky_obd_samples_total", Help: "Samples run through the detection rules."}),
		Alarms:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearsky_obd_alarms_opened_total", Help: "Alarms opened, by kind."}, []string{"kind"}),
		StoreRetry: prometheus.NewCounter(prometheus.CounterOpts{Name: "clearsky_obd_store_retries_total", Help: "Batch writes retried after a storage error."}),
		Queued: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "clearsky_obd_queue_frames", Help: "Frames waiting to be written."}, func() float64 {
			n := 0
			for _, p := range m.parts {
				n += len(p.q)
			}
			return float64(n)
		}),
	}
	if reg != nil {
		reg.MustRegister(m.metrics.Persisted, m.metrics.Duplicates, m.metrics.Samples, m.metrics.Alarms, m.metrics.StoreRetry, m.metrics.Queued)
	}
	return m
}

// Thresholds returns the detection thresholds in force.
func (m *Monitor) Thresholds() detect.Thresholds { return *m.th.Load() }

// LoadThresholds replaces the thresholds with the stored ones, if any.
func (m *Monitor) LoadThresholds(ctx context.Context) error {
	th, ok, err := m.store.Thresholds(ctx)
	if err != nil || !ok {
		return err
	}
	m.th.Store(&th)
	return nil
}

// SetThresholds validates, stores and applies new thresholds.
func (m *Monitor) SetThresholds(ctx context.Context, th detect.Thresholds, by string) error {
	if err := th.Validate(); err != nil {
		return apperr.Invalid("body", err.Error())
	}
	if err := m.store.SaveThresholds(ctx, th, by); err != nil {
		return err
	}
	m.th.Store(&th)
	return nil
}

// result is what a partition tells a waiting submitter.
type result struct {
	inserted []bool
	err      error
}

// item is one unit of work for a partition.
type item struct {
	frame   *Frame
	removal *detect.RemovalEvent
	done    chan<- result // REST uploads wait for their frames
}

func (m *Monitor) part(vin string) *partition {
	h := fnv.New32a()
	_, _ = h.Write([]byte(vin))
	return m.parts[int(h.Sum32())%len(m.parts)]
}

// Submit queues a terminal frame; it blocks while the truck's partition queue is full.
func (m *Monitor) Submit(ctx context.Context, f *Frame) error {
	select {
	case m.part(f.VIN).q <- item{frame: f}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SubmitRemoval queues an anti-tamper / removal alarm (command 0x06).
func (m *Monitor) SubmitRemoval(ctx context.Context, e detect.RemovalEvent) error {
	select {
	case m.part(e.VIN).q <- item{removal: &e}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Store writes frames of one truck through its partition and waits until they are stored and
// judged; it returns which were new.
func (m *Monitor) Store(ctx context.Context, vin string, fs []*Frame) ([]bool, error) {
	p := m.part(vin)
	done := make(chan result, len(fs))
	for _, f := range fs {
		select {
		case p.q <- item{frame: f, done: done}:
		case <-ctx.Done():
			return nil, fmt.Errorf("queue upload: %v: %w", ctx.Err(), apperr.ErrUnavailable)
		}
	}
	out := make([]bool, 0, len(fs))
	for range fs {
		select {
		case r := <-done:
			if r.err != nil {
				return nil, r.err
			}
			out = append(out, r.inserted[0])
		case <-ctx.Done():
			return nil, fmt.Errorf("store upload: %v: %w", ctx.Err(), apperr.ErrUnavailable)
		}
	}
	return out, nil
}

// Run runs the partitions until ctx ends, then flushes what is queued.
func (m *Monitor) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range m.parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(ctx)
		}()
	}
	wg.Wait()
}

// errStopped is returned to waiters when the pipeline stops before their frames were stored.
var errStopped = fmt.Errorf("the OBD pipeline is stopping: %w", apperr.ErrUnavailable)

type truckState struct {
	t         *detect.Truck
	plate     string
	colour    string
	fleet     string
	summaryAt time.Time
	changed   bool
}

type partition struct {
	m      *Monitor
	q      chan item
	mu     sync.Mutex // guards trucks against API readers; the run goroutine is the only writer
	trucks map[string]*truckState
	batch  []item
}

func (p *partition) run(ctx context.Context) {
	flush := time.NewTicker(p.m.cfg.FlushEvery)
	sweep := time.NewTicker(p.m.cfg.SweepEvery)
	defer flush.Stop()
	defer sweep.Stop()
	for {
		select {
		case it := <-p.q:
			p.batch = append(p.batch, it)
			if len(p.batch) >= p.m.cfg.BatchSize {
				p.flush(ctx)
			}
		case <-flush.C:
			p.flush(ctx)
		case <-sweep.C:
			p.sweep(ctx)
		case <-ctx.Done():
			p.drain()
			return
		}
	}
}

// drain writes what is queued with a fresh deadline, then fails anything left to its waiter.
func (p *partition) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		select {
		case it := <-p.q:
			p.batch = append(p.batch, it)
			if len(p.batch) >= p.m.cfg.BatchSize {
				p.flush(ctx)
			}
			continue
		default:
		}
		break
	}
	p.flush(ctx)
	for _, it := range p.batch {
		if it.done != nil {
			it.done <- result{err: errStopped}
		}
	}
	p.batch = p.batch[:0]
	p.saveAll(ctx)
}

func (p *partition) flush(ctx context.Context) {
	if len(p.batch) == 0 {
		return
	}
	ctx, span := p.m.tracer.Start(ctx, "obd.flush_batch", trace.WithAttributes(attribute.Int("clearsky.obd.batch_size", len(p.batch))))
	defer span.End()
	var frames []Frame
	var idx []int
	for i, it := range p.batch {
		if it.frame != nil {
			frames = append(frames, *it.frame)
			idx = append(idx, i)
		}
	}
	inserted := make([]bool, len(frames))
	pending := make([]int, len(frames))
	for i := range pending {
		pending[i] = i
	}
	// Retry until every frame is stored (or known duplicate): back-pressure, never loss.
	for delay := 100 * time.Millisecond; len(pending) > 0; delay = min(delay*2, 5*time.Second) {
		sub := make([]Frame, len(pending))
		for j, i := range pending {
			sub[j] = frames[i]
		}
		res, err := p.m.store.InsertFrames(ctx, sub)
		var still []int
		for j, i := range pending {
			switch {
			case j < len(res) && res[j] == Inserted:
				inserted[i] = true
			case j < len(res) && res[j] == Duplicate:
			default:
				still = append(still, i)
			}
		}
		if err == nil && len(still) == 0 {
			break
		}
		if err == nil {
			err = errors.New("store answered fewer results than frames")
		}
		p.m.metrics.StoreRetry.Inc()
		p.m.log.WarnContext(ctx, "frame_write_failed_retrying", "frames", len(still), "error", err.Error(), "retry_in", delay.String())
		pending = still
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			for _, it := range p.batch {
				if it.done != nil {
					it.done <- result{err: errStopped}
				}
			}
			p.batch = p.batch[:0]
			return
		}
	}
	p.mu.Lock()
	persisted, dups := 0, 0
	for j, i := range idx {
		if inserted[j] {
			persisted++
			p.judge(ctx, p.batch[i].frame)
		} else {
			dups++
		}
	}
	for _, it := range p.batch {
		if it.removal != nil {
			ts := p.truck(ctx, it.removal.VIN)
			p.apply(ctx, ts, ts.t.ObserveRemoval(*it.removal, p.m.Thresholds()))
		}
	}
	p.mu.Unlock()
	p.m.metrics.Persisted.Add(float64(persisted))
	p.m.metrics.Duplicates.Add(float64(dups))
	p.publish(ctx, false)
	// Waiting uploads are answered once their frames are judged and the state published, so the
	// checkpoint's next answer already reflects them.
	for j, i := range idx {
		if it := p.batch[i]; it.done != nil {
			it.done <- result{inserted: []bool{inserted[j]}}
		}
	}
	p.batch = p.batch[:0]
}

// judge runs the rules on a newly stored frame's readings, decoded at the edge.
func (p *partition) judge(ctx context.Context, f *Frame) {
	ts := p.truck(ctx, f.VIN)
	th := p.m.Thresholds()
	for i := range f.Readings {
		s := f.Readings[i].sample(f.Received)
		s.Unsigned = !f.Signed
		p.apply(ctx, ts, ts.t.Observe(s, th))
	}
	p.m.metrics.Samples.Add(float64(len(f.Readings)))
}

// truck returns a truck's state, restoring its open alarms, exemption clock and plate on first
// sight after a start.
func (p *partition) truck(ctx context.Context, vin string) *truckState {
	if ts, ok := p.trucks[vin]; ok {
		return ts
	}
	ts := &truckState{t: detect.NewTruck(vin), changed: true}
	if rec, ok, err := p.m.store.LoadTruck(ctx, vin); err == nil && ok {
		ts.t.Exemption = rec.Exemption
	}
	if open, err := p.m.store.Alarms(ctx, vin, true, 100); err == nil {
		for i := len(open) - 1; i >= 0; i-- {
			ts.t.Open = append(ts.t.Open, open[i].Alarm)
		}
	}
	if v, err := p.m.vehicles.ByVIN(ctx, vin); err == nil {
		ts.plate, ts.colour, ts.fleet = v.Plate, v.PlateColour, v.FleetID
	}
	p.trucks[vin] = ts
	return ts
}

// apply persists the changes the rules made.
func (p *partition) apply(ctx context.Context, ts *truckState, changes []detect.Change) {
	for _, c := range changes {
		ts.changed = true
		a := Alarm{ID: AlarmID(c.VIN, c.Alarm), VIN: c.VIN, Plate: ts.plate, FleetID: ts.fleet, Alarm: c.Alarm}
		var err error
		switch c.Op {
		case detect.OpOpened:
			p.m.metrics.Alarms.WithLabelValues(string(c.Alarm.Kind)).Inc()
			err = p.m.store.InsertAlarm(ctx, a, alarmEvent(events.OBDAlarmOpened, a, a.OpenedAt))
			p.m.log.InfoContext(ctx, "obd_alarm_opened", "vin", c.VIN, "kind", string(c.Alarm.Kind), "message", c.Alarm.Message)
		case detect.OpUpdated:
			err = p.m.store.UpdateAlarm(ctx, a)
		case detect.OpClosed:
			err = p.m.store.UpdateAlarm(ctx, a, alarmEvent(events.OBDAlarmClosed, a, a.ClosedAt))
		case detect.OpExemptionGained, detect.OpExemptionRevoked:
			err = p.m.store.SaveTruck(ctx, TruckRecord{VIN: c.VIN, Exemption: ts.t.Exemption, SavedAt: p.m.now().UTC()})
		}
		if err != nil {
			p.m.log.ErrorContext(ctx, "obd_alarm_write_failed", "vin", c.VIN, "op", string(c.Op), "error", err.Error())
		}
	}
}

func (p *partition) sweep(ctx context.Context) {
	p.mu.Lock()
	now := p.m.now()
	th := p.m.Thresholds()
	for _, ts := range p.trucks {
		p.apply(ctx, ts, ts.t.Sweep(now, th))
	}
	p.mu.Unlock()
	p.publish(ctx, true)
}

// publish writes the state of trucks whose alarms changed, and of every truck whose published
// state is older than SummaryEvery (all of them when force).
func (p *partition) publish(ctx context.Context, force bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.m.now()
	th := p.m.Thresholds()
	for _, ts := range p.trucks {
		if ts.plate == "" || !(ts.changed || force || now.Sub(ts.summaryAt) >= p.m.cfg.SummaryEvery) {
			continue
		}
		if err := p.m.cache.Put(ctx, truckEntry(ts.plate, ts.colour, truckSummary(ts.t, now, th))); err != nil {
			p.m.log.WarnContext(ctx, "obd_summary_put_failed", "vin", ts.t.VIN, "error", err.Error())
			continue
		}
		ts.summaryAt, ts.changed = now, false
	}
}

// saveAll keeps every truck's exemption clock on the way out.
func (p *partition) saveAll(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for vin, ts := range p.trucks {
		if err := p.m.store.SaveTruck(ctx, TruckRecord{VIN: vin, Exemption: ts.t.Exemption, SavedAt: p.m.now().UTC()}); err != nil {
			p.m.log.WarnContext(ctx, "obd_truck_save_failed", "vin", vin, "error", err.Error())
			return
		}
	}
}

func truckSummary(t *detect.Truck, now time.Time, th detect.Thresholds) summary.Truck {
	s := t.Summary(now, th)
	out := summary.Truck{VIN: s.VIN, Online: s.Online, OfflineAfterSeconds: th.OfflineAfterSeconds, LastArrivalAt: s.LastArrivalAt,
		LastSampleAt: s.LastSampleAt, OpenAlarms: []summary.OBDAlarm{}, ExemptionEligible: s.ExemptionEligible, EligibleSince: s.EligibleSince}
	if !s.LastPosition.At.IsZero() {
		out.LastPosition = &summary.Position{Lon: s.LastPosition.Lon, Lat: s.LastPosition.Lat, At: s.LastPosition.At}
	}
	for _, a := range s.OpenAlarms {
		out.OpenAlarms = append(out.OpenAlarms, summary.OBDAlarm{Kind: string(a.Kind), OpenedAt: a.OpenedAt, Message: a.Message, Unsigned: a.Unsigned})
	}
	return out
}

// state runs fn on a truck's state under its partition's lock, restoring the state first.
func (m *Monitor) state(ctx context.Context, vin string, fn func(*truckState)) {
	p := m.part(vin)
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p.truck(ctx, vin))
}

// Summary returns a truck's current state and publishes it.
func (m *Monitor) Summary(ctx context.Context, vin string) (detect.Summary, summary.Truck) {
	var ds detect.Summary
	var st summary.Truck
	now := m.now()
	th := m.Thresholds()
	m.state(ctx, vin, func(ts *truckState) {
		ds = ts.t.Summary(now, th)
		st = truckSummary(ts.t, now, th)
		if ts.plate != "" {
			if err := m.cache.Put(ctx, truckEntry(ts.plate, ts.colour, st)); err == nil {
				ts.summaryAt, ts.changed = now, false
			}
		}
	})
	return ds, st
}

// Close closes an open alarm by hand (the bureau, after checking the truck).
func (m *Monitor) Close(ctx context.Context, vin string, kind detect.Kind, by string) (Alarm, error) {
	var out Alarm
	var err error
	m.state(ctx, vin, func(ts *truckState) {
		var c detect.Change
		c, err = ts.t.Close(kind, m.now().UTC(), by)
		if err != nil {
			return
		}
		out = Alarm{ID: AlarmID(vin, c.Alarm), VIN: vin, Plate: ts.plate, FleetID: ts.fleet, Alarm: c.Alarm}
		if err = m.store.UpdateAlarm(ctx, out, alarmEvent(events.OBDAlarmClosed, out, out.ClosedAt)); err != nil {
			return
		}
		ts.changed = true
		if ts.plate != "" {
			_ = m.cache.Put(ctx, truckEntry(ts.plate, ts.colour, truckSummary(ts.t, m.now(), m.Thresholds())))
		}
	})
	return out, err
}
