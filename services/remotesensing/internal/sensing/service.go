package sensing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/libs/vehicleinfo"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
)

// Cursor is the position after the last item of a list page (newest first).
type Cursor struct {
	At time.Time
	ID string
}

// ReadingFilter narrows a reading list. Empty fields match everything.
type ReadingFilter struct {
	Plate      string
	PlateKey   string // plate + colour, when the colour is known
	StationID  string
	OperatorID string // a sensor's own stations
	FleetID    string // a fleet's own vehicles
	Verdict    Verdict
	From, To   time.Time // measured_at in [From, To)
}

// CaseFilter narrows a case list. Empty fields match everything.
type CaseFilter struct {
	Plate        string
	PlateKey     string
	State        State
	Pollutant    limits.Parameter
	FleetID      string // a fleet's own vehicles
	RepairShopID string // a repair shop's own repairs
}

// TallyRow counts judged readings of one vehicle in a period, with the chain fields the
// readings were judged with and whether they exceeded.
type TallyRow struct {
	PlateKey          string
	Maker             string
	InspectionStation string
	FleetID           string
	Exceeded          bool
	Readings          int
}

// Job is an outbox entry: readings whose exceedances, cases and summaries must be derived, or
// whose judgement waits for the registry. The upload writes it before the readings and deletes
// it when everything derived from them is stored and published; Run finishes what is left.
type Job struct {
	ID          string
	ReadingKeys []string
	CreatedAt   time.Time
	NotBefore   time.Time
	Attempts    int
}

// StationStore keeps the remote-sensing stations and their calibrations.
type StationStore interface {
	// InsertStation adds a station; ErrStationExists when the id is taken.
	InsertStation(ctx context.Context, s Station) error
	// GetStation returns a station or ErrStationNotFound.
	GetStation(ctx context.Context, id string) (Station, error)
	// ListStations returns the stations run by operatorID ("" for all), by id.
	ListStations(ctx context.Context, operatorID string) ([]Station, error)
	// ReplaceStation stores s if the stored version is still s.Version-1; ErrVersionConflict
	// otherwise.
	ReplaceStation(ctx context.Context, s Station) error
}

// ReadingStore keeps readings and the exceedances judged from them.
type ReadingStore interface {
	// InsertReadings stores new readings in one unordered batch and returns the positions of
	// those whose key was already stored (the repeats).
	InsertReadings(ctx context.Context, rs []Reading) ([]int, error)
	// GetReadings returns the stored readings with the given keys (missing ones are left out).
	GetReadings(ctx context.Context, keys []string) ([]Reading, error)
	// ListReadings returns up to limit readings matching f, newest first, after the cursor.
	ListReadings(ctx context.Context, f ReadingFilter, after *Cursor, limit int) ([]Reading, error)
	// SetJudgement records the verdict of a reading still pending; false when it no longer is.
	SetJudgement(ctx context.Context, r Reading) (bool, error)

	// InsertExceedances stores exceedances, ignoring those already stored.
	InsertExceedances(ctx context.Context, es []Exceedance) error
	// ExceedancesOf returns the exceedances of the plates measured at or after since.
	ExceedancesOf(ctx context.Context, plateKeys []string, since time.Time) ([]Exceedance, error)
}

// CaseStore keeps cases; every transition adds the plate's outbox record (libs/outbox).
type CaseStore interface {
	// InsertCase opens a case; ErrCaseOpen when its plate already has one open for the pollutant.
	// A new case is not flagged cache-dirty: the outbox job of the readings that opened it
	// publishes it.
	InsertCase(ctx context.Context, c Case) error
	// GetCase returns a case or ErrCaseNotFound.
	GetCase(ctx context.Context, id string) (Case, error)
	// CasesOf returns the plates' open cases and those ended at or after endedSince.
	CasesOf(ctx context.Context, plateKeys []string, endedSince time.Time) ([]Case, error)
	// ListCases returns up to limit cases matching f, newest first, after the cursor.
	ListCases(ctx context.Context, f CaseFilter, after *Cursor, limit int) ([]Case, error)
	// UpdateCase stores c, flagged cache-dirty, and appends e to its history, if the stored case
	// is still in state from at version c.Version-1; ErrVersionConflict otherwise.
	UpdateCase(ctx context.Context, c Case, from State, e Entry) error
	// AckCase clears a case's outbox records (its plate's part was published) if it is still at
	// version.
	AckCase(ctx context.Context, id string, version int64) error
}

