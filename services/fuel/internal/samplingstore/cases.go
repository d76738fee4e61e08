package samplingstore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
)

type linkDoc struct {
	SiteID     string `bson:"site_id"`
	Name       string `bson:"name"`
	Kind       string `bson:"kind"`
	Unlicensed bool   `bson:"unlicensed,omitempty"`
	Depth      int    `bson:"depth"`
	Supplies   string `bson:"supplies"`
}

type chainDoc struct {
	Upstream  []linkDoc `bson:"upstream"`
	Exposed   []linkDoc `bson:"exposed"`
	Cycles    []string  `bson:"cycles,omitempty"`
	Missing   []string  `bson:"missing,omitempty"`
	Truncated bool      `bson:"truncated"`
	MaxDepth  int       `bson:"max_depth"`
}

type followUpDoc struct {
	SiteID   string `bson:"site_id"`
	Name     string `bson:"name"`
	Kind     string `bson:"kind"`
	Product  string `bson:"product"`
	Priority int    `bson:"priority"`
	Reason   string `bson:"reason"`
}

type eventDoc struct {
	At   time.Time `bson:"at"`
	By   string    `bson:"by"`
	What string    `bson:"what"`
}

type caseDoc struct {
	ID               string        `bson:"_id"`
	SampleID         string        `bson:"sample_id"`
	SiteID           string        `bson:"site_id"`
	SiteName         string        `bson:"site_name"`
	SiteKind         string        `bson:"site_kind"`
	Product          string        `bson:"product"`
	Grade            string        `bson:"grade"`
	SampledAt        time.Time     `bson:"sampled_at"`
	OpenedAt         time.Time     `bson:"opened_at"`
	Failures         []outcomeDoc  `bson:"failures"`
	Findings         []findingDoc  `bson:"findings"`
	Revision         int           `bson:"revision"`
	Chain            chainDoc      `bson:"chain"`
	FollowUps        []followUpDoc `bson:"follow_ups"`
	Escalated        bool          `bson:"escalated"`
	EscalationReason string        `bson:"escalation_reason,omitempty"`
	PriorFailures    []string      `bson:"prior_failures"`
	Status           string        `bson:"status"`
	Resolution       string        `bson:"resolution,omitempty"`
	ClosedAt         *time.Time    `bson:"closed_at,omitempty"`
	ClosedBy         string        `bson:"closed_by,omitempty"`
	Events           []eventDoc    `bson:"events"`
	Version          int64         `bson:"version"`
	// The outbox of the case's events (libs/events), guarded by its version.
	outbox.Fields `bson:",inline"`
}

func toLinks(ls []sampling.Link) []linkDoc {
	out := make([]linkDoc, 0, len(ls))
	for _, l := range ls {
		out = append(out, linkDoc{SiteID: l.SiteID, Name: l.Name, Kind: string(l.Kind), Unlicensed: l.Unlicensed, Depth: l.Depth, Supplies: l.Supplies})
	}
	return out
}

func fromLinks(ds []linkDoc) []sampling.Link {
	var out []sampling.Link
	for _, d := range ds {
		out = append(out, sampling.Link{SiteID: d.SiteID, Name: d.Name, Kind: sampling.Kind(d.Kind), Unlicensed: d.Unlicensed, Depth: d.Depth, Supplies: d.Supplies})
	}
	return out
}

func toCaseDoc(c sampling.Case) caseDoc {
	d := caseDoc{ID: c.ID, SampleID: c.SampleID, SiteID: c.SiteID, SiteName: c.SiteName, SiteKind: string(c.SiteKind), Product: string(c.Product),
		Grade: c.Grade, SampledAt: c.SampledAt.UTC(), OpenedAt: c.OpenedAt.UTC(), Failures: toOutcomes(c.Failures), Findings: toFindings(c.Findings),
		Revision: c.Revision, Escalated: c.Escalated, EscalationReason: c.EscalationReason, PriorFailures: c.PriorFailures,
		Status: string(c.Status), Resolution: c.Resolution, ClosedBy: c.ClosedBy, Version: c.Version,
		Chain: chainDoc{Upstream: toLinks(c.Chain.Upstream), Exposed: toLinks(c.Chain.Exposed), Cycles: c.Chain.Cycles, Missing: c.Chain.Missing,
			Truncated: c.Chain.Truncated, MaxDepth: c.Chain.MaxDepth}}
	if !c.ClosedAt.IsZero() {
		t := c.ClosedAt.UTC()
		d.ClosedAt = &t
	}
	for _, f := range c.FollowUps {
		d.FollowUps = append(d.FollowUps, followUpDoc{SiteID: f.SiteID, Name: f.Name, Kind: string(f.Kind), Product: string(f.Product), Priority: f.Priority, Reason: f.Reason})
	}
	for _, e := range c.Events {
		d.Events = append(d.Events, eventDoc(e))
	}
	return d
}

