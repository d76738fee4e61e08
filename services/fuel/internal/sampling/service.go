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

// Service applies the fuel service's rules on top of its stores and a VersionMarker.
type Service struct {
	sites     SiteStore
	labs      LabStore
	samples   SampleStore
	revisions RevisionStore
	cases     CaseStore
	tables    TableStore
	marker    VersionMarker
	policy    Policy
	log       *slog.Logger
	tracer    trace.Tracer
	now       func() time.Time

	mu    sync.RWMutex
	table StoredTable // the newest table version this instance has loaded
}

// NewService returns the fuel core. Call Init before serving.
func NewService(st Stores, marker VersionMarker, policy Policy, log *slog.Logger, tp trace.TracerProvider) *Service {
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
	return &Service{sites: st.Sites, labs: st.Labs, samples: st.Samples, revisions: st.Revisions, cases: st.Cases, tables: st.Tables,
		marker: marker, policy: policy, log: log,
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
	latest, err := s.tables.LatestTable(ctx)
	switch {
	case errors.Is(err, ErrTableNotFound):
		latest = StoredTable{}
	case err != nil:
		return fmt.Errorf("read limit tables: %w", err)
	}
	hash := def.Hash()
	if latest.Version == 0 || (latest.Source == SourceDefault && latest.Hash != hash) {
		t := StoredTable{Version: latest.Version + 1, Table: def, Hash: hash, Source: SourceDefault, LoadedAt: s.now().UTC(), LoadedBy: "release"}
		if err := s.tables.InsertTable(ctx, t); err != nil && !errors.Is(err, ErrTableVersionTaken) {
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
	v, err := s.tables.LatestTableVersion(ctx)
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
	t, err := s.tables.TableVersion(ctx, v)
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
	if v, err = s.tables.LatestTableVersion(ctx); err != nil {
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
	return s.tables.TableVersion(ctx, version)
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
	latest, err := s.tables.LatestTable(ctx)
	if err != nil {
		return StoredTable{}, false, err
	}
	hash := t.Hash()
	if hash == latest.Hash {
		return latest, false, nil
	}
	st := StoredTable{Version: latest.Version + 1, Table: t, Hash: hash, Source: SourceBureau, LoadedAt: s.now().UTC(), LoadedBy: p.Subject}
	if err := s.tables.InsertTable(ctx, st); err != nil {
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
