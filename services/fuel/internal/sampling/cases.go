package sampling

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

// syncCase brings the case of a sample in line with the sample's current revision, then clears
// the sample's case-pending flag: a failing sample without a case opens one; a case whose
// sample was corrected is updated, reopened if the sample still fails, closed if it now
// passes. Opening is idempotent (the case id derives from the sample id).
func (s *Service) syncCase(ctx context.Context, sm Sample, by string) (Case, error) {
	ctx, span := s.tracer.Start(ctx, "fuel.sync_case", trace.WithAttributes(attribute.String("clearsky.sample.id", sm.ID),
		attribute.String("clearsky.sample.verdict", string(sm.Verdict))))
	defer span.End()
	c, err := s.cases.GetCase(ctx, CaseID(sm.ID))
	switch {
	case errors.Is(err, ErrCaseNotFound) && sm.Verdict == limits.Fail:
		if c, err = s.openCase(ctx, sm, by); err != nil {
			return Case{}, err
		}
	case errors.Is(err, ErrCaseNotFound): // passing, never failed: nothing to do
		return Case{}, s.samples.SetSampleCase(ctx, sm.ID, "", sm.Revision)
	case err != nil:
		return Case{}, err
	case c.Revision != sm.Revision:
		if c, err = s.reviseCase(ctx, c, sm, by); err != nil {
			return Case{}, err
		}
	}
	span.SetAttributes(attribute.String("clearsky.case.id", c.ID), attribute.Bool("clearsky.case.escalated", c.Escalated))
	return c, s.samples.SetSampleCase(ctx, sm.ID, c.ID, sm.Revision)
}

// openCase opens the case of a failing sample: its failures, the trace-back chain, follow-up
// samples upstream, and escalation when the site failed EscalateAfter times within
// EscalateMonths (counting this sample).
func (s *Service) openCase(ctx context.Context, sm Sample, by string) (Case, error) {
	site, err := s.sites.GetSite(ctx, sm.SiteID)
	if err != nil {
		return Case{}, fmt.Errorf("open case for %s: %w", sm.ID, err)
	}
	chain, err := s.trace(ctx, site, sm.Product)
	if err != nil {
		return Case{}, err
	}
	prior, err := s.samples.FailuresAt(ctx, sm.SiteID, sm.SampledAt.AddDate(0, -s.policy.EscalateMonths, 0), sm.SampledAt)
	if err != nil {
		return Case{}, err
	}
	if !slices.Contains(prior, sm.ID) {
		prior = append(prior, sm.ID)
	}
	slices.Sort(prior)
	now := s.now().UTC()
	c := Case{ID: CaseID(sm.ID), SampleID: sm.ID, SiteID: site.ID, SiteName: site.Name, SiteKind: site.Kind, Product: sm.Product, Grade: sm.Grade,
		SampledAt: sm.SampledAt, OpenedAt: now, Failures: failuresOf(sm), Findings: sm.Findings, Revision: sm.Revision,
		Chain: chain, FollowUps: FollowUps(chain, sm.Product, sm.ID), PriorFailures: prior, Status: CaseOpen, Version: 1}
	c.Events = []CaseEvent{{At: now, By: by, What: fmt.Sprintf("opened: sample %s failed (revision %d)", sm.ID, sm.Revision)}}
	if len(prior) >= s.policy.EscalateAfter {
		c.Escalated = true
		c.EscalationReason = fmt.Sprintf("%d failing samples at site %s within %d months (%s): repeated failure",
			len(prior), site.ID, s.policy.EscalateMonths, strings.Join(prior, ", "))
		c.Events = append(c.Events, CaseEvent{At: now, By: by, What: "escalated: " + c.EscalationReason})
		s.log.InfoContext(ctx, "case_escalated", "case_id", c.ID, "site_id", site.ID, "failures", len(prior))
	}
	if err := s.cases.InsertCase(ctx, c); err != nil {
		if errors.Is(err, ErrCaseExists) {
			return s.cases.GetCase(ctx, c.ID)
		}
		return Case{}, err
	}
	return c, nil
}

