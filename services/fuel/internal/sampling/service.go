package sampling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/cursor"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

// SiteFilter narrows a site list; empty fields match everything.
type SiteFilter struct {
	Kind       Kind
	Unlicensed *bool
	Supplier   string   // sites supplied by this site
	IDs        []string // only these sites (a lab's contract); nil: no restriction
}

// SampleFilter narrows a sample list; empty fields match everything.
type SampleFilter struct {
	SiteID  string
	SiteIDs []string // any of these sites; nil: no restriction
	LabID   string
	Product limits.Product
	Verdict limits.Verdict
	Month   string
}

// CaseFilter narrows a case list; empty fields match everything.
type CaseFilter struct {
	SiteID    string
	Status    CaseStatus
	Escalated *bool
}

// Key is a list item's sort key: its time, then its id (cursor.Key).
type Key = cursor.Key

// ParseKey decodes a key made by Key.String; the empty string is the start of the list.
func ParseKey(s string) (Key, error) { return cursor.Parse(s) }

// StoredTable is a version of the limit table as stored.
type StoredTable struct {
	Version  int
	Table    limits.Table
	Hash     string
	Source   string // "default": shipped with the release or given at start; "bureau": loaded at runtime
	LoadedAt time.Time
	LoadedBy string
}

// Table sources.
const (
	SourceDefault = "default"
	SourceBureau  = "bureau"
)

// Store keeps the service's records (MongoDB in production).
type Store interface {
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

	// PutLab creates or replaces a lab contract if the stored version is still l.Version-1
	// (0: new); ErrVersionConflict otherwise.
	PutLab(ctx context.Context, l Lab) error
	// GetLab returns a lab or ErrLabNotFound.
	GetLab(ctx context.Context, id string) (Lab, error)
	// ListLabs returns every lab by id.
	ListLabs(ctx context.Context) ([]Lab, error)

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
	// SetSampleCase records a sample's case and clears its case-pending flag, if the sample is
	// still at revision (a newer revision keeps the flag for its own case update).
	SetSampleCase(ctx context.Context, sampleID, caseID string, revision int) error
	// CasePending returns up to limit failing samples whose case is not opened yet.
	CasePending(ctx context.Context, limit int) ([]Sample, error)
	// FailuresAt returns the ids of the failing samples of a site sampled in (from, to].
	FailuresAt(ctx context.Context, siteID string, from, to time.Time) ([]string, error)
	// SampleStats returns planning figures of every sample of a kind of site sampled before t.
	SampleStats(ctx context.Context, k Kind, before time.Time) ([]SampleStat, error)
	// CoverageCounts counts, per site and month of year, the supervisory samples of a kind.
	CoverageCounts(ctx context.Context, k Kind, year int) ([]SiteMonth, error)

	// InsertRevisions appends revisions in one unordered batch; revisions already stored (same
	// sample and number) are left as they are and returned.
	InsertRevisions(ctx context.Context, rs []Revision) (existing []Revision, err error)
	// ListRevisions returns a sample's revisions, oldest first.
	ListRevisions(ctx context.Context, sampleID string) ([]Revision, error)

	// InsertCase adds a case; ErrCaseExists when its id is taken.
	InsertCase(ctx context.Context, c Case) error
	// GetCase returns a case or ErrCaseNotFound.
	GetCase(ctx context.Context, id string) (Case, error)
	// ReplaceCase stores c if the stored version is still c.Version-1; ErrVersionConflict otherwise.
	ReplaceCase(ctx context.Context, c Case) error
	// ListCases returns up to limit cases matching f after key, newest opened first.
	ListCases(ctx context.Context, f CaseFilter, after Key, limit int) ([]Case, error)

	// InsertTable adds a limit table version; ErrTableVersionTaken when the version exists.
	InsertTable(ctx context.Context, t StoredTable) error
	// LatestTable returns the highest version, or ErrTableNotFound when none is stored.
	LatestTable(ctx context.Context) (StoredTable, error)
	// LatestTableVersion returns the highest version number (0 when none is stored).
	LatestTableVersion(ctx context.Context) (int, error)
	// TableVersion returns one version or ErrTableNotFound.
	TableVersion(ctx context.Context, v int) (StoredTable, error)
}

