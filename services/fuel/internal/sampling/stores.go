package sampling

import (
	"context"
	"time"
)

// SiteStore keeps the sites and who supplies them.
type SiteStore interface {
	// InsertSite adds a site; ErrSiteExists when the id is taken.
	InsertSite(ctx context.Context, s Site) error
	// GetSite returns a site or ErrSiteNotFound.
	GetSite(ctx context.Context, id string) (Site, error)
	// GetSites returns the sites of ids that exist.
	GetSites(ctx context.Context, ids []string) (map[string]Site, error)
	// ReplaceSite stores s if the stored version is still s.Version-1; ErrVersionConflict otherwise.
	ReplaceSite(ctx context.Context, s Site) error
	// ListSites returns up to limit sites matching f with id after the given one, by id.
	ListSites(ctx context.Context, f SiteFilter, afterID string, limit int) ([]Site, error)
	// SitesSuppliedBy returns the sites listing any of ids among their suppliers.
	SitesSuppliedBy(ctx context.Context, ids []string) ([]Site, error)
	// SitesOfKind returns every site of kind k.
	SitesOfKind(ctx context.Context, k Kind) ([]Site, error)
}

// LabStore keeps the labs' contracts (which sites each may sample).
type LabStore interface {
	// PutLab creates or replaces a lab contract if the stored version is still l.Version-1
	// (0: new); ErrVersionConflict otherwise.
	PutLab(ctx context.Context, l Lab) error
	// GetLab returns a lab or ErrLabNotFound.
	GetLab(ctx context.Context, id string) (Lab, error)
	// ListLabs returns every lab by id.
	ListLabs(ctx context.Context) ([]Lab, error)
}

// SampleStore keeps the samples with their verdicts, and answers the planning and coverage
// figures computed over them.
type SampleStore interface {
	// GetSample returns a sample or ErrSampleNotFound.
	GetSample(ctx context.Context, id string) (Sample, error)
	// GetSamples returns the samples of ids that exist.
	GetSamples(ctx context.Context, ids []string) (map[string]Sample, error)
	// InsertSamples adds samples in one unordered batch and returns the ids that were already
	// stored (the others are written).
	InsertSamples(ctx context.Context, ss []Sample) (existing []string, err error)
	// ReplaceSample stores s if the stored revision is still base; ErrRevisionConflict otherwise.
	ReplaceSample(ctx context.Context, s Sample, base int) error
	// ListSamples returns up to limit samples matching f after key, newest sampled first.
	ListSamples(ctx context.Context, f SampleFilter, after Key, limit int) ([]Sample, error)
	// SetSampleCases records each sample's case and clears its case-pending flag, if the sample
	// is still at the link's revision (a newer revision keeps the flag for its own case update).
	SetSampleCases(ctx context.Context, links []CaseLink) error
	// CasePending returns up to limit failing samples whose case is not opened yet.
	CasePending(ctx context.Context, limit int) ([]Sample, error)
	// FailuresAt returns the failing samples of the sites sampled in (from, to], oldest first.
	FailuresAt(ctx context.Context, siteIDs []string, from, to time.Time) ([]Failure, error)
	// SampleStats returns planning figures of every sample of a kind of site sampled before t.
	SampleStats(ctx context.Context, k Kind, before time.Time) ([]SampleStat, error)
	// CoverageCounts counts, per site and month of year, the supervisory samples of a kind.
	CoverageCounts(ctx context.Context, k Kind, year int) ([]SiteMonth, error)
}

// Failure is a failing sample as escalation counts it.
type Failure struct {
	ID        string
	SiteID    string
	SampledAt time.Time
}

// RevisionStore keeps each sample's revisions: the append-only history of its corrections.
type RevisionStore interface {
	// InsertRevisions appends revisions in one unordered batch; revisions already stored (same
	// sample and number) are left as they are and returned.
	InsertRevisions(ctx context.Context, rs []Revision) (existing []Revision, err error)
	// ListRevisions returns a sample's revisions, oldest first.
	ListRevisions(ctx context.Context, sampleID string) ([]Revision, error)
}

// CaseStore keeps the non-conformance cases that failing samples open.
type CaseStore interface {
	// InsertCases adds cases in one unordered batch and returns the ids already taken (those
	// cases are left as stored; the others are written).
	InsertCases(ctx context.Context, cs []Case) (taken []string, err error)
	// GetCase returns a case or ErrCaseNotFound.
	GetCase(ctx context.Context, id string) (Case, error)
	// GetCases returns the cases of ids that exist, by id.
	GetCases(ctx context.Context, ids []string) (map[string]Case, error)
	// ReplaceCase stores c if the stored version is still c.Version-1; ErrVersionConflict otherwise.
	ReplaceCase(ctx context.Context, c Case) error
	// ListCases returns up to limit cases matching f after key, newest opened first.
	ListCases(ctx context.Context, f CaseFilter, after Key, limit int) ([]Case, error)
}

// TableStore keeps the versions of the limit table.
type TableStore interface {
	// InsertTable adds a limit table version; ErrTableVersionTaken when the version exists.
	InsertTable(ctx context.Context, t StoredTable) error
	// LatestTable returns the highest version, or ErrTableNotFound when none is stored.
	LatestTable(ctx context.Context) (StoredTable, error)
	// LatestTableVersion returns the highest version number (0 when none is stored).
	LatestTableVersion(ctx context.Context) (int, error)
	// TableVersion returns one version or ErrTableNotFound.
	TableVersion(ctx context.Context, v int) (StoredTable, error)
}

// Stores are the core's stores: one small interface per aggregate, each declaring only what the
// core asks of it. One value may serve as several (in production samplingstore.Store, on
// MongoDB, serves as all of them).
type Stores struct {
	Sites     SiteStore
	Labs      LabStore
	Samples   SampleStore
	Revisions RevisionStore
	Cases     CaseStore
	Tables    TableStore
}
