package sensing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/libs/vehicleinfo"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
)

// Outcome is what an upload did with one reading.
type Outcome string

// Outcomes.
const (
	Created   Outcome = "created"   // stored and judged now
	Duplicate Outcome = "duplicate" // the same reading was stored before: its stored verdict is answered
	Conflict  Outcome = "conflict"  // another reading with this id and different content is stored: refused
)

// UploadItem is the outcome for one reading of a batch, in the batch's order.
type UploadItem struct {
	ReadingID string
	StationID string
	Status    Outcome
	// Reading is the stored reading (for a conflict, the one that stays stored).
	Reading Reading
}

// UploadResult is the outcome of a batch.
type UploadResult struct {
	Items                          []UploadItem
	Created, Duplicates, Conflicts int
}

// system is the principal of the service's own automatic steps.
var system = auth.Principal{Subject: "service:remotesensing", Role: auth.System}

// Upload stores and judges a batch of readings (a remote-sensing station for its own stations,
// the bureau for any). The whole batch is validated first: one bad reading refuses the batch
// and nothing is written. Then each new reading is judged by the limit table in force on its
// date for the vehicle's fuel type, the batch is written in one unordered insert, repeats of
// stored readings answer the stored verdict (or a conflict when their content differs), and the
// exceedances, opened cases and per-plate summaries follow. A reading is never lost to the
// registry: an unknown plate is stored as unknown_vehicle, and when the registry does not answer
// the reading is stored as pending and judged later by Run.
func (s *Service) Upload(ctx context.Context, p auth.Principal, ins []ReadingInput) (UploadResult, error) {
	if !p.Is(auth.Sensor, auth.Bureau) {
		return UploadResult{}, forbidden("role %s may not upload remote-sensing readings", p.Role)
	}
	if len(ins) == 0 {
		return UploadResult{}, apperr.Invalid("body", "send a JSON array of at least one reading")
	}
	if len(ins) > s.opt.MaxBatch {
		return UploadResult{}, apperr.Invalid("body", fmt.Sprintf("at most %d readings per batch; send %d in several batches", s.opt.MaxBatch, len(ins)))
	}
	ctx, span := s.tracer.Start(ctx, "remotesensing.upload", trace.WithAttributes(attribute.Int("clearsky.batch.size", len(ins))))
	defer span.End()
	now := s.now().UTC()
	rs, stations, err := s.prepare(ctx, p, ins, now)
	if err != nil {
		return UploadResult{}, err
	}
	// Repeats inside the batch: only the first reading of a key is judged and written.
	firstOf := map[string]int{}
	var fresh []Reading
	for i, r := range rs {
		if _, ok := firstOf[r.Key]; !ok {
			firstOf[r.Key] = i
			fresh = append(fresh, r)
		}
	}
	s.judgeAll(ctx, p, fresh, stations, now)
	for _, r := range fresh {
		rs[firstOf[r.Key]] = r
	}
	// The outbox jobs go first: if the process dies after the readings are written, Run still
	// derives their exceedances and judges the pending ones.
	var derivable, pending []string
	for _, r := range fresh {
		switch r.Verdict {
		case Exceed:
			derivable = append(derivable, r.Key)
		case Pending:
			pending = append(pending, r.Key)
		}
	}
	deriveJob, err := s.addJob(ctx, derivable, now)
	if err != nil {
		return UploadResult{}, err
	}
	if _, err := s.addJob(ctx, pending, now); err != nil {
		return UploadResult{}, err
	}
	stored, err := s.insert(ctx, fresh)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return UploadResult{}, err
	}
	res, created := outcomes(rs, firstOf, stored)
	span.SetAttributes(attribute.Int("clearsky.batch.created", res.Created), attribute.Int("clearsky.batch.duplicates", res.Duplicates),
		attribute.Int("clearsky.batch.conflicts", res.Conflicts))

	// What follows from the readings: a failure here loses nothing (the job stays for Run) and
	// does not fail the upload, whose readings are stored.
	err = s.deriveTogether(ctx, created)
	switch {
	case err != nil && deriveJob != "":
		s.log.WarnContext(ctx, "derive_deferred", "error", err.Error(), "job", deriveJob)
	case err != nil:
		s.log.WarnContext(ctx, "retest_failed", "error", err.Error())
	case deriveJob != "":
		if err := s.jobs.DeleteJob(ctx, deriveJob); err != nil {
			s.log.WarnContext(ctx, "job_delete_failed", "job", deriveJob, "error", err.Error())
		}
	}
	return res, nil
}