// LimitStore keeps the limit-table versions the bureau adds at run time.
type LimitStore interface {
	// InsertLimitVersion stores a limit-table version the bureau added at run time;
	// ErrLimitVersionExists when one has its name or its effective day.
	InsertLimitVersion(ctx context.Context, v StoredLimitVersion) error
	// LimitVersions returns the versions added at run time.
	LimitVersions(ctx context.Context) ([]StoredLimitVersion, error)
}

// JobStore keeps the uploads' outbox jobs (derivations still to finish).
type JobStore interface {
	// InsertJob, DueJobs, ClaimJob, RescheduleJob and DeleteJob keep the outbox.
	InsertJob(ctx context.Context, j Job) error
	DueJobs(ctx context.Context, now time.Time, limit int) ([]Job, error)
	// ClaimJob moves a due job's time from notBefore to until, so that no other replica takes
	// it meanwhile; false when another replica moved it first.
	ClaimJob(ctx context.Context, id string, notBefore, until time.Time) (bool, error)
	RescheduleJob(ctx context.Context, id string, notBefore time.Time, attempts int) error
	DeleteJob(ctx context.Context, id string) error
}

// ReportStore answers the reports and the full resync.
type ReportStore interface {
	// Tally counts the judged readings measured in [from, to) per vehicle, chain and outcome.
	Tally(ctx context.Context, from, to time.Time) ([]TallyRow, error)
	// CasesOpened returns the cases opened in [from, to).
	CasesOpened(ctx context.Context, from, to time.Time) ([]Case, error)
	// ActivePlates returns the plates with an open case or an exceedance measured since.
	ActivePlates(ctx context.Context, since time.Time) ([]Plate, error)
}

// Stores are the service's stores, one per aggregate; one MongoDB store implements them all.
type Stores struct {
	Stations StationStore
	Readings ReadingStore
	Cases    CaseStore
	Limits   LimitStore
	Jobs     JobStore
	Reports  ReportStore
}

// Plate is a plate and its colour.
type Plate struct {
	Plate  string
	Colour vehicleid.Colour
}

// Vehicles reads the registry's status of a vehicle (libs/vehicleinfo). An error wrapping
// apperr.ErrNotFound means the registry does not know the plate; any other error that it did
// not answer.
type Vehicles interface {
	// ByPlates answers for each distinct plate, keyed by vehicleid.Key.
	ByPlates(ctx context.Context, plates []vehicleinfo.PlateRef, concurrency int) map[string]vehicleinfo.Result
}

// Parts writes the plates' remote-sensing parts to Redis in one round trip (summary.Writer).
type Parts interface {
	Put(ctx context.Context, es ...summary.Entry) error
}

// Auditor records lookups of personal data (a plate's movements past the stations).
type Auditor interface {
	Record(ctx context.Context, p auth.Principal, action, subject string, detail map[string]any) error
}

// Options are the service's rules and limits; zero fields take the defaults of Defaults.
type Options struct {
	// Limits is the limit table; Default() when empty.
	Limits limits.Table
	// CycleDays is the inspection cycle of the two-in-a-cycle rule (182: six months).
	CycleDays int
	// MinExceedances is how many exceedances of one pollutant in one cycle open a case (2).
	MinExceedances int
	// CalibrationValidDays is how long a calibration holds unless the station says (365).
	CalibrationValidDays int
	// MaxBatch is the most readings one upload may carry (5000).
	MaxBatch int
	// LookupConcurrency bounds the parallel registry lookups of one batch (16).
	LookupConcurrency int
	// StationCacheTTL is how long a station read from MongoDB is trusted in memory (30 s).
	StationCacheTTL time.Duration
	// JobGrace is how old an outbox job must be before Run takes it over (30 s): younger ones
	// are still being finished by the upload that wrote them.
	JobGrace time.Duration
	// JobRetry is the first wait before an unfinished outbox job is tried again; it doubles up
	// to 10 min (30 s).
	JobRetry time.Duration
	// FraudFactor and FraudMinVehicles define the inspection-station fraud signal (2, 20).
	FraudFactor      float64
	FraudMinVehicles int
}

