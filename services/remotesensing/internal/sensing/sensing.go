// Package sensing holds the remote-sensing service's rules (tasks 15, 32 and 33 of the action
// plan): remote-sensing stations and who may upload for them, readings and their verdicts, the
// two-exceedances-in-one-inspection-cycle rule that opens a case, the case's enforcement loop
// (bureau, police, repair shop, transport bureau) with its append-only history, the per-plate
// summary for the checkpoint, and the exceedance reports with the inspection-station fraud
// signal. It knows nothing of HTTP, MongoDB or Redis: it declares the Store, Vehicles and
// StatusCache it needs.
package sensing

import (
	"fmt"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
)

// Sentinel errors; each wraps an apperr kind.
var (
	ErrStationNotFound = fmt.Errorf("remote-sensing station %w", apperr.ErrNotFound)
	ErrStationExists   = fmt.Errorf("a remote-sensing station with this station_id is already registered with other details: %w", apperr.ErrConflict)
	ErrCaseNotFound    = fmt.Errorf("case %w", apperr.ErrNotFound)
	// ErrCaseOpen: the plate already has an open case for the pollutant (one at a time).
	ErrCaseOpen = fmt.Errorf("an open case for this plate and pollutant exists: %w", apperr.ErrConflict)
	// ErrVersionConflict: the record changed between read and write; read again and retry.
	ErrVersionConflict = fmt.Errorf("the record changed while this update was made; read it again and retry: %w", apperr.ErrConflict)
	// ErrOutOfOrder: a case step asked for from a state it does not follow.
	ErrOutOfOrder = fmt.Errorf("step out of order: %w", apperr.ErrConflict)
)

// Station is a roadside remote-sensing station (a site with its device, on one lane).
type Station struct {
	ID     string
	Name   string
	Lat    float64
	Lon    float64
	Site   string // address or road section
	Lane   string
	Device string // make, model and serial of the remote-sensing device
	// OperatorID is the tenant of the sensor role that runs the station and may upload its
	// readings.
	OperatorID string
	// CalibratedOn is the day of the last calibration; readings measured after its validity are
	// stored and not judged.
	CalibratedOn time.Time
	// CalibrationValidDays overrides the service's default validity; 0 keeps the default.
	CalibrationValidDays int
	// SlopePct is the road slope at the site in percent (uphill positive), for VSP.
	SlopePct  float64
	CreatedAt time.Time
	UpdatedAt time.Time
	UpdatedBy string
	Version   int64
}

// Verdict is what became of a reading.
type Verdict string

// Verdicts. Pass, Exceed, Invalid and NotJudged come from the limit table; UnknownVehicle and
// Pending from the registry lookup.
const (
	Pass           Verdict = Verdict(limits.Pass)
	Exceed         Verdict = Verdict(limits.Exceed)
	Invalid        Verdict = Verdict(limits.Invalid)
	NotJudged      Verdict = Verdict(limits.NotJudged)
	UnknownVehicle Verdict = "unknown_vehicle" // the registry does not know the plate: stored, not judged
	Pending        Verdict = "pending"         // the registry did not answer: stored, judged later
)

// Verdicts lists every verdict.
var Verdicts = []Verdict{Pass, Exceed, Invalid, NotJudged, UnknownVehicle, Pending}

// Judged reports whether the verdict came from comparing values with limits.
func (v Verdict) Judged() bool { return v == Pass || v == Exceed }

// Trace is the vehicle's supervision chain as the registry knew it when the reading was judged
// (task 15: maker, place of registration, inspection station, transport company).
type Trace struct {
	VIN               string
	FuelType          string
	Maker             string
	FleetID           string // the transport company (fleet tenant)
	InspectionStation string // the station of the last passing periodic emission inspection
	RegisteredPlace   string
}

// Reading is one stored measurement of a passing vehicle with its verdict.
type Reading struct {
	// Key identifies the reading: StationID + "|" + ReadingID (reading ids are the station's).
	Key          string
	ReadingID    string
	StationID    string
	OperatorID   string
	Plate        string
	PlateColour  vehicleid.Colour
	MeasuredAt   time.Time
	Values       limits.Values
	SpeedKmh     float64
	AccelMS2     float64
	WindMS       *float64
	TemperatureC *float64
	HumidityPct  *float64
	Rain         bool
	Fog          bool
	Lane         string
	Photos       []string
	// Hash fingerprints what the station sent, to tell a repeat from a conflicting re-upload.
	Hash       string
	Verdict    Verdict
	Judgement  limits.Judgement
	Trace      Trace
	ReceivedAt time.Time
	UploadedBy string
	JudgedAt   time.Time
}

// PlateKey is the reading's plate + colour key.
func (r Reading) PlateKey() string { return vehicleid.Key(r.Plate, r.PlateColour) }

