package platform

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Job is one named piece of a service's background work (republishing stale cache entries,
// finishing interrupted writes, retention); Run returns how many records it handled.
type Job struct {
	Name string
	Run  func(context.Context) (int, error)
}

// Every runs the jobs in order at start and then every d until ctx ends. A failing job is
// logged and retried at the next round; the others still run.
func Every(ctx context.Context, d time.Duration, log *slog.Logger, jobs ...Job) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		for _, j := range jobs {
			n, err := j.Run(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				log.WarnContext(ctx, "background_job_failed", "job", j.Name, "error", err.Error())
			case n > 0:
				log.InfoContext(ctx, "background_job_done", "job", j.Name, "records", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// EnvInt is a whole-number setting read from the environment into Dst.
type EnvInt struct {
	Name string
	Dst  *int
}

// ReadInts reads each variable that is set, refusing anything but a whole number ≥ 1.
func ReadInts(getenv func(string) string, vars ...EnvInt) error {
	for _, v := range vars {
		s := getenv(v.Name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("%s must be a whole number from 1, not %q", v.Name, s)
		}
		*v.Dst = n
	}
	return nil
}