// Defaults fills the zero fields of o.
func (o Options) Defaults() Options {
	if len(o.Limits.Versions) == 0 {
		o.Limits = limits.Default()
	}
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&o.CycleDays, 182)
	set(&o.MinExceedances, 2)
	set(&o.CalibrationValidDays, 365)
	set(&o.MaxBatch, 5000)
	set(&o.LookupConcurrency, 16)
	set(&o.FraudMinVehicles, 20)
	if o.StationCacheTTL <= 0 {
		o.StationCacheTTL = 30 * time.Second
	}
	if o.JobGrace <= 0 {
		o.JobGrace = 30 * time.Second
	}
	if o.JobRetry <= 0 {
		o.JobRetry = 30 * time.Second
	}
	if o.FraudFactor <= 0 {
		o.FraudFactor = 2
	}
	return o
}

func (o Options) cycle() time.Duration { return time.Duration(o.CycleDays) * 24 * time.Hour }

// Service applies the remote-sensing rules on top of its stores, the registry and the Redis parts.
type Service struct {
	stationStore StationStore
	readings     ReadingStore
	cases        CaseStore
	limitStore   LimitStore
	jobs         JobStore
	reports      ReportStore
	vehicles     Vehicles
	cache        Parts
	audit        Auditor
	opt          Options
	log          *slog.Logger
	tracer       trace.Tracer
	now          func() time.Time

	mu       sync.Mutex
	stations map[string]cachedStation

	// limits is the table in force: opt.Limits (the release's or the file's) with the versions
	// the bureau added at run time (RefreshLimits).
	limits atomic.Pointer[limits.Table]

	// The derive steps of concurrent uploads, coalesced (deriveTogether).
	dmu      sync.Mutex
	dqueue   []*deriveCall
	deriving bool
}

type cachedStation struct {
	s  Station
	at time.Time
}

// NewService returns the remote-sensing core.
func NewService(st Stores, vehicles Vehicles, cache Parts, audit Auditor, opt Options, log *slog.Logger, tp trace.TracerProvider) *Service {
	s := &Service{stationStore: st.Stations, readings: st.Readings, cases: st.Cases, limitStore: st.Limits, jobs: st.Jobs, reports: st.Reports, vehicles: vehicles, cache: cache, audit: audit, opt: opt.Defaults(), log: log,
		tracer: tp.Tracer("github.com/clearsky/clearsky/services/remotesensing"), now: time.Now, stations: map[string]cachedStation{}}
	s.limits.Store(&s.opt.Limits)
	return s
}

// SetClock replaces the service's clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Options returns the service's options. Their Limits is the release's (or the file's) table;
// Limits returns the table in force, with the versions the bureau added since.
func (s *Service) Options() Options { return s.opt }

// Limits returns the limit table (bureau, police, transport, sensor: what readings are judged by).
func (s *Service) Limits(p auth.Principal) (limits.Table, error) {
	if !p.Is(auth.Bureau, auth.Police, auth.Transport, auth.Sensor, auth.Admin) {
		return limits.Table{}, forbidden("role %s may not read the limit table", p.Role)
	}
	return s.table(), nil
}

// table returns the limit table in force.
func (s *Service) table() limits.Table { return *s.limits.Load() }

func forbidden(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, apperr.ErrForbidden)...)
}

func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// station returns a station through the in-memory cache.
func (s *Service) station(ctx context.Context, id string) (Station, error) {
	now := s.now()
	s.mu.Lock()
	c, ok := s.stations[id]
	s.mu.Unlock()
	if ok && now.Sub(c.at) < s.opt.StationCacheTTL {
		return c.s, nil
	}
	st, err := s.stationStore.GetStation(ctx, id)
	if err != nil {
		return Station{}, err
	}
	s.remember(st)
	return st, nil
}

func (s *Service) remember(st Station) {
	s.mu.Lock()
	s.stations[st.ID] = cachedStation{s: st, at: s.now()}
	s.mu.Unlock()
}

// RegisterStation registers a remote-sensing station (bureau). Registering the same station
// again with the same details answers the stored one (created false); other details are a
// conflict.
func (s *Service) RegisterStation(ctx context.Context, p auth.Principal, st Station) (Station, bool, error) {
	if !p.Is(auth.Bureau) {
		return Station{}, false, forbidden("role %s may not register remote-sensing stations", p.Role)
	}
	now := s.now().UTC()
	if err := st.Validate(now); err != nil {
		return Station{}, false, err
	}
	st.CreatedAt, st.UpdatedAt, st.UpdatedBy, st.Version = now, now, p.Subject, 1
	err := s.stationStore.InsertStation(ctx, st)
	if errors.Is(err, ErrStationExists) {
		old, gerr := s.stationStore.GetStation(ctx, st.ID)
		if gerr != nil {
			return Station{}, false, gerr
		}
		if sameStation(old, st) {
			return old, false, nil
		}
		return Station{}, false, err
	}
	if err != nil {
		return Station{}, false, err
	}
	s.remember(st)
	return st, true, nil
}