// ReadingKey builds a reading's key.
func ReadingKey(stationID, readingID string) string { return stationID + "|" + readingID }

// Exceedance is one parameter of one judged reading above its limit; the two-in-a-cycle rule
// and the summary count them.
type Exceedance struct {
	Key         string // ReadingKey + "|" + Pollutant
	ReadingKey  string
	ReadingID   string
	StationID   string
	Plate       string
	PlateColour vehicleid.Colour
	Pollutant   limits.Parameter
	Value       float64
	Limit       float64
	Unit        string
	Standard    string
	MeasuredAt  time.Time
}

// PlateKey is the exceedance's plate + colour key.
func (e Exceedance) PlateKey() string { return vehicleid.Key(e.Plate, e.PlateColour) }

// ExceedancesOf returns a judged reading's exceedances.
func ExceedancesOf(r Reading) []Exceedance {
	if r.Verdict != Exceed {
		return nil
	}
	var out []Exceedance
	for _, x := range r.Judgement.Exceedances() {
		out = append(out, Exceedance{Key: r.Key + "|" + string(x.Parameter), ReadingKey: r.Key, ReadingID: r.ReadingID,
			StationID: r.StationID, Plate: r.Plate, PlateColour: r.PlateColour, Pollutant: x.Parameter, Value: x.Value,
			Limit: x.Limit, Unit: x.Unit, Standard: x.Standard, MeasuredAt: r.MeasuredAt})
	}
	return out
}

// State is where a case stands in the enforcement loop.
type State string

// Case states, in loop order; Closed and Dismissed end a case.
const (
	Detected  State = "detected"  // opened by the two-in-a-cycle rule
	Notified  State = "notified"  // the bureau notified the owner
	Penalised State = "penalised" // the police penalised the owner
	Repaired  State = "repaired"  // the transport bureau confirmed a repair shop's repair
	Retested  State = "retested"  // a passing remote-sensing reading or inspection after the repair
	Closed    State = "closed"    // the bureau closed the case
	Dismissed State = "dismissed" // the bureau dismissed the case, with a reason
)

// States lists every state in loop order.
var States = []State{Detected, Notified, Penalised, Repaired, Retested, Closed, Dismissed}

// OpenStates are the states of a case still in progress.
var OpenStates = []State{Detected, Notified, Penalised, Repaired, Retested}

// Open reports whether a case in s is still in progress.
func (s State) Open() bool { return s != Closed && s != Dismissed }

// Entry is one line of a case's history: a transition, or an event that keeps the state (the
// owner's choice of repair shop, a repair report). Entries are only ever appended.
type Entry struct {
	Event     string // "transition", "repair_shop_chosen" or "repair_reported"
	From      State  // empty for the opening entry
	To        State
	By        string // the principal's subject
	Role      auth.Role
	Tenant    string
	At        time.Time
	Reason    string
	Reference string // notice, penalty decision, repair order or inspection report number
	Shop      string // the repair shop chosen, or reporting
}

// Entry events.
const (
	EventTransition     = "transition"
	EventShopChosen     = "repair_shop_chosen"
	EventRepairReported = "repair_reported"
)

// Trigger is one exceedance that opened a case.
type Trigger struct {
	ReadingKey string
	ReadingID  string
	StationID  string
	MeasuredAt time.Time
	Value      float64
	Limit      float64
	Unit       string
}

// RepairReport is a repair shop's report of the repair of an exceeding vehicle.
type RepairReport struct {
	ShopID      string // the repair shop's tenant
	Reference   string // the repair order number
	Description string
	ReportedAt  time.Time
	ReportedBy  string
}

// Case is one exceeding vehicle's enforcement case for one pollutant.
type Case struct {
	ID          string
	Plate       string
	PlateColour vehicleid.Colour
	Pollutant   limits.Parameter
	State       State
	OpenedAt    time.Time
	StateSince  time.Time
	EndedAt     time.Time // when closed or dismissed
	Triggers    []Trigger
	// Trace is the vehicle's chain when the case opened; RepairShopID joins it when the owner
	// chooses the repair shop: the one shop that may see the case and report its repair.
	Trace        Trace
	RepairShopID string
	Repair       *RepairReport
	// RetestReadingKey is the passing reading that retested the vehicle, when automatic.
	RetestReadingKey string
	History          []Entry
	UpdatedAt        time.Time
	Version          int64
}

// PlateKey is the case's plate + colour key.
func (c Case) PlateKey() string { return vehicleid.Key(c.Plate, c.PlateColour) }

// OpenKey is the value that makes "one open case per plate and pollutant" a unique key: plate
// key and pollutant while open, the case id once ended.
func (c Case) OpenKey() string {
	if c.State.Open() {
		return c.PlateKey() + "|" + string(c.Pollutant)
	}
	return c.ID
}
