package sampling

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

// Source says who took a sample, which decides whether it counts towards a sampling quota.
type Source string

// Sources.
const (
	// Supervisory samples are the bureau's spot checks, taken by the bureau or a contracted lab:
	// they count towards the quotas of tasks 7 and 14.
	Supervisory Source = "supervisory"
	// SelfCheck samples are a station's or depot's own tests: judged and traced like any other,
	// but not counted towards a quota.
	SelfCheck Source = "self_check"
)

// SampleInput is a sample as uploaded.
type SampleInput struct {
	ID        string // the uploader's own sample number; the stored sample is Key()
	SiteID    string
	Product   string
	Grade     string
	Standard  string // declared fuel standard stage (petrol, diesel); optional
	Label     string // the product's name as sold; optional
	SampledAt time.Time
	Results   []limits.Reading
}

// SampleID is the id of the sample a station or lab uploads as number for site: the site, a
// colon, and the number. Sample numbers hold no colon, so every site has its own numbers: a
// station's sample number can neither clash with nor reveal another site's sample.
func SampleID(site, number string) string { return site + ":" + number }

// Key is the id the upload is stored under (SampleID of its site and number).
func (in SampleInput) Key() string { return SampleID(strings.TrimSpace(in.SiteID), in.ID) }

// Hash is a digest of the upload's content: a re-upload with the same hash is the same sample.
// Text is trimmed and parameter keys lowercased; the instant is compared in UTC.
func (in SampleInput) Hash() string {
	type reading struct {
		P string  `json:"p"`
		V float64 `json:"v"`
		U string  `json:"u"`
	}
	rs := make([]reading, len(in.Results))
	for i, r := range in.Results {
		rs[i] = reading{strings.ToLower(strings.TrimSpace(r.Parameter)), r.Value, strings.TrimSpace(r.Unit)}
	}
	return digest(struct {
		Site, Product, Grade, Standard, Label, At string
		Results                                   []reading
	}{strings.TrimSpace(in.SiteID), strings.ToLower(strings.TrimSpace(in.Product)), strings.TrimSpace(in.Grade),
		strings.TrimSpace(in.Standard), strings.TrimSpace(in.Label), in.SampledAt.UTC().Format(time.RFC3339Nano), rs})
}

func digest(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only parsed, finite values are digested: a bug, never to be hashed as nothing (every
		// such sample would be a replay of another).
		panic(fmt.Sprintf("sample digest: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Sample is a stored sample in its current revision.
type Sample struct {
	ID       string
	SiteID   string
	SiteKind Kind
	Product  limits.Product
	Grade    string
	Declared limits.Stage
	Label    string
	// SampledAt is the sampling instant; Month ("YYYY-MM") and Year are its bucket in China,
	// stored with the sample for the coverage reports.
	SampledAt time.Time
	Month     string
	Year      int
	Source    Source
	LabID     string // the lab that uploaded it, if a lab did
	// UploadedBy, UploaderRole and UploadedAt record the first upload.
	UploadedBy    string
	UploaderRole  auth.Role
	UploadedAt    time.Time
	Verdict       limits.Verdict
	Results       []limits.Outcome
	Findings      []limits.Finding
	LimitsVersion int
	// Revision counts the sample's versions: 1 as uploaded, +1 per correction.
	Revision    int
	ContentHash string // Hash of the original upload
	// CaseID is the non-conformance case of a failing sample; CasePending marks a failing sample
	// whose case is not opened yet (the outbox flag: the background loop opens it).
	CaseID      string
	CasePending bool
	UpdatedAt   time.Time
	UpdatedBy   string
	// Outgoing are the events of the write that stores the sample (not stored as fields: the
	// store writes them to the sample's outbox in the same write).
	Outgoing []events.Draft
}

// Readings returns the sample's results as uploaded (or as last corrected).
func (s Sample) Readings() []limits.Reading {
	out := make([]limits.Reading, len(s.Results))
	for i, o := range s.Results {
		out[i] = limits.Reading{Parameter: o.Parameter, Value: o.Value, Unit: o.Unit}
	}
	return out
}

// Revision is one version of a sample's results and verdict, kept append-only: revision 1 is
// the upload, each correction adds the next.
type Revision struct {
	SampleID      string
	Number        int
	Results       []limits.Outcome
	Findings      []limits.Finding
	Verdict       limits.Verdict
	LimitsVersion int
	Reason        string
	By            string
	Role          auth.Role
	At            time.Time
	Hash          string // of the upload or the correction, to recognise a replay
}

// Correction changes a sample's results: each listed result replaces the one of the same
// parameter (or is added). BaseRevision is the revision corrected, as last read.
type Correction struct {
	BaseRevision int
	Results      []limits.Reading
	Reason       string
}

// Hash is a digest of the correction, to recognise a replay.
func (c Correction) Hash() string {
	return digest(struct {
		Base    int
		Results []limits.Reading
		Reason  string
	}{c.BaseRevision, c.Results, strings.TrimSpace(c.Reason)})
}

// merge applies the correction's results to the current readings.
func (c Correction) merge(cur []limits.Reading) []limits.Reading {
	out := append([]limits.Reading(nil), cur...)
	for _, r := range c.Results {
		key := strings.ToLower(strings.TrimSpace(r.Parameter))
		replaced := false
		for i := range out {
			if strings.ToLower(out[i].Parameter) == key {
				out[i], replaced = r, true
			}
		}
		if !replaced {
			out = append(out, r)
		}
	}
	return out
}