func (d caseDoc) toCase() sampling.Case {
	c := sampling.Case{ID: d.ID, SampleID: d.SampleID, SiteID: d.SiteID, SiteName: d.SiteName, SiteKind: sampling.Kind(d.SiteKind),
		Product: limits.Product(d.Product), Grade: d.Grade, SampledAt: d.SampledAt.UTC(), OpenedAt: d.OpenedAt.UTC(),
		Failures: fromOutcomes(d.Failures), Findings: fromFindings(d.Findings), Revision: d.Revision, Escalated: d.Escalated,
		EscalationReason: d.EscalationReason, PriorFailures: d.PriorFailures, Status: sampling.CaseStatus(d.Status),
		Resolution: d.Resolution, ClosedBy: d.ClosedBy, Version: d.Version,
		Chain: sampling.Chain{SiteID: d.SiteID, Upstream: fromLinks(d.Chain.Upstream), Exposed: fromLinks(d.Chain.Exposed), Cycles: d.Chain.Cycles,
			Missing: d.Chain.Missing, Truncated: d.Chain.Truncated, MaxDepth: d.Chain.MaxDepth}}
	if d.ClosedAt != nil {
		c.ClosedAt = d.ClosedAt.UTC()
	}
	for _, f := range d.FollowUps {
		c.FollowUps = append(c.FollowUps, sampling.FollowUp{SiteID: f.SiteID, Name: f.Name, Kind: sampling.Kind(f.Kind), Product: limits.Product(f.Product), Priority: f.Priority, Reason: f.Reason})
	}
	for _, e := range d.Events {
		c.Events = append(c.Events, sampling.CaseEvent{At: e.At.UTC(), By: e.By, What: e.What})
	}
	return c
}

// InsertCases implements sampling.CaseStore with one unordered batch.
func (s *Store) InsertCases(ctx context.Context, cs []sampling.Case) ([]string, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	docs := make([]any, len(cs))
	for i, c := range cs {
		d := toCaseDoc(c)
		rs, err := events.Records(c.Outgoing...)
		if err != nil {
			return nil, err
		}
		d.Fields = outbox.New(time.Now(), rs...)
		docs[i] = d
	}
	_, err := s.cases.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	dups, err := mongodb.Duplicates(err)
	if err != nil {
		return nil, fmt.Errorf("insert cases: %w", err)
	}
	taken := make([]string, 0, len(dups))
	for _, i := range dups {
		taken = append(taken, cs[i].ID)
	}
	return taken, nil
}

// GetCases implements sampling.CaseStore.
func (s *Store) GetCases(ctx context.Context, ids []string) (map[string]sampling.Case, error) {
	out := map[string]sampling.Case{}
	if len(ids) == 0 {
		return out, nil
	}
	cur, err := s.cases.Find(ctx, bson.D{{Key: "_id", Value: in(ids)}}, options.Find().SetBatchSize(1000))
	if err != nil {
		return nil, fmt.Errorf("find cases: %w", err)
	}
	cs, err := all(ctx, cur, caseDoc.toCase)
	if err != nil {
		return nil, fmt.Errorf("cases: %w", err)
	}
	for _, c := range cs {
		out[c.ID] = c
	}
	return out, nil
}

// GetCase implements sampling.CaseStore.
func (s *Store) GetCase(ctx context.Context, id string) (sampling.Case, error) {
	d, err := mongodb.FindOne[caseDoc](ctx, s.cases, bson.D{{Key: "_id", Value: id}}, sampling.ErrCaseNotFound)
	if err != nil {
		return sampling.Case{}, err
	}
	return d.toCase(), nil
}

// ReplaceCase implements sampling.CaseStore.
func (s *Store) ReplaceCase(ctx context.Context, c sampling.Case) error {
	d := toCaseDoc(c)
	rs, err := events.Records(c.Outgoing...)
	if err != nil {
		return err
	}
	if d.Fields, err = outbox.Carry(ctx, s.cases, c.ID, time.Now(), rs...); err != nil {
		return err
	}
	res, err := s.cases.ReplaceOne(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "version", Value: c.Version - 1}}, d)
	if err != nil {
		return fmt.Errorf("replace case %s: %w", c.ID, err)
	}
	if res.MatchedCount == 0 {
		return sampling.ErrVersionConflict
	}
	return nil
}

// ListCases implements sampling.CaseStore.
func (s *Store) ListCases(ctx context.Context, f sampling.CaseFilter, after sampling.Key, limit int) ([]sampling.Case, error) {
	filter := bson.D{}
	if f.SiteID != "" {
		filter = append(filter, bson.E{Key: "site_id", Value: f.SiteID})
	}
	if f.Status != "" {
		filter = append(filter, bson.E{Key: "status", Value: string(f.Status)})
	}
	if f.Escalated != nil {
		filter = append(filter, bson.E{Key: "escalated", Value: *f.Escalated})
	}
	filter = mongodb.NewestFirst(filter, "opened_at", after)
	cur, err := s.cases.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "opened_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return all(ctx, cur, caseDoc.toCase)
}
