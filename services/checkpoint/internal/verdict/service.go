package verdict

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// Parts reads and writes the owners' parts in Redis.
type Parts interface {
	// Read returns the stored envelopes of a plate's parts (missing ones absent), whether the
	// registry is known not to have the plate, and the officer's lookup count in this minute, in
	// one round trip.
	Read(ctx context.Context, plateKey, officer string) (Read, error)
	// WriteBack stores an owner's answer unless the owner has stored one meanwhile.
	WriteBack(ctx context.Context, plateKey string, p summary.Part, data []byte) error
	// MarkUnknown remembers for a short while that the registry does not know the plate.
	MarkUnknown(ctx context.Context, plateKey string) error
	// Refund takes back the count of a lookup Read counted that was refused for the rate: a
	// refused lookup does not use up the officer's limit.
	Refund(officer string, w Window)
}

// Read is what one Redis round trip returns.
type Read struct {
	Parts         map[summary.Part][]byte // the stored envelopes (summary.Encode)
	NotInRegistry bool
	Rate          Window // the officer's lookups, this one included
	// Memo, when set, is shared by every Read of the same stored parts (a near cache), so that
	// they are decoded once; nil: decoded for this lookup.
	Memo *Memo
}

// Memo holds a set of parts decoded once. The decoded values are shared: never modified.
type Memo struct {
	once sync.Once
	d    *decoded
}

// decoded is a Read's parts decoded: the ones that decoded, with when they were made.
type decoded struct {
	at       map[summary.Part]time.Time
	older    map[summary.Part]bool // older than a part of the plate served before (highWater)
	registry *summary.Vehicle
	rs       *summary.RemoteSensingStatus
	obd      *summary.Truck
	muck     *summary.MuckStatus
}

// decodedFor is r decoded, its parts checked against the plate's newest seen once per set of
// stored parts (the near cache serves the same set again without a new check).
func (s *Service) decodedFor(r Read, plateKey string, now time.Time) *decoded {
	check := func(d *decoded) *decoded {
		for p, at := range d.at {
			if s.seen.older(plateKey, p, at) {
				if d.older == nil {
					d.older = map[summary.Part]bool{}
				}
				d.older[p] = true
			}
		}
		return d
	}
	if r.Memo == nil {
		return check(decodeParts(r.Parts, now))
	}
	r.Memo.once.Do(func() { r.Memo.d = check(decodeParts(r.Parts, now)) })
	return r.Memo.d
}

// decodeParts reads each part by summary.Read's rule: a part that is unreadable or stale is left
// out, as if missing, and so asked of its owner.
func decodeParts(parts map[summary.Part][]byte, now time.Time) *decoded {
	d := &decoded{at: make(map[summary.Part]time.Time, len(parts))}
	for p, raw := range parts {
		var at time.Time
		var ok bool
		switch p {
		case summary.Registry:
			var v summary.Vehicle
			if v, at, ok = summary.Read[summary.Vehicle](raw, now); ok {
				d.registry = &v
			}
		case summary.RemoteSensing:
			var v summary.RemoteSensingStatus
			if v, at, ok = summary.Read[summary.RemoteSensingStatus](raw, now); ok {
				d.rs = &v
			}
		case summary.OBD:
			var v summary.Truck
			if v, at, ok = summary.Read[summary.Truck](raw, now); ok {
				d.obd = &v
			}
		case summary.Muck:
			var v summary.MuckStatus
			if v, at, ok = summary.Read[summary.MuckStatus](raw, now); ok {
				d.muck = &v
			}
		default:
			continue
		}
		if ok {
			d.at[p] = at
		}
	}
	return d
}

// ErrNotFound from Owners: the owner does not know the plate.
var ErrNotFound = summary.ErrUnknownPlate

// Owners asks the owning services for a part (their status routes).
type Owners interface {
	Fetch(ctx context.Context, p summary.Part, plate string, colour vehicleid.Colour) (json.RawMessage, error)
}

