package permit

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// maxRecentViolations bounds the summary's violation list.
const maxRecentViolations = 10

// systemActor is who the background steps are recorded as.
const systemActor = "service:muck"

// build reads a plate's records from the store and makes its summary.
func (s *Service) build(ctx context.Context, plate string, colour vehicleid.Colour) (summary.MuckStatus, error) {
	key := vehicleid.Key(plate, colour)
	now := s.now()
	permits, err := s.permits.PermitsByPlate(ctx, key)
	if err != nil {
		return summary.MuckStatus{}, err
	}
	passes, err := s.passes.PassesByPlate(ctx, key)
	if err != nil {
		return summary.MuckStatus{}, err
	}
	since := now.Add(-time.Duration(s.policy.RecentViolationDays) * 24 * time.Hour)
	vs, err := s.violations.ViolationsByPlate(ctx, key, since, maxRecentViolations)
	if err != nil {
		return summary.MuckStatus{}, err
	}
	return SummaryOf(PlateRecords{Plate: plate, Colour: colour, Permits: permits, Passes: passes, Violations: vs}, now), nil
}

// publish rebuilds a plate's summary into the cache and clears the outbox records of those
// written (the outbox: a record's outbox entry is added by its write and cleared only once the
// cache holds a summary built after it). Failures are logged and left to the outbox runner:
// Redis is a cache and the write has already succeeded.
func (s *Service) publish(ctx context.Context, plate string, colour vehicleid.Colour, refs ...Ref) {
	ctx, span := s.tracer.Start(ctx, "muck.publish_summary", trace.WithAttributes(attribute.String("clearsky.vehicle.plate", plate)))
	defer span.End()
	if err := s.put(ctx, plate, colour); err != nil {
		s.log.WarnContext(ctx, "summary_cache_put_failed", "plate", plate, "error", err.Error())
		return
	}
	if err := s.records.Ack(ctx, refs); err != nil {
		s.log.WarnContext(ctx, "summary_cache_flag_failed", "plate", plate, "error", err.Error())
	}
}

func (s *Service) put(ctx context.Context, plate string, colour vehicleid.Colour) error {
	m, err := s.build(ctx, plate, colour)
	if err != nil {
		return err
	}
	return s.cache.Put(ctx, summary.Entry{PlateKey: vehicleid.Key(plate, colour), Data: m})
}

// Status reads a plate's summary from MongoDB, rewrites its cache entry and returns it: the
// checkpoint's fallback when the entry is missing. A plate the service knows nothing about gets
// an empty summary. Police, bureau and the services.
func (s *Service) Status(ctx context.Context, p auth.Principal, plate, colour string) (summary.MuckStatus, error) {
	if !p.Is(auth.Police, auth.Bureau, auth.System, auth.Admin) {
		return summary.MuckStatus{}, forbidden("role %s may not read muck status", p.Role)
	}
	pl, c, err := ParsePlate("plate", "colour", plate, colour)
	if err != nil {
		return summary.MuckStatus{}, err
	}
	m, err := s.build(ctx, pl, c)
	if err != nil {
		return summary.MuckStatus{}, err
	}
	if err := s.cache.Put(ctx, summary.Entry{PlateKey: vehicleid.Key(pl, c), Data: m}); err != nil {
		s.log.WarnContext(ctx, "summary_cache_put_failed", "plate", pl, "error", err.Error())
	}
	return m, nil
}

// Summarise implements partsync.Owner: each plate's summary, rebuilt from MongoDB.
func (s *Service) Summarise(ctx context.Context, plateKeys []string) ([]summary.Entry, error) {
	out := make([]summary.Entry, 0, len(plateKeys))
	for _, k := range plateKeys {
		plate, colour, ok := vehicleid.SplitKey(k)
		if !ok {
			continue
		}
		m, err := s.build(ctx, plate, colour)
		if err != nil {
			return nil, err
		}
		out = append(out, summary.Entry{PlateKey: k, Data: m})
	}
	return out, nil
}

// EachPlate implements partsync.Owner: every plate the service holds records of, 200 at a time.
func (s *Service) EachPlate(ctx context.Context, fn func(plateKeys []string) error) error {
	var keys []string
	err := s.records.PlateKeys(ctx, func(k string) error {
		keys = append(keys, k)
		if len(keys) == 200 {
			err := fn(keys)
			keys = nil
			return err
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return err
	}
	return fn(keys)
}

// Sweep writes "expired" on approved and suspended permits whose validity has ended (reads
// already compute it; the sweep makes it stored, in the history, and in the summary), and
// finishes automatic revocations a crash or an outage interrupted. It returns how many records
// it changed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	ctx, span := s.tracer.Start(ctx, "muck.sweep")
	defer span.End()
	now := s.now().UTC()
	due, err := s.permits.DuePermits(ctx, now, 200)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, pm := range due {
		st, err := Next(pm.State, Expire, auth.System) // the stored state: StateAt already reads "expired"
		if err != nil {
			continue
		}
		reason := "validity ended at " + localtime.Format(pm.ValidTo)
		_, err = s.step(ctx, StepChange{ID: pm.ID, PlateKey: pm.PlateKey(), FromState: pm.State, FromVersion: pm.Version, To: st.To, Reason: reason,
			Event: Event{Action: Expire, From: pm.State, To: st.To, At: now, By: systemActor, Role: auth.System, Reason: reason}})
		if err != nil {
			s.log.WarnContext(ctx, "permit_expiry_failed", "permit_id", pm.ID, "error", err.Error())
			continue
		}
		n++
	}
	pending, err := s.violations.PendingRevocations(ctx, 100)
	if err != nil {
		return n, err
	}
	for _, v := range pending {
		out, refs, err := s.revokeFor(ctx, v)
		if err != nil {
			s.log.WarnContext(ctx, "automatic_revocation_failed", "violation_id", v.ID, "error", err.Error())
			continue
		}
		n++
		if out.Plate != "" {
			s.publish(ctx, out.Plate, out.PlateColour, append(refs, Ref{Coll: ViolationRecords, ID: out.ID, Version: out.Version, PlateKey: out.PlateKey()})...)
		}
	}
	span.SetAttributes(attribute.Int("clearsky.muck.swept", n))
	return n, nil
}
