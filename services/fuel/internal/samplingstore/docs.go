package samplingstore

import (
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
)

type siteDoc struct {
	ID             string     `bson:"_id"`
	Kind           string     `bson:"kind"`
	Name           string     `bson:"name"`
	Operator       string     `bson:"operator,omitempty"`
	Lat            float64    `bson:"lat"`
	Lon            float64    `bson:"lon"`
	Address        string     `bson:"address,omitempty"`
	Licence        string     `bson:"licence,omitempty"`
	Unlicensed     bool       `bson:"unlicensed"`
	InspectionRef  string     `bson:"inspection_ref,omitempty"`
	OwnDepot       bool       `bson:"own_depot,omitempty"`
	Suppliers      []string   `bson:"suppliers"`
	OperatingSince time.Time  `bson:"operating_since"`
	ClosedOn       *time.Time `bson:"closed_on,omitempty"`
	Note           string     `bson:"note,omitempty"`
	CreatedAt      time.Time  `bson:"created_at"`
	UpdatedAt      time.Time  `bson:"updated_at"`
	UpdatedBy      string     `bson:"updated_by"`
	Version        int64      `bson:"version"`
}

func toSiteDoc(s sampling.Site) siteDoc {
	d := siteDoc{ID: s.ID, Kind: string(s.Kind), Name: s.Name, Operator: s.Operator, Lat: s.Lat, Lon: s.Lon, Address: s.Address,
		Licence: s.Licence, Unlicensed: s.Unlicensed, InspectionRef: s.InspectionRef, OwnDepot: s.OwnDepot, Suppliers: s.Suppliers,
		OperatingSince: s.OperatingSince.UTC(), Note: s.Note, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, UpdatedBy: s.UpdatedBy, Version: s.Version}
	if d.Suppliers == nil {
		d.Suppliers = []string{}
	}
	if !s.ClosedOn.IsZero() {
		t := s.ClosedOn.UTC()
		d.ClosedOn = &t
	}
	return d
}

func (d siteDoc) site() sampling.Site {
	s := sampling.Site{ID: d.ID, Kind: sampling.Kind(d.Kind), Name: d.Name, Operator: d.Operator, Lat: d.Lat, Lon: d.Lon, Address: d.Address,
		Licence: d.Licence, Unlicensed: d.Unlicensed, InspectionRef: d.InspectionRef, OwnDepot: d.OwnDepot, Suppliers: d.Suppliers,
		OperatingSince: d.OperatingSince.UTC(), Note: d.Note, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), UpdatedBy: d.UpdatedBy, Version: d.Version}
	if len(s.Suppliers) == 0 {
		s.Suppliers = nil
	}
	if d.ClosedOn != nil {
		s.ClosedOn = d.ClosedOn.UTC()
	}
	return s
}

type labDoc struct {
	ID        string    `bson:"_id"`
	Name      string    `bson:"name"`
	SiteIDs   []string  `bson:"site_ids"`
	UpdatedAt time.Time `bson:"updated_at"`
	UpdatedBy string    `bson:"updated_by"`
	Version   int64     `bson:"version"`
}

type limitDoc struct {
	Product       string     `bson:"product"`
	Grades        []string   `bson:"grades,omitempty"`
	Parameter     string     `bson:"parameter"`
	Comparison    string     `bson:"comparison"`
	Limit         *float64   `bson:"limit,omitempty"`
	Min           *float64   `bson:"min,omitempty"`
	Max           *float64   `bson:"max,omitempty"`
	Unit          string     `bson:"unit"`
	Standard      string     `bson:"standard"`
	Stage         string     `bson:"stage,omitempty"`
	Clause        string     `bson:"clause"`
	EffectiveFrom time.Time  `bson:"effective_from"`
	EffectiveTo   *time.Time `bson:"effective_to,omitempty"`
	Confirm       bool       `bson:"confirm,omitempty"`
	Note          string     `bson:"note,omitempty"`
}