// AlertStore keeps heavy-pollution alerts (MongoDB).
type AlertStore interface {
	// InsertAlert stores a new alert with the events of its declaration.
	InsertAlert(ctx context.Context, a Alert, evs ...events.Draft) error
	// EndAlert ends an alert in force with the events of its end.
	EndAlert(ctx context.Context, id string, at time.Time, by string, evs ...events.Draft) (Alert, error)
	Alerts(ctx context.Context, since time.Time, limit int) ([]Alert, error)
}

// Lookup is one audited checkpoint lookup.
type Lookup struct {
	Officer  string
	Role     auth.Role
	Plate    string
	Colour   string
	At       time.Time
	Position *geo.Point
	Verdict  Verdict
	Reasons  []string // codes
}

// LookupLog records lookups (the audit trail) and reads an officer's recent ones. Record must
// not wait long when it cannot keep up (the store down, its queue full): it fails instead, and
// the lookup is refused with 503 (auditFailed).
type LookupLog interface {
	Record(ctx context.Context, l Lookup) error
	Recent(ctx context.Context, officer string, limit int) ([]Lookup, error)
}

// Config tunes the checkpoint.
type Config struct {
	// RatePerMinute is how many lookups an officer may make per minute (default 120).
	RatePerMinute int64
	// MaxAge is how old a part may be before it is asked of its owner again; OBD parts, which
	// their owner rewrites every 30 s while a truck reports, default to 10 minutes, others to
	// summary.MaxAge (they are rewritten on every change and reconciled hourly).
	MaxAge map[summary.Part]time.Duration
	// Deadline bounds a whole lookup (default 1 s): a part its owner has not given by then is
	// unknown, so the verdict is at least inspect.
	Deadline time.Duration
	// MaxFallbacks bounds the lookups asking the owners at once (default 32; each asks at most
	// four). A lookup that needs the owners past it is refused with 503 and Retry-After rather
	// than queued behind the others.
	MaxFallbacks int
}

// ShedRetryAfter is the Retry-After of a lookup refused because the owners are saturated.
const ShedRetryAfter = time.Second

// Service answers checkpoint lookups and keeps the alerts.
type Service struct {
	cfg    Config
	parts  Parts
	owners Owners
	alerts AlertStore
	log    LookupLog
	logger *slog.Logger
	tracer trace.Tracer
	loc    *time.Location
	now    func() time.Time

	mu      sync.RWMutex
	current []Alert // alerts not yet ended, refreshed from the store
	local   localLimiter
	seen    highWater

	flights  singleflight.Group // concurrent fallbacks for the same plate and part share one call
	inflight sync.Map           // the flights' keys while they run
	slots    chan struct{}      // lookups asking the owners
}

// NewService returns the checkpoint core.
func NewService(cfg Config, parts Parts, owners Owners, alerts AlertStore, log LookupLog, logger *slog.Logger, tp trace.TracerProvider) *Service {
	if cfg.RatePerMinute <= 0 {
		cfg.RatePerMinute = 120
	}
	maxAge := map[summary.Part]time.Duration{summary.Registry: summary.MaxAge, summary.RemoteSensing: summary.MaxAge, summary.OBD: 10 * time.Minute, summary.Muck: summary.MaxAge}
	for k, v := range cfg.MaxAge {
		maxAge[k] = v
	}
	cfg.MaxAge = maxAge
	if cfg.Deadline <= 0 {
		cfg.Deadline = time.Second
	}
	if cfg.MaxFallbacks <= 0 {
		cfg.MaxFallbacks = 32
	}
	return &Service{cfg: cfg, parts: parts, owners: owners, alerts: alerts, log: log, logger: logger,
		tracer: tp.Tracer("github.com/clearsky/clearsky/services/checkpoint"), loc: localtime.Shanghai(), now: time.Now,
		seen: highWater{seen: map[hwKey]int64{}}, slots: make(chan struct{}, cfg.MaxFallbacks)}
}

