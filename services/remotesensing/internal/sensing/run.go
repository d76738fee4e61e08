package sensing

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/vehicleid"
)

// ProcessJobs finishes the outbox entries left by uploads that did not finish (a crash, a
// MongoDB or Redis failure) and judges the readings that waited for the registry. It returns how
// many entries it completed.
func (s *Service) ProcessJobs(ctx context.Context) (int, error) {
	now := s.now().UTC()
	jobs, err := s.jobs.DueJobs(ctx, now, 50)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, j := range jobs {
		// With several replicas each may find the same job due: the one whose claim lands runs
		// it; if it dies meanwhile, the job is due again when the claim runs out.
		claimed, err := s.jobs.ClaimJob(ctx, j.ID, j.NotBefore, now.Add(JobClaim))
		if err != nil {
			return done, err
		}
		if !claimed {
			continue
		}
		finished, err := s.runJob(ctx, j)
		if err != nil || !finished {
			if err != nil {
				s.log.WarnContext(ctx, "job_failed", "job", j.ID, "attempts", j.Attempts+1, "error", err.Error())
			}
			if rerr := s.jobs.RescheduleJob(ctx, j.ID, now.Add(backoff(s.opt.JobRetry, j.Attempts)), j.Attempts+1); rerr != nil {
				return done, rerr
			}
			continue
		}
		if err := s.jobs.DeleteJob(ctx, j.ID); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

// JobClaim is how long a replica holds an outbox job it runs before another may take it.
const JobClaim = 5 * time.Minute

// backoff is the wait before an outbox entry's next attempt: first, doubling up to 10 min.
func backoff(first time.Duration, attempts int) time.Duration {
	d := first
	for range min(attempts, 10) {
		d *= 2
	}
	return min(d, 10*time.Minute)
}

// runJob judges the entry's pending readings the registry now answers for and derives what
// follows from its judged readings; finished is false while some reading still waits.
func (s *Service) runJob(ctx context.Context, j Job) (bool, error) {
	ctx, span := s.tracer.Start(ctx, "remotesensing.run_job", trace.WithAttributes(attribute.String("clearsky.job.id", j.ID),
		attribute.Int("clearsky.job.readings", len(j.ReadingKeys))))
	defer span.End()
	rs, err := s.readings.GetReadings(ctx, j.ReadingKeys)
	if err != nil {
		return false, err
	}
	var plates []Plate
	for _, r := range rs {
		if r.Verdict == Pending {
			plates = append(plates, Plate{r.Plate, r.PlateColour})
		}
	}
	found := s.lookup(ctx, plates)
	now := s.now().UTC()
	waiting := false
	judged := make([]Reading, 0, len(rs))
	for _, r := range rs {
		r = s.Explain(r)
		if r.Verdict == Pending {
			st, err := s.station(ctx, r.StationID)
			if err != nil {
				return false, fmt.Errorf("station of reading %s: %w", r.Key, err)
			}
			s.judge(&r, st, found[vehicleid.Key(r.Plate, r.PlateColour)], now)
			if r.Verdict == Pending {
				waiting = true
				continue
			}
			ok, err := s.readings.SetJudgement(ctx, r)
			if err != nil {
				return false, err
			}
			if !ok {
				continue // judged meanwhile by another instance, which derives it
			}
			s.log.InfoContext(ctx, "pending_reading_judged", "reading", r.Key, "verdict", string(r.Verdict))
		}
		judged = append(judged, r)
	}
	if err := s.derive(ctx, judged); err != nil {
		return false, err
	}
	return !waiting, nil
}
