package sampling

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

// CaseLink records on a sample the case it has (CaseID, empty for a passing sample that never
// failed) and clears its case-pending flag, if the sample is still at Revision.
type CaseLink struct {
	SampleID string
	CaseID   string
	Revision int
}

// syncCases brings the cases of samples in line with their current revisions, then clears the
// case-pending flags of those that have it set: a failing sample without a case opens one; the
// case of a pending sample that was corrected is updated, reopened if the sample still fails,
// closed if it now passes. Opening is idempotent (the case id derives from the sample id). An
// imported sample is stored already linked to its case (no flag; the import job is what
// completes it after a crash), so only its missing case is opened. However many samples, it
// reads the cases, the sites, the supply chains and the failures that escalate in a few batched
// queries and writes the new cases in one insert: an import of thousands of samples costs
// about what a few do. It returns the cases by sample id.
func (s *Service) syncCases(ctx context.Context, sms []Sample, by string) (map[string]Case, error) {
	ctx, span := s.tracer.Start(ctx, "fuel.sync_case", trace.WithAttributes(attribute.Int("clearsky.case.samples", len(sms))))
	defer span.End()
	if len(sms) == 1 {
		span.SetAttributes(attribute.String("clearsky.sample.id", sms[0].ID), attribute.String("clearsky.sample.verdict", string(sms[0].Verdict)))
	}
	ids := make([]string, len(sms))
	for i, sm := range sms {
		ids[i] = CaseID(sm.ID)
	}
	existing, err := s.cases.GetCases(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := map[string]Case{}
	var open []Sample
	var links []CaseLink
	for _, sm := range sms {
		c, ok := existing[CaseID(sm.ID)]
		switch {
		case !ok && sm.Verdict == limits.Fail:
			open = append(open, sm)
			continue
		case !ok: // passing, never failed: nothing to do
			if sm.CasePending {
				links = append(links, CaseLink{SampleID: sm.ID, Revision: sm.Revision})
			}
			continue
		case c.Revision != sm.Revision && sm.CasePending:
			if c, err = s.reviseCase(ctx, c, sm, by); err != nil {
				return nil, err
			}
		}
		out[sm.ID] = c
		if sm.CasePending {
			links = append(links, CaseLink{SampleID: sm.ID, CaseID: c.ID, Revision: sm.Revision})
		}
	}
	opened, err := s.openCases(ctx, open, by)
	if err != nil {
		return nil, err
	}
	escalated := 0
	for _, sm := range open {
		c := opened[sm.ID]
		out[sm.ID] = c
		if sm.CasePending {
			links = append(links, CaseLink{SampleID: sm.ID, CaseID: c.ID, Revision: sm.Revision})
		}
		if c.Escalated {
			escalated++
		}
	}
	if len(sms) == 1 {
		if c, ok := out[sms[0].ID]; ok {
			span.SetAttributes(attribute.String("clearsky.case.id", c.ID), attribute.Bool("clearsky.case.escalated", c.Escalated))
		}
	}
	span.SetAttributes(attribute.Int("clearsky.case.opened", len(open)), attribute.Int("clearsky.case.escalations", escalated))
	if err := s.samples.SetSampleCases(ctx, links); err != nil {
		return nil, err
	}
	return out, nil
}

// openCases opens the cases of failing samples: their failures, the trace-back chain, follow-up
// samples upstream, and escalation when the site failed EscalateAfter times within
// EscalateMonths (counting the sample). The samples are stored already, so one read of the
// failures at their sites over the whole window serves every sample; chains are walked once per
// site and product. It returns the cases by sample id (a case another writer opened first is
// read back).
func (s *Service) openCases(ctx context.Context, sms []Sample, by string) (map[string]Case, error) {
	out := map[string]Case{}
	if len(sms) == 0 {
		return out, nil
	}
	var siteIDs []string
	seen := map[string]bool{}
	from, to := sms[0].SampledAt, sms[0].SampledAt
	for _, sm := range sms {
		if !seen[sm.SiteID] {
			seen[sm.SiteID] = true
			siteIDs = append(siteIDs, sm.SiteID)
		}
		from, to = minTime(from, sm.SampledAt), maxTime(to, sm.SampledAt)
	}
	cache := newSiteCache(s.sites)
	sites, err := cache.get(ctx, siteIDs)
	if err != nil {
		return nil, err
	}
	if err := cache.prefetch(ctx, slices.Collect(maps.Values(sites)), s.policy.TraceDepth); err != nil {
		return nil, err
	}
	fails, err := s.samples.FailuresAt(ctx, siteIDs, from.AddDate(0, -s.policy.EscalateMonths, 0), to)
	if err != nil {
		return nil, err
	}
	bySite := map[string][]Failure{}
	for _, f := range fails {
		bySite[f.SiteID] = append(bySite[f.SiteID], f)
	}
	chains := map[string]Chain{}
	now := s.now().UTC()
	cases := make([]Case, 0, len(sms))
	for _, sm := range sms {
		site, ok := sites[sm.SiteID]
		if !ok {
			return nil, fmt.Errorf("open case for %s: %w", sm.ID, ErrSiteNotFound)
		}
		key := site.ID + "\x00" + string(sm.Product)
		chain, ok := chains[key]
		if !ok {
			if chain, err = s.traceWith(ctx, site, sm.Product, cache.get, cache.suppliedBy); err != nil {
				return nil, err
			}
			chains[key] = chain
		}
		// The failures of (sampled_at - EscalateMonths, sampled_at], as one query per sample would.
		var prior []string
		since := sm.SampledAt.AddDate(0, -s.policy.EscalateMonths, 0)
		for _, f := range bySite[sm.SiteID] {
			if f.SampledAt.After(since) && !f.SampledAt.After(sm.SampledAt) {
				prior = append(prior, f.ID)
			}
		}
		if !slices.Contains(prior, sm.ID) {
			prior = append(prior, sm.ID)
		}
		slices.Sort(prior)
		c := Case{ID: CaseID(sm.ID), SampleID: sm.ID, SiteID: site.ID, SiteName: site.Name, SiteKind: site.Kind, Product: sm.Product, Grade: sm.Grade,
			SampledAt: sm.SampledAt, OpenedAt: now, Failures: failuresOf(sm), Findings: sm.Findings, Revision: sm.Revision,
			Chain: chain, FollowUps: FollowUps(chain, sm.Product, sm.ID), PriorFailures: prior, Status: CaseOpen, Version: 1}
		c.Events = []CaseEvent{{At: now, By: by, What: fmt.Sprintf("opened: sample %s failed (revision %d)", sm.ID, sm.Revision)}}
		c.Outgoing = []events.Draft{caseEvent(events.FuelCaseOpened, c, now, "")}
		if len(prior) >= s.policy.EscalateAfter {
			c.Escalated = true
			c.EscalationReason = fmt.Sprintf("%d failing samples at site %s within %d months (%s): repeated failure",
				len(prior), site.ID, s.policy.EscalateMonths, strings.Join(prior, ", "))
			c.Events = append(c.Events, CaseEvent{At: now, By: by, What: "escalated: " + c.EscalationReason})
			c.Outgoing = append(c.Outgoing, caseEvent(events.FuelCaseEscalated, c, now, c.EscalationReason))
			s.log.InfoContext(ctx, "case_escalated", "case_id", c.ID, "site_id", site.ID, "failures", len(prior))
		}
		cases = append(cases, c)
		out[sm.ID] = c
	}
	taken, err := s.cases.InsertCases(ctx, cases)
	if err != nil {
		return nil, err
	}
	if len(taken) > 0 { // opened meanwhile by another writer: theirs stands
		stored, err := s.cases.GetCases(ctx, taken)
		if err != nil {
			return nil, err
		}
		for _, c := range stored {
			out[c.SampleID] = c
		}
	}
	return out, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
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
		c.Outgoing = []events.Draft{caseEvent(events.FuelCaseClosed, c, now, c.Resolution)}
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
	if len(pending) == 0 {
		return 0, nil
	}
	if _, err := s.syncCases(ctx, pending, "system"); err != nil {
		return 0, fmt.Errorf("cases of %d pending samples: %w", len(pending), err)
	}
	return len(pending), nil
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
	c.Outgoing = []events.Draft{caseEvent(events.FuelCaseClosed, c, now, resolution)}
	c.Version++
	if err := s.cases.ReplaceCase(ctx, c); err != nil {
		return Case{}, err
	}
	return c, nil
}