// Answer is a lookup's result.
type Answer struct {
	Plate  string
	Colour vehicleid.Colour // "" when none was given and the registry has the plate under none
	// ColourUsed is set when the officer gave no colour: the one colour the registry has the
	// plate under, which the answer is for.
	ColourUsed vehicleid.Colour
	VIN        string
	At         time.Time
	Verdict    Verdict
	Reasons    []Reason
	Parts      []PartInfo
	Alerts     []Alert // in force now
}

// Lookup answers an officer for a plate. Only police and bureau may look up; every lookup is
// recorded, and each officer is limited to RatePerMinute lookups a minute.
func (s *Service) Lookup(ctx context.Context, p auth.Principal, plate, colour string, pos *geo.Point) (Answer, error) {
	if !p.Is(auth.Police, auth.Bureau, auth.Admin) {
		return Answer{}, fmt.Errorf("only the police and the bureau look plates up: %w", apperr.ErrForbidden)
	}
	var ve apperr.ValidationError
	pl, err := vehicleid.NormalisePlate(plate)
	if err != nil {
		ve.Add("plate", err.Error())
	}
	var c vehicleid.Colour
	if colour != "" {
		if c, err = vehicleid.ParseColour(colour); err != nil {
			ve.Add("colour", err.Error())
		}
	}
	if pos != nil && !pos.Valid() { // the edge refuses it first; the audit trail must never hold it
		ve.Add("lat", "a position is a finite latitude in [-90, 90] and longitude in [-180, 180]")
	}
	if err := ve.Err(); err != nil {
		return Answer{}, err
	}
	if c == "" {
		return s.lookupAnyColour(ctx, p, pl, pos)
	}
	return s.lookup(ctx, p, pl, c, pos)
}

