// Package permit holds the muck-truck rules of task 18 of the action plan: the site list
// (construction and disposal sites), transport permits and their lifecycle, restricted-road
// passes with their zones and hours, violations traced back to the construction site the load
// came from, and the per-plate summary the checkpoint reads. It knows nothing of HTTP, MongoDB or
// Redis: it declares the Store, Cache, Vehicles and SignalSource it needs.
package permit

import (
	"fmt"
	"regexp"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// Sentinel errors; each wraps an apperr kind.
var (
	ErrSiteNotFound      = fmt.Errorf("site %w", apperr.ErrNotFound)
	ErrPermitNotFound    = fmt.Errorf("permit %w", apperr.ErrNotFound)
	ErrPassNotFound      = fmt.Errorf("pass %w", apperr.ErrNotFound)
	ErrViolationNotFound = fmt.Errorf("violation %w", apperr.ErrNotFound)
	// ErrExists: the client-given id is taken by a different request (a same-content retry is
	// answered with the stored record instead).
	ErrExists = fmt.Errorf("this id is already used by a different request; choose another id or send the same content: %w", apperr.ErrConflict)
	// ErrStateChanged: the record changed between read and write; read it again and retry.
	ErrStateChanged = fmt.Errorf("the record changed while this request was handled; read it again and retry: %w", apperr.ErrConflict)
)

// SiteKind tells construction sites from disposal sites.
type SiteKind string

// Site kinds.
const (
	Construction SiteKind = "construction" // where loads come from (施工工地)
	Disposal     SiteKind = "disposal"     // where loads may be dumped (消纳场)
)

// DustControl is a construction site's dust-control checklist: the "six 100 %" of task 18 plus
// the on-line monitoring and video surveillance it asks for.
type DustControl struct {
	Hoarding          bool // 周边围挡
	CoveredStockpiles bool // 物料堆放覆盖
	WetExcavation     bool // 土方开挖湿法作业
	PavedRoads        bool // 路面硬化
	VehicleWashing    bool // 出入车辆清洗
	EnclosedTransport bool // 渣土车辆密闭运输
	OnlineMonitoring  bool // 在线监测
	Video             bool // 视频监控
}

// Complete reports whether every item of the checklist is met.
func (d DustControl) Complete() bool {
	return d.Hoarding && d.CoveredStockpiles && d.WetExcavation && d.PavedRoads && d.VehicleWashing &&
		d.EnclosedTransport && d.OnlineMonitoring && d.Video
}

// Site is a construction or disposal site of the site list.
type Site struct {
	ID       string
	Kind     SiteKind
	Name     string
	Address  string
	District string
	Area     geo.Shape
	// Construction sites.
	Developer   string
	Contractor  string
	PeriodFrom  time.Time // calendar days (UTC midnight)
	PeriodTo    time.Time
	DustControl DustControl
	// Disposal sites.
	AcceptedMaterials []string
	OpeningHours      *Hours
	// Bookkeeping.
	Fingerprint string
	CreatedAt   time.Time
	CreatedBy   string
	Authority   string // the construction bureau (tenant) that registered it
}

// State is where a permit stands.
type State string

// Permit states.
const (
	Pending   State = "pending"
	Approved  State = "approved"
	Refused   State = "refused"
	Suspended State = "suspended"
	Revoked   State = "revoked"
	Expired   State = "expired"
	// None is the summary's state of a plate without permits.
	None State = "none"
)

// Reason is one finding of a rule check or of an allowed-here query.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Rule    string `json:"rule,omitempty"` // where the rule comes from: "task 18", a standard, the bureau's policy
}

// Event is one entry of a permit's append-only history.
type Event struct {
	Action      Action
	From        State
	To          State
	At          time.Time
	By          string
	Role        auth.Role
	Reason      string
	ViolationID string
}

// Application is a transport company's permit request for one truck and one job.
type Application struct {
	PermitID  string // optional client-given id; the idempotency key
	VIN       string
	FromSite  string
	ToSite    string
	ValidFrom time.Time
	ValidTo   time.Time
	Enclosed  bool // fully enclosed body (全密闭)
	GPS       bool // satellite positioning fitted and reporting (全定位)
	Video     bool // video monitoring fitted (全监控)
}

