package permit

import (
	"context"
	"fmt"
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
	permits, err := s.store.PermitsByPlate(ctx, key)
	if err != nil {
		return summary.MuckStatus{}, err
	}
	passes, err := s.store.PassesByPlate(ctx, key)
	if err != nil {
		return summary.MuckStatus{}, err
	}
	since := now.Add(-time.Duration(s.policy.RecentViolationDays) * 24 * time.Hour)
	vs, err := s.store.ViolationsByPlate(ctx, key, since, maxRecentViolations)
	if err != nil {
		return summary.MuckStatus{}, err
	}
	return SummaryOf(PlateRecords{Plate: plate, Colour: colour, Permits: permits, Passes: passes, Violations: vs}, now), nil
}

// publish rebuilds a plate's summary into the cache and clears the dirty flags of the records
// written (the outbox: a record's flag is set by its write and cleared only once the cache holds
// a summary built after it). Failures are logged and left to Republish: Redis is a cache and the
// write has already succeeded.
func (s *Service) publish(ctx context.Context, plate string, colour vehicleid.Colour, refs ...Ref) {
	ctx, span := s.tracer.Start(ctx, "muck.publish_summary", trace.WithAttributes(attribute.String("clearsky.vehicle.plate", plate)))
	defer span.End()
	if err := s.put(ctx, plate, colour); err != nil {
		s.log.WarnContext(ctx, "summary_cache_put_failed", "plate", plate, "error", err.Error())
		return
	}
	if err := s.store.ClearDirty(ctx, refs); err != nil {
		s.log.WarnContext(ctx, "summary_cache_flag_failed", "plate", plate, "error", err.Error())
	}
}

func (s *Service) put(ctx context.Context, plate string, colour vehicleid.Colour) error {
	m, err := s.build(ctx, plate, colour)
	if err != nil {
		return err
	}
	return s.cache.Put(ctx, vehicleid.Key(plate, colour), m)
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
	if err := s.cache.Put(ctx, vehicleid.Key(pl, c), m); err != nil {
		s.log.WarnContext(ctx, "summary_cache_put_failed", "plate", pl, "error", err.Error())
	}
	return m, nil
}

// Republish rebuilds the summaries of the plates whose records are flagged dirty, and returns
// how many plates it published.
func (s *Service) Republish(ctx context.Context) (int, error) {
	refs, err := s.store.Dirty(ctx, 500)
	if err != nil {
		return 0, err
	}
	byPlate := map[string][]Ref{}
	var order []string
	for _, r := range refs {
		if _, ok := byPlate[r.PlateKey]; !ok {
			order = append(order, r.PlateKey)
		}
		byPlate[r.PlateKey] = append(byPlate[r.PlateKey], r)
	}
	n := 0
	for _, key := range order {
		plate, colour, ok := splitKey(key)
		if !ok {
			continue
		}
		if err := s.put(ctx, plate, colour); err != nil {
			return n, fmt.Errorf("republish %s: %w", key, err)
		}
		if err := s.store.ClearDirty(ctx, byPlate[key]); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Resync rebuilds every plate's summary when the cache has lost its copy (a Redis restart or
// flush) and reports how many it published; it does nothing while the cache is whole.
func (s *Service) Resync(ctx context.Context) (int, error) {
	ok, err := s.cache.Synced(ctx)
	if err != nil || ok {
		return 0, err
	}
	ctx, span := s.tracer.Start(ctx, "muck.resync_cache")
	defer span.End()
	n := 0
	err = s.store.PlateKeys(ctx, func(key string) error {
		plate, colour, ok := splitKey(key)
		if !ok {
			return nil
		}
		if err := s.put(ctx, plate, colour); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("resync cache: %w", err)
	}
	return n, s.cache.MarkSynced(ctx)
}

// Sweep writes "expired" on approved and suspended permits whose validity has ended (reads
// already compute it; the sweep makes it stored, in the history, and in the summary), and
// finishes automatic revocations a crash or an outage interrupted. It returns how many records
// it changed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	ctx, span := s.tracer.Start(ctx, "muck.sweep")
	defer span.End()
	now := s.now().UTC()
	due, err := s.store.DuePermits(ctx, now, 200)
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
		_, err = s.step(ctx, StepChange{ID: pm.ID, FromState: pm.State, FromVersion: pm.Version, To: st.To, Reason: reason,
			Event: Event{Action: Expire, From: pm.State, To: st.To, At: now, By: systemActor, Role: auth.System, Reason: reason}})
		if err != nil {
			s.log.WarnContext(ctx, "permit_expiry_failed", "permit_id", pm.ID, "error", err.Error())
			continue
		}
		n++
	}
	pending, err := s.store.PendingRevocations(ctx, 100)
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