// lookup answers for a plate and its colour (both valid).
func (s *Service) lookup(ctx context.Context, p auth.Principal, pl string, c vehicleid.Colour, pos *geo.Point) (Answer, error) {
	key := vehicleid.Key(pl, c)
	ctx, span := s.tracer.Start(ctx, "checkpoint.lookup")
	defer span.End()
	if span.IsRecording() { // attributes cost allocations: only for spans that are kept
		span.SetAttributes(attribute.String("clearsky.plate.key", key))
	}
	now := s.now()
	// What asking the owners needs (the deadline's context, a place among the fallbacks) is made
	// only when a part must be asked: a lookup answered from Redis or memory sets no timer.
	var fb *fallbacks
	defer func() {
		if fb != nil {
			fb.end()
		}
	}()
	asking := func() *fallbacks {
		if fb == nil {
			fb = s.startFallbacks(ctx, now)
		}
		return fb
	}
	rd, err := s.parts.Read(ctx, key, p.Subject) // bounded by the cache's own timeout
	if err != nil {
		// Redis is down: every part comes from its owner, and the rate limit is this instance's.
		s.logger.WarnContext(ctx, "checkpoint_redis_read_failed", "error", err.Error())
		rd = Read{Parts: map[summary.Part][]byte{}, Rate: s.local.hit(p.Subject, now)}
	}
	if err := s.overRate(p.Subject, rd.Rate, now, err == nil); err != nil {
		return Answer{}, err
	}
	in := Input{At: now, Position: pos, Loc: s.loc, States: make(map[summary.Part]PartState, 4), Alerts: s.active(now)}
	var infos [len(answerParts)]PartInfo // by answerParts' order; an empty Part: not looked at
	// Registry first: it says which other parts apply. A part is used when it decodes and is
	// younger than its maximum age; otherwise it is asked of its owner.
	dec := s.decodedFor(rd, key, now)
	if at, ok := dec.at[summary.Registry]; ok && now.Sub(at) <= s.cfg.MaxAge[summary.Registry] && !dec.older[summary.Registry] {
		in.Registry = dec.registry
		infos[0] = PartInfo{Part: summary.Registry, State: Cached, UpdatedAt: at}
	}
	switch {
	case in.Registry != nil:
	case rd.NotInRegistry:
		in.States[summary.Registry] = NotFound
		infos[0] = PartInfo{Part: summary.Registry, State: NotFound}
	default:
		f := asking()
		in.Registry, infos[0] = fetch[summary.Vehicle](f.ctx, s, f.adm, summary.Registry, key, pl, c, now, in.States)
	}
	want := answerParts[1:2] // remote sensing; OBD for trucks that report, muck for registered vehicles
	if v := in.Registry; v != nil {
		want = answerParts[1:]
		if !v.TerminalBound && !(v.Heavy && v.FuelType == "diesel") {
			want = []summary.Part{summary.RemoteSensing, summary.Muck}
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, part := range want {
		if at, ok := dec.at[part]; ok {
			setDecoded(&in, part, dec) // a stale part stays in when its owner cannot be asked
			if now.Sub(at) <= s.cfg.MaxAge[part] && !dec.older[part] {
				infos[partIndex(part)] = PartInfo{Part: part, State: Cached, UpdatedAt: at}
				continue
			}
		}
		f := asking()
		wg.Add(1)
		go func() {
			defer wg.Done()
			states := map[summary.Part]PartState{}
			raw, info := fetchRaw(f.ctx, s, f.adm, part, key, pl, c, now, states)
			mu.Lock()
			defer mu.Unlock()
			infos[partIndex(part)] = info
			for k, v := range states {
				in.States[k] = v
			}
			if raw != nil {
				setPart(&in, part, raw)
			}
		}()
	}
	wg.Wait()
	if shedAny(in.States) {
		return Answer{}, errShed
	}
	verdict, reasons := Decide(in) // microseconds, pure: the lookup's span carries its outcome
	if span.IsRecording() {
		span.SetAttributes(attribute.String("clearsky.checkpoint.verdict", string(verdict)), attribute.Int("clearsky.checkpoint.reasons", len(reasons)))
	}
	ans := Answer{Plate: pl, Colour: c, At: now, Verdict: verdict, Reasons: reasons, Alerts: in.Alerts}
	if in.Registry != nil {
		ans.VIN = in.Registry.VIN
	}
	ans.Parts = make([]PartInfo, len(answerParts))
	for i, part := range answerParts {
		ans.Parts[i] = infos[i]
		if infos[i].Part == "" {
			ans.Parts[i] = PartInfo{Part: part, State: Skipped}
		}
	}
	codes := make([]string, len(reasons))
	for i, r := range reasons {
		codes[i] = r.Code
	}
	if err := s.log.Record(ctx, Lookup{Officer: p.Subject, Role: p.Role, Plate: pl, Colour: string(c), At: now, Position: pos, Verdict: verdict, Reasons: codes}); err != nil {
		return Answer{}, auditFailed(err)
	}
	return ans, nil
}

// probeOfficer is whom the registry reads of a lookup without a colour are counted for: the
// officer's own lookup is counted once, by the read that answers it.
const probeOfficer = "checkpoint:colour-probe"

// lookupAnyColour answers for a plate given without its colour. The checkpoint never guesses
// one: the plate's registry part is read under every colour (Redis or the near cache, then the
// registry for a part Redis lacks, as for any lookup), and the answer is for the one colour the
// registry has it under (Answer.ColourUsed says which); with none, the unknown-plate answer;
// with several, a 400 naming colour with the colours found. The lookup with a colour does none
// of this.
func (s *Service) lookupAnyColour(ctx context.Context, p auth.Principal, pl string, pos *geo.Point) (Answer, error) {
	ctx, span := s.tracer.Start(ctx, "checkpoint.find_colour")
	now := s.now()
	actx, cancel := context.WithDeadline(ctx, now.Add(s.cfg.Deadline))
	defer cancel()
	type probe struct{ found, unknown, shed bool }
	probes := make([]probe, len(vehicleid.Colours))
	adm := &admission{slots: s.slots}
	var wg sync.WaitGroup
	for i, c := range vehicleid.Colours {
		wg.Go(func() {
			key := vehicleid.Key(pl, c)
			if rd, err := s.parts.Read(actx, key, probeOfficer); err == nil {
				if d := s.decodedFor(rd, key, now); d.at[summary.Registry].After(now.Add(-s.cfg.MaxAge[summary.Registry])) && !d.older[summary.Registry] {
					probes[i].found = true
					return
				}
				if rd.NotInRegistry {
					return
				}
			}
			states := map[summary.Part]PartState{}
			raw, _ := fetchRaw(actx, s, adm, summary.Registry, key, pl, c, now, states)
			probes[i] = probe{found: raw != nil, unknown: states[summary.Registry] == Unknown, shed: states[summary.Registry] == shed}
		})
	}
	wg.Wait()
	adm.release()
	span.End()
	var found []vehicleid.Colour
	unknown := false
	for i, pr := range probes {
		if pr.found {
			found = append(found, vehicleid.Colours[i])
		}
		if pr.shed {
			return Answer{}, errShed
		}
		unknown = unknown || pr.unknown
	}
	if len(found) == 1 {
		a, err := s.lookup(ctx, p, pl, found[0], pos)
		a.ColourUsed = found[0]
		return a, err
	}
	// No colour to read the plate's parts under: count the lookup by reading the first colour's
	// (the near cache holds them from the probe).
	rd, err := s.parts.Read(actx, vehicleid.Key(pl, vehicleid.Colours[0]), p.Subject)
	if err != nil {
		rd.Rate = s.local.hit(p.Subject, now)
	}
	if err := s.overRate(p.Subject, rd.Rate, now, err == nil); err != nil {
		return Answer{}, err
	}
	if len(found) > 1 {
		names := make([]string, len(found))
		for i, c := range found {
			names[i] = string(c)
		}
		return Answer{}, apperr.Invalid("colour", fmt.Sprintf("the registry has %s under %d colours (%s): give the plate's colour", pl, len(found), strings.Join(names, ", ")))
	}
	// Not in the registry under any colour (or unknown where the registry did not answer).
	state := NotFound
	if unknown {
		state = Unknown
	}
	in := Input{At: now, Position: pos, Loc: s.loc, States: map[summary.Part]PartState{summary.Registry: state}, Alerts: s.active(now)}
	verdict, reasons := Decide(in)
	ans := Answer{Plate: pl, At: now, Verdict: verdict, Reasons: reasons, Alerts: in.Alerts, Parts: make([]PartInfo, len(answerParts))}
	for i, part := range answerParts {
		ans.Parts[i] = PartInfo{Part: part, State: Skipped}
	}
	ans.Parts[0].State = state
	codes := make([]string, len(reasons))
	for i, r := range reasons {
		codes[i] = r.Code
	}
	if err := s.log.Record(ctx, Lookup{Officer: p.Subject, Role: p.Role, Plate: pl, At: now, Position: pos, Verdict: verdict, Reasons: codes}); err != nil {
		return Answer{}, auditFailed(err)
	}
	return ans, nil
}

// auditFailed is the answer to a lookup whose audit record could not be queued within the
// lookup's deadline (the audit trail's store is down and its queue full): no lookup is answered
// unaudited, and none waits past its deadline.
func auditFailed(err error) error {
	return apperr.RetryAfter(fmt.Errorf("the lookup could not be audited (%v); try again shortly: %w", err, apperr.ErrUnavailable), time.Second)
}

// answerParts are the parts of an answer, in its order.
var answerParts = [...]summary.Part{summary.Registry, summary.RemoteSensing, summary.OBD, summary.Muck}

func partIndex(p summary.Part) int {
	for i, q := range answerParts {
		if q == p {
			return i
		}
	}
	panic("checkpoint: no part " + string(p))
}

func decodeInto[T any](raw []byte) *T {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil
	}
	return &v
}

// setDecoded puts a decoded part into the input.
func setDecoded(in *Input, p summary.Part, d *decoded) {
	switch p {
	case summary.RemoteSensing:
		in.RS = d.rs
	case summary.OBD:
		in.OBD = d.obd
	case summary.Muck:
		in.Muck = d.muck
	}
}

func setPart(in *Input, p summary.Part, raw []byte) {
	switch p {
	case summary.RemoteSensing:
		in.RS = decodeInto[summary.RemoteSensingStatus](raw)
	case summary.OBD:
		in.OBD = decodeInto[summary.Truck](raw)
	case summary.Muck:
		in.Muck = decodeInto[summary.MuckStatus](raw)
	}
}

// fetchRaw asks a part's owner, records the part's state, and writes the answer back to Redis.
func fetchRaw(ctx context.Context, s *Service, adm *admission, part summary.Part, key, plate string, c vehicleid.Colour, now time.Time, states map[summary.Part]PartState) ([]byte, PartInfo) {
	raw, err := s.ask(ctx, adm, part, key, plate, c)
	switch {
	case errors.Is(err, errShed):
		states[part] = shed
		return nil, PartInfo{Part: part, State: Unknown}
	case errors.Is(err, ErrNotFound):
		states[part] = NotFound
		if part == summary.Registry {
			if err := s.parts.MarkUnknown(ctx, key); err != nil {
				s.logger.WarnContext(ctx, "checkpoint_mark_unknown_failed", "error", err.Error())
			}
		}
		return nil, PartInfo{Part: part, State: NotFound}
	case err != nil:
		s.logger.WarnContext(ctx, "checkpoint_owner_unavailable", "part", string(part), "error", err.Error())
		states[part] = Unknown
		return nil, PartInfo{Part: part, State: Unknown}
	}
	if err := s.parts.WriteBack(ctx, key, part, raw); err != nil {
		s.logger.WarnContext(ctx, "checkpoint_write_back_failed", "part", string(part), "error", err.Error())
	}
	return raw, PartInfo{Part: part, State: Fetched, UpdatedAt: now}
}

func fetch[T any](ctx context.Context, s *Service, adm *admission, part summary.Part, key, plate string, c vehicleid.Colour, now time.Time, states map[summary.Part]PartState) (*T, PartInfo) {
	raw, info := fetchRaw(ctx, s, adm, part, key, plate, c, now, states)
	if raw == nil {
		return nil, info
	}
	return decodeInto[T](raw), info
}

// overRate refuses a lookup past the officer's limit, saying when to try again, and takes its
// count back (from Redis's counts when they counted it, else from this instance's).
func (s *Service) overRate(officer string, w Window, now time.Time, shared bool) error {
	if !w.Over(now, s.cfg.RatePerMinute) {
		return nil
	}
	if shared {
		s.parts.Refund(officer, w)
	} else {
		s.local.refund(officer, w)
	}
	w.Cur--
	return apperr.RetryAfter(fmt.Errorf("officer %s made more than %d lookups in the last minute: %w", officer, s.cfg.RatePerMinute, apperr.ErrTooManyRequests),
		w.RetryAfter(now, s.cfg.RatePerMinute))
}

// localLimiter counts lookups per officer when Redis cannot.
type localLimiter struct {
	mu     sync.Mutex
	counts minuteCounts
}

func (l *localLimiter) hit(officer string, now time.Time) Window {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := now.Unix() / 60
	l.counts.roll(m)
	l.counts.cur[officer]++
	return Window{Minute: m, Cur: l.counts.cur[officer], Prev: l.counts.prev[officer]}
}

func (l *localLimiter) refund(officer string, w Window) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts.minute == w.Minute && l.counts.cur[officer] > 0 {
		l.counts.cur[officer]--
	}
}