type outcomeDoc struct {
	Parameter     string    `bson:"parameter"`
	Value         float64   `bson:"value"`
	Unit          string    `bson:"unit"`
	Canonical     float64   `bson:"value_canonical"`
	CanonicalUnit string    `bson:"unit_canonical"`
	Verdict       string    `bson:"verdict"`
	Limit         *limitDoc `bson:"limit,omitempty"`
	Message       string    `bson:"message"`
}

type findingDoc struct {
	Code     string `bson:"code"`
	Standard string `bson:"standard"`
	Clause   string `bson:"clause"`
	Message  string `bson:"message"`
}

func toOutcomes(os []limits.Outcome) []outcomeDoc {
	out := make([]outcomeDoc, 0, len(os))
	for _, o := range os {
		d := outcomeDoc{Parameter: o.Parameter, Value: o.Value, Unit: o.Unit, Canonical: o.Canonical, CanonicalUnit: o.CanonicalUnit,
			Verdict: string(o.Verdict), Message: o.Message}
		if l := o.Limit; l != nil {
			d.Limit = &limitDoc{Product: string(l.Product), Grades: l.Grades, Parameter: l.Parameter, Comparison: string(l.Comparison),
				Limit: l.Limit, Min: l.Min, Max: l.Max, Unit: l.Unit, Standard: l.Standard, Stage: l.Stage, Clause: l.Clause,
				EffectiveFrom: l.EffectiveFrom.Time, Confirm: l.Confirm, Note: l.Note}
			if l.EffectiveTo != nil {
				t := l.EffectiveTo.Time
				d.Limit.EffectiveTo = &t
			}
		}
		out = append(out, d)
	}
	return out
}

func fromOutcomes(ds []outcomeDoc) []limits.Outcome {
	out := make([]limits.Outcome, 0, len(ds))
	for _, d := range ds {
		o := limits.Outcome{Parameter: d.Parameter, Value: d.Value, Unit: d.Unit, Canonical: d.Canonical, CanonicalUnit: d.CanonicalUnit,
			Verdict: limits.Verdict(d.Verdict), Message: d.Message}
		if l := d.Limit; l != nil {
			o.Limit = &limits.Limit{Product: limits.Product(l.Product), Grades: l.Grades, Parameter: l.Parameter, Comparison: limits.Comparison(l.Comparison),
				Limit: l.Limit, Min: l.Min, Max: l.Max, Unit: l.Unit, Standard: l.Standard, Stage: l.Stage, Clause: l.Clause,
				EffectiveFrom: limits.Day{Time: l.EffectiveFrom.UTC()}, Confirm: l.Confirm, Note: l.Note}
			if l.EffectiveTo != nil {
				o.Limit.EffectiveTo = &limits.Day{Time: l.EffectiveTo.UTC()}
			}
		}
		out = append(out, o)
	}
	return out
}

func toFindings(fs []limits.Finding) []findingDoc {
	out := make([]findingDoc, 0, len(fs))
	for _, f := range fs {
		out = append(out, findingDoc(f))
	}
	return out
}

func fromFindings(ds []findingDoc) []limits.Finding {
	var out []limits.Finding
	for _, d := range ds {
		out = append(out, limits.Finding(d))
	}
	return out
}

type sampleDoc struct {
	ID            string       `bson:"_id"`
	SiteID        string       `bson:"site_id"`
	SiteKind      string       `bson:"site_kind"`
	Product       string       `bson:"product"`
	Grade         string       `bson:"grade"`
	Declared      string       `bson:"declared,omitempty"`
	Label         string       `bson:"label,omitempty"`
	SampledAt     time.Time    `bson:"sampled_at"`
	Month         string       `bson:"month"`
	Year          int          `bson:"year"`
	Source        string       `bson:"source"`
	LabID         string       `bson:"lab_id,omitempty"`
	UploadedBy    string       `bson:"uploaded_by"`
	UploaderRole  string       `bson:"uploader_role"`
	UploadedAt    time.Time    `bson:"uploaded_at"`
	Verdict       string       `bson:"verdict"`
	Results       []outcomeDoc `bson:"results"`
	Findings      []findingDoc `bson:"findings"`
	LimitsVersion int          `bson:"limits_version"`
	Revision      int          `bson:"revision"`
	ContentHash   string       `bson:"content_hash"`
	CaseID        string       `bson:"case_id,omitempty"`
	CasePending   bool         `bson:"case_pending"`
	UpdatedAt     time.Time    `bson:"updated_at"`
	UpdatedBy     string       `bson:"updated_by"`
}