// Permit is a transport permit (《渣土运输许可证》) for one truck.
type Permit struct {
	ID          string
	VIN         string
	Plate       string
	PlateColour vehicleid.Colour
	FleetID     string
	FromSite    string
	ToSite      string
	ValidFrom   time.Time
	ValidTo     time.Time
	Enclosed    bool
	GPS         bool
	Video       bool
	State       State // as stored; see StateAt
	StateReason string
	// Findings are the rule findings of the last check (at application, approval, resumption
	// or reinstatement): every reason a refusal gave.
	Findings    []Reason
	History     []Event
	Fingerprint string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int64
}

// PlateKey is the permit's plate + colour key.
func (p Permit) PlateKey() string { return vehicleid.Key(p.Plate, p.PlateColour) }

// StateAt is the permit's state at t: an approved or suspended permit whose validity has ended
// is expired even before the sweep has written it so.
func (p Permit) StateAt(t time.Time) State {
	if (p.State == Approved || p.State == Suspended) && !t.Before(p.ValidTo) {
		return Expired
	}
	return p.State
}

// ValidAt reports whether the permit allows transport at t: approved, and t within
// [ValidFrom, ValidTo).
func (p Permit) ValidAt(t time.Time) bool {
	return p.State == Approved && !t.Before(p.ValidFrom) && t.Before(p.ValidTo)
}

// Pass is a restricted-road pass (《限行道路通行证》) issued by the traffic police for a permit.
type Pass struct {
	ID          string
	PermitID    string
	VIN         string
	Plate       string
	PlateColour vehicleid.Colour
	FleetID     string
	Zone        geo.Shape
	Hours       Hours
	ValidFrom   time.Time
	ValidTo     time.Time
	Route       string // the route as the police describe it, for the driver and the officer
	// Outgoing are the domain events of the write that stores the pass (its outbox).
	Outgoing     []events.Draft
	IssuedAt     time.Time
	IssuedBy     string
	Cancelled    bool
	CancelledAt  time.Time
	CancelledBy  string
	CancelReason string
	Fingerprint  string
	Version      int64
}

// PlateKey is the pass's plate + colour key.
func (p Pass) PlateKey() string { return vehicleid.Key(p.Plate, p.PlateColour) }

// ViolationKind is what a truck was caught doing.
type ViolationKind string

// Violation kinds (task 18).
const (
	LeakyCover          ViolationKind = "leaky_cover"          // 密闭不严, spilling on the road
	MuddyWheels         ViolationKind = "muddy_wheels"         // 车轮带泥 leaving the site
	OffRoute            ViolationKind = "off_route"            // not on the prescribed route
	OutsideHours        ViolationKind = "outside_hours"        // on a restricted road outside the pass hours
	UnauthorisedDumping ViolationKind = "unauthorised_dumping" // dumping outside a disposal site
	NoPermit            ViolationKind = "no_permit"            // transporting without a valid permit
)

// ViolationKinds lists the valid kinds.
var ViolationKinds = []ViolationKind{LeakyCover, MuddyWheels, OffRoute, OutsideHours, UnauthorisedDumping, NoPermit}

// SiteSource says how a violation's construction site was found.
type SiteSource string

// Site sources.
const (
	SiteGiven      SiteSource = "given"      // named by the officer
	SiteFromPermit SiteSource = "permit"     // the from_site of the truck's permit
	SiteUnresolved SiteSource = "unresolved" // neither: the trace-back is open
)

// Violation is one recorded violation with its evidence and its trace-back.
type Violation struct {
	ID          string
	Kind        ViolationKind
	VIN         string
	Plate       string
	PlateColour vehicleid.Colour
	FleetID     string
	ObservedAt  time.Time
	Location    *geo.Point
	Place       string // where, in words
	Photos      []string
	Note        string
	PermitID    string
	FromSite    string
	SiteSource  SiteSource
	RecordedAt  time.Time
	RecordedBy  string
	Role        auth.Role
	// RevokePending is the outbox flag of the automatic revocation: set when the violation is
	// stored, cleared once every permit it revokes is revoked.
	RevokePending  bool
	RevokedPermits []string
	Fingerprint    string
	Version        int64
	// Outgoing are the domain events of the write that stores the violation (its outbox).
	Outgoing []events.Draft
}

// PlateKey is the violation's plate + colour key ("" when the plate is unknown).
func (v Violation) PlateKey() string {
	if v.Plate == "" {
		return ""
	}
	return vehicleid.Key(v.Plate, v.PlateColour)
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// checkID validates a client-given id.
func checkID(ve *apperr.ValidationError, field, id string) {
	if !idPattern.MatchString(id) {
		ve.Add(field, "an id is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
}