// active returns the alerts in force at t.
func (s *Service) active(t time.Time) []Alert {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Alert
	for _, a := range s.current {
		if a.ActiveAt(t) {
			out = append(out, a)
		}
	}
	return out
}

// RefreshAlerts reloads the alerts that have not ended (the checkpoint runs it every few
// seconds, so every replica sees a new alert quickly; the one that declared it at once).
func (s *Service) RefreshAlerts(ctx context.Context) error {
	as, err := s.alerts.Alerts(ctx, s.now().Add(-31*24*time.Hour), 1000)
	if err != nil {
		return err
	}
	now := s.now()
	var cur []Alert
	for _, a := range as {
		if now.Before(a.EndsAt) && (a.EndedAt.IsZero() || now.Before(a.EndedAt)) {
			cur = append(cur, a)
		}
	}
	s.mu.Lock()
	s.current = cur
	s.mu.Unlock()
	return nil
}

// DeclareAlert records a heavy-pollution alert (the bureau). With no restrictions given, the
// level's defaults apply.
func (s *Service) DeclareAlert(ctx context.Context, p auth.Principal, a Alert) (Alert, error) {
	if !p.Is(auth.Bureau) {
		return Alert{}, fmt.Errorf("only the bureau declares alerts: %w", apperr.ErrForbidden)
	}
	if err := a.Validate(); err != nil {
		return Alert{}, err
	}
	now := s.now().UTC()
	a.ID = fmt.Sprintf("alert-%s-%s", now.In(s.loc).Format("20060102-150405"), a.Level)
	a.CreatedAt, a.CreatedBy = now, p.Subject
	// An alert declared while another is in force changes the alert the public and the
	// checkpoints go by.
	typ, data := events.AlertDeclared, map[string]any{"level": string(a.Level), "starts_at": localtime.Format(a.StartsAt), "ends_at": localtime.Format(a.EndsAt)}
	if prev := s.active(now); len(prev) > 0 {
		typ, data["previous_level"] = events.AlertChanged, string(prev[0].Level)
	}
	if a.Reason != "" {
		data["reason"] = a.Reason
	}
	if err := s.alerts.InsertAlert(ctx, a, alertEvent(typ, a.ID, now, data)); err != nil {
		return Alert{}, err
	}
	return a, s.RefreshAlerts(ctx)
}

