package sampling

import (
	"time"

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