// VersionMarker publishes which limit table version is in force, so that every instance
// switches to a table the bureau loads on another (Redis). It is a cache: MongoDB holds the
// tables, and an unreachable or emptied marker falls back to reading MongoDB.
type VersionMarker interface {
	// Active returns the published version; ok is false when none is published.
	Active(ctx context.Context) (v int, ok bool, err error)
	// Publish records v as the version in force, unless a higher version is published.
	Publish(ctx context.Context, v int) error
	// Reset records v even if a higher version is published (the marker ran ahead of MongoDB,
	// which was restored or replaced).
	Reset(ctx context.Context, v int) error
}

// Policy holds the service's tunable rules.
type Policy struct {
	// EscalateAfter failing samples at one site within EscalateMonths escalate its case
	// (default 2 within 12 months).
	EscalateAfter  int
	EscalateMonths int
	// TraceDepth bounds the trace-back walk up the supply chain (default 6 steps).
	TraceDepth int
	// Quotas are the sampling quotas (default: DefaultQuotas).
	Quotas []Quota
	// MaxImport bounds the samples of one CSV import (default 5000).
	MaxImport int
}

// DefaultPolicy returns the defaults documented in docs/fuel.md.
func DefaultPolicy() Policy {
	return Policy{EscalateAfter: 2, EscalateMonths: 12, TraceDepth: 6, Quotas: DefaultQuotas(), MaxImport: 5000}
}

// Service applies the fuel service's rules on top of a Store and a VersionMarker.
type Service struct {
	store  Store
	marker VersionMarker
	policy Policy
	log    *slog.Logger
	tracer trace.Tracer
	now    func() time.Time

	mu    sync.RWMutex
	table StoredTable // the newest table version this instance has loaded
}

// NewService returns the fuel core. Call Init before serving.
func NewService(store Store, marker VersionMarker, policy Policy, log *slog.Logger, tp trace.TracerProvider) *Service {
	d := DefaultPolicy()
	if policy.EscalateAfter <= 0 {
		policy.EscalateAfter = d.EscalateAfter
	}
	if policy.EscalateMonths <= 0 {
		policy.EscalateMonths = d.EscalateMonths
	}
	if policy.TraceDepth <= 0 {
		policy.TraceDepth = d.TraceDepth
	}
	if policy.Quotas == nil {
		policy.Quotas = d.Quotas
	}
	if policy.MaxImport <= 0 {
		policy.MaxImport = d.MaxImport
	}
	return &Service{store: store, marker: marker, policy: policy, log: log,
		tracer: tp.Tracer("github.com/clearsky/clearsky/services/fuel"), now: time.Now}
}

func forbidden(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, apperr.ErrForbidden)...)
}

// Init makes sure a limit table is stored and loads the newest. def is the default table (the
// shipped one, or the file given at start): it becomes version 1 of an empty store, and a new
// version when it differs from the newest stored version that was itself a default. A table the
// bureau loaded is never replaced by a default: the bureau's correction stands until it loads
// another.
func (s *Service) Init(ctx context.Context, def limits.Table) error {
	latest, err := s.store.LatestTable(ctx)
	switch {
	case errors.Is(err, ErrTableNotFound):
		latest = StoredTable{}
	case err != nil:
		return fmt.Errorf("read limit tables: %w", err)
	}
	hash := def.Hash()
	if latest.Version == 0 || (latest.Source == SourceDefault && latest.Hash != hash) {
		t := StoredTable{Version: latest.Version + 1, Table: def, Hash: hash, Source: SourceDefault, LoadedAt: s.now().UTC(), LoadedBy: "release"}
		if err := s.store.InsertTable(ctx, t); err != nil && !errors.Is(err, ErrTableVersionTaken) {
			return fmt.Errorf("store default limit table: %w", err)
		}
		s.log.InfoContext(ctx, "default_limit_table_stored", "version", t.Version, "name", def.Name)
	} else if latest.Source == SourceBureau && latest.Hash != hash {
		s.log.InfoContext(ctx, "bureau_limit_table_kept", "version", latest.Version, "name", latest.Table.Name)
	}
	_, err = s.Refresh(ctx)
	return err
}