// StationPatch is a partial station update; nil fields are left alone.
type StationPatch struct {
	Name                 *string
	Lat, Lon             *float64
	Site, Lane, Device   *string
	OperatorID           *string
	CalibratedOn         *time.Time
	CalibrationValidDays *int
	SlopePct             *float64
}

// UpdateStation changes a station (bureau): a new calibration, another operator, a moved device.
func (s *Service) UpdateStation(ctx context.Context, p auth.Principal, id string, patch StationPatch) (Station, error) {
	if !p.Is(auth.Bureau) {
		return Station{}, forbidden("role %s may not change remote-sensing stations", p.Role)
	}
	old, err := s.stationStore.GetStation(ctx, id)
	if err != nil {
		return Station{}, err
	}
	st := old
	setS := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setF := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	setS(&st.Name, patch.Name)
	setS(&st.Site, patch.Site)
	setS(&st.Lane, patch.Lane)
	setS(&st.Device, patch.Device)
	setS(&st.OperatorID, patch.OperatorID)
	setF(&st.Lat, patch.Lat)
	setF(&st.Lon, patch.Lon)
	setF(&st.SlopePct, patch.SlopePct)
	if patch.CalibratedOn != nil {
		st.CalibratedOn = *patch.CalibratedOn
	}
	if patch.CalibrationValidDays != nil {
		st.CalibrationValidDays = *patch.CalibrationValidDays
	}
	now := s.now().UTC()
	if err := st.Validate(now); err != nil {
		return Station{}, err
	}
	st.UpdatedAt, st.UpdatedBy, st.Version = now, p.Subject, old.Version+1
	if err := s.stationStore.ReplaceStation(ctx, st); err != nil {
		return Station{}, err
	}
	s.remember(st)
	return st, nil
}

// canSeeStation: the bureau, police and transport bureau see every station; a sensor operator
// its own.
func canSeeStation(p auth.Principal, st Station) bool {
	switch p.Role {
	case auth.Bureau, auth.Police, auth.Transport, auth.Admin:
		return true
	case auth.Sensor:
		return st.OperatorID == p.Tenant
	}
	return false
}

// GetStation returns a station the caller may see; another operator's is "not found".
func (s *Service) GetStation(ctx context.Context, p auth.Principal, id string) (Station, error) {
	if !p.Is(auth.Bureau, auth.Police, auth.Transport, auth.Sensor, auth.Admin) {
		return Station{}, forbidden("role %s may not read remote-sensing stations", p.Role)
	}
	st, err := s.stationStore.GetStation(ctx, id)
	if err != nil {
		return Station{}, err
	}
	if !canSeeStation(p, st) {
		return Station{}, ErrStationNotFound
	}
	return st, nil
}

// ListStations returns the stations the caller may see.
func (s *Service) ListStations(ctx context.Context, p auth.Principal) ([]Station, error) {
	op := ""
	switch p.Role {
	case auth.Bureau, auth.Police, auth.Transport, auth.Admin:
	case auth.Sensor:
		op = p.Tenant
	default:
		return nil, forbidden("role %s may not read remote-sensing stations", p.Role)
	}
	return s.stationStore.ListStations(ctx, op)
}

// Explain restores the per-parameter results of a stored reading: the store keeps the verdict,
// its table version and the exceedances, and the results within their limits are recomputed
// from that version (judging is deterministic). A version no longer in the table leaves the
// stored exceedances only.
func (s *Service) Explain(r Reading) Reading {
	if !r.Verdict.Judged() {
		return r
	}
	if res, ok := s.table().Results(r.Judgement.Version, r.Trace.FuelType, r.Values); ok {
		r.Judgement.Results = res
	}
	return r
}

// CalibrationValidDays is how long st's calibration holds.
func (s *Service) CalibrationValidDays(st Station) int {
	if st.CalibrationValidDays > 0 {
		return st.CalibrationValidDays
	}
	return s.opt.CalibrationValidDays
}