// alertEvent is an alert's domain event: an alert concerns every organisation.
func alertEvent(t events.Type, id string, at time.Time, data map[string]any) events.Draft {
	return events.Draft{Type: t, At: at, Subject: id, Link: "/v1/alerts", Organisations: []string{events.Everyone}, Data: data}
}

// EndAlert lifts an alert early (the bureau).
func (s *Service) EndAlert(ctx context.Context, p auth.Principal, id string) (Alert, error) {
	if !p.Is(auth.Bureau) {
		return Alert{}, fmt.Errorf("only the bureau ends alerts: %w", apperr.ErrForbidden)
	}
	now := s.now().UTC()
	a, err := s.alerts.EndAlert(ctx, id, now, p.Subject, alertEvent(events.AlertEnded, id, now, map[string]any{}))
	if err != nil {
		return Alert{}, err
	}
	return a, s.RefreshAlerts(ctx)
}

// Alerts returns the alert history, newest first, and the ones in force now.
func (s *Service) Alerts(ctx context.Context, p auth.Principal, limit int) ([]Alert, []Alert, error) {
	if !p.Is(auth.Bureau, auth.Police, auth.Admin, auth.Fleet, auth.Construction) {
		return nil, nil, fmt.Errorf("role %s may not read alerts: %w", p.Role, apperr.ErrForbidden)
	}
	all, err := s.alerts.Alerts(ctx, time.Time{}, limit)
	if err != nil {
		return nil, nil, err
	}
	return all, s.active(s.now()), nil
}

// AlertsInForce returns the heavy-pollution alerts in force now: public, for anyone.
func (s *Service) AlertsInForce() []Alert { return s.active(s.now()) }

// Recent returns the caller's own latest lookups.
func (s *Service) Recent(ctx context.Context, p auth.Principal, limit int) ([]Lookup, error) {
	if !p.Is(auth.Police, auth.Bureau, auth.Admin) {
		return nil, fmt.Errorf("only officers have lookups: %w", apperr.ErrForbidden)
	}
	return s.log.Recent(ctx, p.Subject, limit)
}
