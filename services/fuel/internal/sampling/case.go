package sampling

import (
	"time"

	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

// CaseStatus is where a non-conformance case stands.
type CaseStatus string

// Case statuses.
const (
	CaseOpen   CaseStatus = "open"
	CaseClosed CaseStatus = "closed"
)

// Case is a non-conformance case, opened by a failing sample (one case per sample; its id is
// "nc-" + the sample id, so opening it twice is harmless). It carries the failures, the
// trace-back chain at the time of opening, the follow-up samples suggested upstream, and whether
// repeated failures at the site escalated it.
type Case struct {
	ID        string
	SampleID  string
	SiteID    string
	SiteName  string
	SiteKind  Kind
	Product   limits.Product
	Grade     string
	SampledAt time.Time
	OpenedAt  time.Time
	// Failures are the failing results and Findings the prohibitions, as of Revision.
	Failures  []limits.Outcome
	Findings  []limits.Finding
	Revision  int
	Chain     Chain
	FollowUps []FollowUp
	// Escalated is set when the site failed at least the policy's number of times within its
	// window; PriorFailures lists the failing samples counted (this one included).
	Escalated        bool
	EscalationReason string
	PriorFailures    []string
	Status           CaseStatus
	Resolution       string
	ClosedAt         time.Time
	ClosedBy         string
	Events           []CaseEvent
	Version          int64
	// Outgoing are the events of the write that stores the case (its outbox, same write).
	Outgoing []events.Draft
}

// caseEvent is the domain event t of a case: it concerns the site.
func caseEvent(t events.Type, c Case, at time.Time, reason string) events.Draft {
	data := map[string]any{"site_id": c.SiteID, "sample_id": c.SampleID, "product": string(c.Product), "status": string(c.Status)}
	if reason != "" {
		data["reason"] = reason
	}
	return events.Draft{Type: t, At: at, Subject: c.ID, Link: "/v1/fuel/cases/" + c.ID, Organisations: []string{c.SiteID}, Data: data}
}

// sampleFailed is the event of a sample that fails its limits: it concerns the site and the
// lab that uploaded it.
func sampleFailed(sm Sample, at time.Time) events.Draft {
	return events.Draft{Type: events.FuelSampleFailed, At: at, Subject: sm.ID, Link: "/v1/fuel/samples/" + sm.ID,
		Organisations: []string{sm.SiteID, sm.LabID},
		Data:          map[string]any{"site_id": sm.SiteID, "product": string(sm.Product), "grade": sm.Grade, "revision": sm.Revision}}
}

// CaseEvent is one entry of a case's history.
type CaseEvent struct {
	At   time.Time
	By   string
	What string
}

// CaseID is the id of the case a failing sample opens.
func CaseID(sampleID string) string { return "nc-" + sampleID }

// failuresOf returns the failing outcomes of a sample.
func failuresOf(s Sample) []limits.Outcome {
	var out []limits.Outcome
	for _, o := range s.Results {
		if o.Verdict == limits.Fail {
			out = append(out, o)
		}
	}
	return out
}