// prepare validates every reading of a batch and finds their stations: every field at fault is
// named, an unknown station is a field error, and a sensor uploading for a station its operator
// does not run is refused.
func (s *Service) prepare(ctx context.Context, p auth.Principal, ins []ReadingInput, now time.Time) ([]Reading, map[string]Station, error) {
	rs := make([]Reading, len(ins))
	var ve apperr.ValidationError
	for i, in := range ins {
		r, err := in.Normalise(now, fmt.Sprintf("[%d].", i))
		var e *apperr.ValidationError
		switch {
		case errors.As(err, &e):
			ve.Fields = append(ve.Fields, e.Fields...)
		case err != nil:
			return nil, nil, err
		}
		rs[i] = r
	}
	if err := ve.Err(); err != nil {
		return nil, nil, err
	}
	// A sensor operator is told the same of another operator's station as of a station that does
	// not exist (it may not see the other's stations, so it may not learn their ids either).
	unknown := func(i int, id string) {
		if p.Role == auth.Sensor {
			ve.Add(fmt.Sprintf("[%d].station_id", i), fmt.Sprintf("operator %s runs no remote-sensing station %q", p.Tenant, id))
			return
		}
		ve.Add(fmt.Sprintf("[%d].station_id", i), fmt.Sprintf("no remote-sensing station %q is registered", id))
	}
	stations := map[string]Station{}
	for i, r := range rs {
		st, ok := stations[r.StationID]
		if !ok {
			var err error
			st, err = s.station(ctx, r.StationID)
			if errors.Is(err, ErrStationNotFound) {
				unknown(i, r.StationID)
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			stations[r.StationID] = st
		}
		if p.Role == auth.Sensor && st.OperatorID != p.Tenant {
			unknown(i, r.StationID)
		}
	}
	if err := ve.Err(); err != nil {
		return nil, nil, err
	}
	return rs, stations, nil
}

// judgeAll looks up the readings' vehicles and judges each reading in place.
func (s *Service) judgeAll(ctx context.Context, p auth.Principal, rs []Reading, stations map[string]Station, now time.Time) {
	plates := make([]Plate, len(rs))
	for i, r := range rs {
		plates[i] = Plate{r.Plate, r.PlateColour}
	}
	found := s.lookup(ctx, plates)
	_, span := s.tracer.Start(ctx, "remotesensing.judge", trace.WithAttributes(attribute.Int("clearsky.batch.readings", len(rs))))
	defer span.End()
	counts := map[Verdict]int{}
	for i := range rs {
		r := &rs[i]
		r.ReceivedAt, r.UploadedBy = now, p.Subject
		s.judge(r, stations[r.StationID], found[vehicleid.Key(r.Plate, r.PlateColour)], now)
		counts[r.Verdict]++
	}
	span.SetAttributes(attribute.Int("clearsky.batch.exceed", counts[Exceed]), attribute.Int("clearsky.batch.pass", counts[Pass]),
		attribute.Int("clearsky.batch.invalid", counts[Invalid]), attribute.Int("clearsky.batch.pending", counts[Pending]))
}

// addJob writes an outbox job for the readings with keys, if any, and returns its id.
func (s *Service) addJob(ctx context.Context, keys []string, now time.Time) (string, error) {
	if len(keys) == 0 {
		return "", nil
	}
	j := Job{ID: newID("job"), ReadingKeys: keys, CreatedAt: now, NotBefore: now.Add(s.opt.JobGrace)}
	return j.ID, s.jobs.InsertJob(ctx, j)
}

// insert writes the readings in one unordered batch and returns, for those whose key was
// already stored, the stored reading.
func (s *Service) insert(ctx context.Context, rs []Reading) (map[string]Reading, error) {
	repeats, err := s.readings.InsertReadings(ctx, rs)
	if err != nil || len(repeats) == 0 {
		return nil, err
	}
	keys := make([]string, len(repeats))
	for i, k := range repeats {
		keys[i] = rs[k].Key
	}
	old, err := s.readings.GetReadings(ctx, keys)
	if err != nil {
		return nil, err
	}
	stored := make(map[string]Reading, len(old))
	for _, r := range old {
		stored[r.Key] = s.Explain(r)
	}
	return stored, nil
}

// outcomes decides each reading's outcome: a key stored before is a duplicate when the content
// is the same and a conflict otherwise; a key new to the store is created by its first reading
// in the batch, and later readings with that key are duplicates or conflicts of the first.
func outcomes(rs []Reading, firstOf map[string]int, stored map[string]Reading) (UploadResult, []Reading) {
	res := UploadResult{Items: make([]UploadItem, len(rs))}
	var created []Reading
	for i, r := range rs {
		it := UploadItem{ReadingID: r.ReadingID, StationID: r.StationID}
		first := rs[firstOf[r.Key]]
		old, repeat := stored[r.Key]
		switch {
		case repeat && old.Hash == r.Hash:
			it.Status, it.Reading = Duplicate, old
		case repeat:
			it.Status, it.Reading = Conflict, old
		case firstOf[r.Key] == i:
			it.Status, it.Reading = Created, r
			created = append(created, r)
		case first.Hash == r.Hash:
			it.Status, it.Reading = Duplicate, first
		default:
			it.Status, it.Reading = Conflict, first
		}
		switch it.Status {
		case Created:
			res.Created++
		case Duplicate:
			res.Duplicates++
		case Conflict:
			res.Conflicts++
		}
		res.Items[i] = it
	}
	return res, created
}

// lookup asks the registry about each distinct plate: one Redis round trip, then the registry's
// API for those Redis lacks, a bounded number at a time.
func (s *Service) lookup(ctx context.Context, plates []Plate) map[string]vehicleinfo.Result {
	refs := make([]vehicleinfo.PlateRef, len(plates))
	for i, p := range plates {
		refs[i] = vehicleinfo.PlateRef{Plate: p.Plate, Colour: p.Colour}
	}
	return s.vehicles.ByPlates(ctx, refs, s.opt.LookupConcurrency)
}

// judge sets r's verdict from the registry's answer about its vehicle and the station.
func (s *Service) judge(r *Reading, st Station, found vehicleinfo.Result, now time.Time) {
	r.OperatorID = st.OperatorID
	if err := found.Err; err != nil {
		if errors.Is(err, apperr.ErrNotFound) || errors.Is(err, apperr.ErrInvalid) {
			r.Verdict, r.JudgedAt = UnknownVehicle, now
			r.Judgement = limits.Judgement{Verdict: limits.NotJudged, Reasons: []limits.Reason{{Code: string(UnknownVehicle),
				Message: "the registry does not know this plate and colour"}}}
		} else {
			r.Verdict = Pending
			r.Judgement = limits.Judgement{Reasons: []limits.Reason{{Code: string(Pending),
				Message: "the registry did not answer; the reading is judged as soon as it does"}}}
		}
		return
	}
	v := found.Vehicle
	r.Trace = Trace{VIN: v.VIN, FuelType: v.FuelType, Maker: v.Maker, FleetID: v.FleetID, InspectionStation: v.InspectionStation,
		RegisteredPlace: v.RegisteredPlace}
	r.Judgement = limits.Judge(s.table(), limits.Input{MeasuredAt: r.MeasuredAt, Values: r.Values, SpeedKmh: r.SpeedKmh,
		AccelMS2: r.AccelMS2, WindMS: r.WindMS, Rain: r.Rain, Fog: r.Fog, Fuel: v.FuelType, SlopePct: st.SlopePct,
		CalibratedOn: st.CalibratedOn, CalibrationValidDays: s.CalibrationValidDays(st)})
	r.Verdict, r.JudgedAt = Verdict(r.Judgement.Verdict), now
}

// derive stores what follows from judged readings: their exceedances, the cases the
// two-in-a-cycle rule opens, the automatic retest of repaired vehicles that pass, and the
// summaries of the plates affected. It is idempotent: running it twice on the same readings
// changes nothing more.
func (s *Service) derive(ctx context.Context, rs []Reading) error {
	var exc []Exceedance
	excPlates, passPlates := map[string]Plate{}, map[string]Plate{}
	latest := map[string]Reading{} // the newest exceeding reading per plate, for the case's chain
	for _, r := range rs {
		es := ExceedancesOf(r)
		k := r.PlateKey()
		if len(es) > 0 {
			exc = append(exc, es...)
			excPlates[k] = Plate{r.Plate, r.PlateColour}
			if l, ok := latest[k]; !ok || r.MeasuredAt.After(l.MeasuredAt) {
				latest[k] = r
			}
		}
		if r.Verdict == Pass {
			passPlates[k] = Plate{r.Plate, r.PlateColour}
		}
	}
	if len(exc) == 0 && len(passPlates) == 0 {
		return nil
	}
	ctx, span := s.tracer.Start(ctx, "remotesensing.derive", trace.WithAttributes(attribute.Int("clearsky.batch.exceedances", len(exc))))
	defer span.End()
	now := s.now().UTC()
	if len(exc) > 0 {
		if err := s.readings.InsertExceedances(ctx, exc); err != nil {
			return err
		}
	}
	all := map[string]Plate{}
	for k, p := range excPlates {
		all[k] = p
	}
	for k, p := range passPlates {
		all[k] = p
	}
	cases, err := s.cases.CasesOf(ctx, keysOf(all), now.Add(-s.opt.cycle()))
	if err != nil {
		return err
	}
	var history []Exceedance
	if len(excPlates) > 0 {
		since := now
		for _, e := range exc {
			if e.MeasuredAt.Before(since) {
				since = e.MeasuredAt
			}
		}
		if history, err = s.readings.ExceedancesOf(ctx, keysOf(excPlates), since.Add(-s.opt.cycle())); err != nil {
			return err
		}
	}
	changed := map[string]Plate{}
	var dirty []Case
	for _, o := range DecideOpenings(append(history, exc...), cases, s.opt.cycle(), s.opt.MinExceedances) {
		c := newCase(o, latest[vehicleid.Key(o.Plate, o.PlateColour)].Trace, now, s.opt.CycleDays)
		span.AddEvent("case_opened", trace.WithAttributes(attribute.String("clearsky.case.id", c.ID),
			attribute.String("clearsky.case.pollutant", string(c.Pollutant)), attribute.String("clearsky.vehicle.plate", c.Plate)))
		switch err := s.cases.InsertCase(ctx, c); {
		case errors.Is(err, ErrCaseOpen):
			continue // opened meanwhile by another batch
		case err != nil:
			return err
		}
		s.log.InfoContext(ctx, "case_opened", "case_id", c.ID, "plate", c.Plate, "pollutant", string(c.Pollutant), "exceedances", len(c.Triggers))
		cases = append(cases, c)
		changed[c.PlateKey()] = Plate{c.Plate, c.PlateColour}
	}
	for i, c := range cases {
		if c.State != Repaired {
			continue
		}
		r, ok := retestReading(rs, c)
		if !ok {
			continue
		}
		n, e := Apply(c, system, Move{To: Retested, Reason: fmt.Sprintf("passing remote-sensing reading %s at station %s on %s (%s within its limit)",
			r.ReadingID, r.StationID, localtime.Format(r.MeasuredAt), c.Pollutant), Reference: r.Key}, now)
		n.RetestReadingKey = r.Key
		switch err := s.cases.UpdateCase(ctx, n, c.State, e); {
		case errors.Is(err, ErrVersionConflict):
			continue
		case err != nil:
			return err
		}
		s.log.InfoContext(ctx, "case_retested", "case_id", c.ID, "reading", r.Key)
		cases[i] = n
		dirty = append(dirty, n)
		changed[n.PlateKey()] = Plate{n.Plate, n.PlateColour}
	}
	// Plates whose summary changed: every plate with a new exceedance, and those whose cases
	// moved (their exceedances are read here when not read above).
	var extra []string
	for k := range changed {
		if _, ok := excPlates[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		more, err := s.readings.ExceedancesOf(ctx, extra, now.Add(-s.opt.cycle()))
		if err != nil {
			return err
		}
		history = append(history, more...)
	}
	for k, p := range excPlates {
		changed[k] = p
	}
	everything := append(history, exc...)
	parts := make([]summary.RemoteSensingStatus, 0, len(changed))
	for _, p := range changed {
		parts = append(parts, SummaryOf(p.Plate, p.Colour, everything, cases, now, s.opt.CycleDays))
	}
	return s.publish(ctx, parts, dirty)
}

// deriveCall is one upload's readings waiting to be derived.
type deriveCall struct {
	ctx  context.Context
	rs   []Reading
	done chan deriveResult
}

// deriveResult is how a call's round ended, and the round's span (for the call's trace to link).
type deriveResult struct {
	err   error
	round trace.SpanContext
}

// deriveTogether derives rs together with the readings of the uploads running at the same time:
// one round derives everything queued while the previous round ran, so the exceedance and case
// histories are read once per round instead of once per batch (on FerretDB each of those reads
// scans its collection). It returns when rs has been derived, with that round's error.
//
// Tracing: each upload has a remotesensing.derive_wait span for its wait; the round is a
// remotesensing.derive_round span, a child of the first queued upload's wait, linked to every
// upload's wait, and every wait links back to its round, so each upload's trace leads to the
// round that did its work.
func (s *Service) deriveTogether(ctx context.Context, rs []Reading) (err error) {
	ctx, span := s.tracer.Start(ctx, "remotesensing.derive_wait", trace.WithAttributes(attribute.Int("clearsky.readings", len(rs))))
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	call := &deriveCall{ctx: ctx, rs: rs, done: make(chan deriveResult, 1)}
	s.dmu.Lock()
	s.dqueue = append(s.dqueue, call)
	start := !s.deriving
	s.deriving = true
	s.dmu.Unlock()
	if start {
		go s.deriveRounds()
	}
	select {
	case res := <-call.done:
		if res.round.IsValid() {
			span.AddLink(trace.Link{SpanContext: res.round})
		}
		return res.err
	case <-ctx.Done():
		return ctx.Err() // the round still runs; the upload's outbox job covers the rest
	}
}

// deriveRounds runs rounds until nothing is queued.
func (s *Service) deriveRounds() {
	for {
		s.dmu.Lock()
		q := s.dqueue
		s.dqueue = nil
		if len(q) == 0 {
			s.deriving = false
			s.dmu.Unlock()
			return
		}
		s.dmu.Unlock()
		var all []Reading
		links := make([]trace.Link, 0, len(q))
		for _, c := range q {
			all = append(all, c.rs...)
			links = append(links, trace.LinkFromContext(c.ctx))
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(q[0].ctx), time.Minute)
		ctx, span := s.tracer.Start(ctx, "remotesensing.derive_round", trace.WithLinks(links...),
			trace.WithAttributes(attribute.Int("clearsky.uploads", len(q)), attribute.Int("clearsky.readings", len(all))))
		err := s.derive(ctx, all)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		cancel()
		for _, c := range q {
			c.done <- deriveResult{err: err, round: span.SpanContext()}
		}
	}
}

// retestReading finds a passing reading of c's plate, measured after the repair was confirmed,
// that judged c's pollutant.
func retestReading(rs []Reading, c Case) (Reading, bool) {
	for _, r := range rs {
		if r.Verdict != Pass || r.PlateKey() != c.PlateKey() || !r.MeasuredAt.After(c.StateSince) {
			continue
		}
		if slices.ContainsFunc(r.Judgement.Results, func(x limits.Result) bool { return x.Parameter == c.Pollutant }) {
			return r, true
		}
	}
	return Reading{}, false
}

func newCase(o Opening, tr Trace, now time.Time, cycleDays int) Case {
	c := Case{ID: newID("rsc"), Plate: o.Plate, PlateColour: o.PlateColour, Pollutant: o.Pollutant, State: Detected,
		OpenedAt: now, StateSince: now, UpdatedAt: now, Trace: tr, Version: 1}
	for _, e := range o.Triggers {
		c.Triggers = append(c.Triggers, Trigger{ReadingKey: e.ReadingKey, ReadingID: e.ReadingID, StationID: e.StationID,
			MeasuredAt: e.MeasuredAt, Value: e.Value, Limit: e.Limit, Unit: e.Unit})
	}
	c.History = []Entry{{Event: EventTransition, To: Detected, By: system.Subject, Role: system.Role, At: now,
		Reason: fmt.Sprintf("%s exceeded its limit %d times within one inspection cycle (%d days)", o.Pollutant, len(o.Triggers), cycleDays)}}
	return c
}

func keysOf(m map[string]Plate) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// publish writes the parts to the cache and then clears the outbox records of the cases they carry.
// A failure is returned for the caller to leave its outbox entry in place.
func (s *Service) publish(ctx context.Context, parts []summary.RemoteSensingStatus, dirty []Case) error {
	if len(parts) == 0 {
		return nil
	}
	ctx, span := s.tracer.Start(ctx, "remotesensing.publish_status", trace.WithAttributes(attribute.Int("clearsky.summary.plates", len(parts))))
	defer span.End()
	if err := s.cache.Put(ctx, entries(parts)...); err != nil {
		span.SetStatus(codes.Error, err.Error())
		return fmt.Errorf("publish remote-sensing status: %w", err)
	}
	for _, c := range dirty {
		if err := s.cases.AckCase(ctx, c.ID, c.Version); err != nil {
			return err
		}
	}
	return nil
}