func toSampleDoc(s sampling.Sample) sampleDoc {
	return sampleDoc{ID: s.ID, SiteID: s.SiteID, SiteKind: string(s.SiteKind), Product: string(s.Product), Grade: s.Grade, Declared: string(s.Declared),
		Label: s.Label, SampledAt: s.SampledAt.UTC(), Month: s.Month, Year: s.Year, Source: string(s.Source), LabID: s.LabID,
		UploadedBy: s.UploadedBy, UploaderRole: string(s.UploaderRole), UploadedAt: s.UploadedAt, Verdict: string(s.Verdict),
		Results: toOutcomes(s.Results), Findings: toFindings(s.Findings), LimitsVersion: s.LimitsVersion, Revision: s.Revision,
		ContentHash: s.ContentHash, CaseID: s.CaseID, CasePending: s.CasePending, UpdatedAt: s.UpdatedAt, UpdatedBy: s.UpdatedBy}
}

func (d sampleDoc) sample() sampling.Sample {
	return sampling.Sample{ID: d.ID, SiteID: d.SiteID, SiteKind: sampling.Kind(d.SiteKind), Product: limits.Product(d.Product), Grade: d.Grade,
		Declared: limits.Stage(d.Declared), Label: d.Label, SampledAt: d.SampledAt.UTC(), Month: d.Month, Year: d.Year,
		Source: sampling.Source(d.Source), LabID: d.LabID, UploadedBy: d.UploadedBy, UploaderRole: auth.Role(d.UploaderRole),
		UploadedAt: d.UploadedAt.UTC(), Verdict: limits.Verdict(d.Verdict), Results: fromOutcomes(d.Results), Findings: fromFindings(d.Findings),
		LimitsVersion: d.LimitsVersion, Revision: d.Revision, ContentHash: d.ContentHash, CaseID: d.CaseID, CasePending: d.CasePending,
		UpdatedAt: d.UpdatedAt.UTC(), UpdatedBy: d.UpdatedBy}
}

type revisionDoc struct {
	ID            string       `bson:"_id"` // sample id "#" number
	SampleID      string       `bson:"sample_id"`
	Number        int          `bson:"number"`
	Results       []outcomeDoc `bson:"results"`
	Findings      []findingDoc `bson:"findings"`
	Verdict       string       `bson:"verdict"`
	LimitsVersion int          `bson:"limits_version"`
	Reason        string       `bson:"reason"`
	By            string       `bson:"by"`
	Role          string       `bson:"role"`
	At            time.Time    `bson:"at"`
	Hash          string       `bson:"hash"`
}

func (d revisionDoc) revision() sampling.Revision {
	return sampling.Revision{SampleID: d.SampleID, Number: d.Number, Results: fromOutcomes(d.Results), Findings: fromFindings(d.Findings),
		Verdict: limits.Verdict(d.Verdict), LimitsVersion: d.LimitsVersion, Reason: d.Reason, By: d.By, Role: auth.Role(d.Role), At: d.At.UTC(), Hash: d.Hash}
}

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

type tableDoc struct {
	Version   int       `bson:"_id"`
	Name      string    `bson:"name"`
	Hash      string    `bson:"hash"`
	Source    string    `bson:"source"`
	LoadedAt  time.Time `bson:"loaded_at"`
	LoadedBy  string    `bson:"loaded_by"`
	TableJSON string    `bson:"table_json"` // the table as JSON text: read and written whole, never queried
}