// Refresh loads the newest stored table if this instance does not have it yet and makes sure
// the marker publishes it; it reports the version in force. The service runs it on a timer, so
// a marker left behind by a failed publish is repaired.
func (s *Service) Refresh(ctx context.Context) (int, error) {
	v, err := s.store.LatestTableVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("read limit table version: %w", err)
	}
	if _, err := s.load(ctx, v); err != nil {
		return 0, err
	}
	cur, ok, err := s.marker.Active(ctx)
	switch {
	case err != nil:
	case !ok || cur < v:
		err = s.marker.Publish(ctx, v)
	case cur > v:
		s.log.WarnContext(ctx, "limit_version_marker_ahead", "marker", cur, "stored", v)
		err = s.marker.Reset(ctx, v)
	}
	if err != nil {
		s.log.WarnContext(ctx, "limit_version_publish_failed", "version", v, "error", err.Error())
	}
	return v, nil
}

// load makes version v (or a newer one already loaded) the instance's table.
func (s *Service) load(ctx context.Context, v int) (StoredTable, error) {
	s.mu.RLock()
	cur := s.table
	s.mu.RUnlock()
	if v <= cur.Version {
		return cur, nil
	}
	t, err := s.store.TableVersion(ctx, v)
	if err != nil {
		return StoredTable{}, fmt.Errorf("load limit table %d: %w", v, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Version > s.table.Version {
		s.table = t
		s.log.InfoContext(ctx, "limit_table_loaded", "version", t.Version, "name", t.Table.Name)
	}
	return s.table, nil
}

// current returns the table in force: the version the marker publishes (one Redis read), or,
// when Redis is unreachable, has lost the marker or names a version MongoDB does not have, the
// newest version in MongoDB.
func (s *Service) current(ctx context.Context) (StoredTable, error) {
	v, ok, err := s.marker.Active(ctx)
	if err == nil && ok {
		t, err := s.load(ctx, v)
		if !errors.Is(err, ErrTableNotFound) {
			return t, err
		}
		s.log.WarnContext(ctx, "limit_version_marker_ahead", "marker", v)
	} else if err != nil {
		s.log.WarnContext(ctx, "limit_version_marker_unavailable", "error", err.Error())
	}
	if v, err = s.store.LatestTableVersion(ctx); err != nil {
		return StoredTable{}, fmt.Errorf("read limit table version: %w", err)
	}
	if v == 0 {
		return StoredTable{}, fmt.Errorf("no limit table is stored: %w", apperr.ErrUnavailable)
	}
	return s.load(ctx, v)
}

// Limits returns a table version (0: the one in force). Every role that uploads or reads
// samples may read the limits.
func (s *Service) Limits(ctx context.Context, p auth.Principal, version int) (StoredTable, error) {
	if !p.Is(auth.Station, auth.Lab, auth.Bureau, auth.Admin) {
		return StoredTable{}, forbidden("role %s may not read the limit tables", p.Role)
	}
	if version == 0 {
		return s.current(ctx)
	}
	return s.store.TableVersion(ctx, version)
}

// LoadLimits stores a corrected table as the next version and puts it in force for samples
// judged from now on (bureau only). Loading the table already in force changes nothing
// (created is false). Stored verdicts keep the version they were judged with.
func (s *Service) LoadLimits(ctx context.Context, p auth.Principal, t limits.Table) (StoredTable, bool, error) {
	if !p.Is(auth.Bureau) {
		return StoredTable{}, false, forbidden("role %s may not load limit tables", p.Role)
	}
	ctx, span := s.tracer.Start(ctx, "fuel.load_limits")
	defer span.End()
	if err := t.Validate(); err != nil {
		return StoredTable{}, false, err
	}
	latest, err := s.store.LatestTable(ctx)
	if err != nil {
		return StoredTable{}, false, err
	}
	hash := t.Hash()
	if hash == latest.Hash {
		return latest, false, nil
	}
	st := StoredTable{Version: latest.Version + 1, Table: t, Hash: hash, Source: SourceBureau, LoadedAt: s.now().UTC(), LoadedBy: p.Subject}
	if err := s.store.InsertTable(ctx, st); err != nil {
		return StoredTable{}, false, err
	}
	span.SetAttributes(attribute.Int("clearsky.limits.version", st.Version))
	s.log.InfoContext(ctx, "limit_table_loaded_by_bureau", "version", st.Version, "name", t.Name, "by", p.Subject)
	if _, err := s.load(ctx, st.Version); err != nil {
		return StoredTable{}, false, err
	}
	if err := s.marker.Publish(ctx, st.Version); err != nil {
		// Instances reading the marker keep the old table until Refresh repairs it.
		s.log.WarnContext(ctx, "limit_version_publish_failed", "version", st.Version, "error", err.Error())
	}
	return st, true, nil
}