// reviseCase updates a case after its sample was corrected.
func (s *Service) reviseCase(ctx context.Context, c Case, sm Sample, by string) (Case, error) {
	now := s.now().UTC()
	c.Failures, c.Findings, c.Revision = failuresOf(sm), sm.Findings, sm.Revision
	switch {
	case sm.Verdict == limits.Pass && c.Status == CaseOpen:
		c.Status, c.ClosedAt, c.ClosedBy = CaseClosed, now, by
		c.Resolution = fmt.Sprintf("the corrected sample passes (revision %d)", sm.Revision)
		c.Events = append(c.Events, CaseEvent{At: now, By: by, What: "closed: " + c.Resolution})
	case sm.Verdict == limits.Fail && c.Status == CaseClosed:
		c.Status, c.ClosedAt, c.ClosedBy, c.Resolution = CaseOpen, time.Time{}, "", ""
		c.Events = append(c.Events, CaseEvent{At: now, By: by, What: fmt.Sprintf("reopened: the corrected sample still fails (revision %d)", sm.Revision)})
	default:
		c.Events = append(c.Events, CaseEvent{At: now, By: by, What: fmt.Sprintf("updated: sample corrected to revision %d, %s", sm.Revision, sm.Verdict)})
	}
	c.Version++
	if err := s.cases.ReplaceCase(ctx, c); err != nil {
		return Case{}, err
	}
	return c, nil
}

// ResolvePending brings in line the cases of samples whose case-pending flag is set (the
// outbox: a crash or a failure after a sample write leaves it set). It reports how many it
// handled; the service runs it on a timer.
func (s *Service) ResolvePending(ctx context.Context) (int, error) {
	pending, err := s.samples.CasePending(ctx, 200)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sm := range pending {
		if _, err := s.syncCase(ctx, sm, "system"); err != nil {
			return n, fmt.Errorf("case of sample %s: %w", sm.ID, err)
		}
		n++
	}
	return n, nil
}

// GetCase returns a case (bureau only).
func (s *Service) GetCase(ctx context.Context, p auth.Principal, id string) (Case, error) {
	if !p.Is(auth.Bureau, auth.Admin) {
		return Case{}, forbidden("role %s may not read cases", p.Role)
	}
	return s.cases.GetCase(ctx, id)
}

// ListCases lists cases newest first (bureau only).
func (s *Service) ListCases(ctx context.Context, p auth.Principal, f CaseFilter, after Key, limit int) ([]Case, error) {
	if !p.Is(auth.Bureau, auth.Admin) {
		return nil, forbidden("role %s may not read cases", p.Role)
	}
	if f.Status != "" && f.Status != CaseOpen && f.Status != CaseClosed {
		return nil, apperr.Invalid("status", "must be open or closed")
	}
	return s.cases.ListCases(ctx, f, after, limit)
}

// CloseCase closes an open case with the bureau's resolution (the follow-up done, the site
// penalised or shut down).
func (s *Service) CloseCase(ctx context.Context, p auth.Principal, id, resolution string) (Case, error) {
	if !p.Is(auth.Bureau) {
		return Case{}, forbidden("role %s may not close cases", p.Role)
	}
	resolution = strings.TrimSpace(resolution)
	if resolution == "" {
		return Case{}, apperr.Invalid("resolution", "required: what was done")
	}
	c, err := s.cases.GetCase(ctx, id)
	if err != nil {
		return Case{}, err
	}
	if c.Status == CaseClosed {
		if c.Resolution == resolution {
			return c, nil
		}
		return Case{}, ErrCaseClosed
	}
	now := s.now().UTC()
	c.Status, c.Resolution, c.ClosedAt, c.ClosedBy = CaseClosed, resolution, now, p.Subject
	c.Events = append(c.Events, CaseEvent{At: now, By: p.Subject, What: "closed: " + resolution})
	c.Version++
	if err := s.cases.ReplaceCase(ctx, c); err != nil {
		return Case{}, err
	}
	return c, nil
}
