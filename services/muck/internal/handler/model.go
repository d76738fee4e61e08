package handler

import (
	"encoding/json"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

// instant parses an RFC 3339 body field; empty stays zero (the core says whether it is needed).
func instant(ve *apperr.ValidationError, field, s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := localtime.ParseRFC3339(s)
	if err != nil {
		ve.Add(field, err.Error())
		return time.Time{}
	}
	return t.UTC()
}

type dustJSON struct {
	Hoarding          bool `json:"hoarding"`
	CoveredStockpiles bool `json:"covered_stockpiles"`
	WetExcavation     bool `json:"wet_excavation"`
	PavedRoads        bool `json:"paved_roads"`
	VehicleWashing    bool `json:"vehicle_washing"`
	EnclosedTransport bool `json:"enclosed_transport"`
	OnlineMonitoring  bool `json:"online_monitoring"`
	Video             bool `json:"video"`
}

type hoursJSON struct {
	From string `json:"from" input:"id,max=5"`
	To   string `json:"to" input:"id,max=5"`
}

type siteBody struct {
	SiteID            string          `json:"site_id" input:"id"`
	Kind              string          `json:"kind" input:"id"`
	Name              string          `json:"name"`
	Address           string          `json:"address"`
	District          string          `json:"district"`
	Area              json.RawMessage `json:"area"`
	Developer         string          `json:"developer"`
	Contractor        string          `json:"contractor"`
	PeriodFrom        *request.Date   `json:"period_from"`
	PeriodTo          *request.Date   `json:"period_to"`
	DustControl       *dustJSON       `json:"dust_control"`
	AcceptedMaterials []string        `json:"accepted_materials" input:"id,items=20"`
	OpeningHours      *hoursJSON      `json:"opening_hours"`
}

type siteJSON struct {
	SiteID            string        `json:"site_id"`
	Kind              string        `json:"kind"`
	Name              string        `json:"name"`
	Address           string        `json:"address,omitempty"`
	District          string        `json:"district,omitempty"`
	Area              geo.Shape     `json:"area"`
	BBox              [4]float64    `json:"bbox"`
	Developer         string        `json:"developer,omitempty"`
	Contractor        string        `json:"contractor,omitempty"`
	PeriodFrom        *request.Date `json:"period_from,omitempty"`
	PeriodTo          *request.Date `json:"period_to,omitempty"`
	DustControl       *dustOut      `json:"dust_control,omitempty"`
	AcceptedMaterials []string      `json:"accepted_materials,omitempty"`
	OpeningHours      *hoursJSON    `json:"opening_hours,omitempty"`
	CreatedAt         time.Time     `json:"created_at"`
	CreatedBy         string        `json:"created_by"`
	Authority         string        `json:"authority,omitempty"` // the construction bureau (tenant) that decides its permits
}

type dustOut struct {
	dustJSON
	Complete bool `json:"complete"`
}

func bboxOf(s geo.Shape) [4]float64 {
	b := s.BBox()
	return [4]float64{b.MinLon, b.MinLat, b.MaxLon, b.MaxLat}
}

func dateOrNil(t time.Time) *request.Date {
	if t.IsZero() {
		return nil
	}
	return &request.Date{Time: t}
}

func siteOut(s permit.Site) siteJSON {
	j := siteJSON{SiteID: s.ID, Kind: string(s.Kind), Name: s.Name, Address: s.Address, District: s.District, Area: s.Area, BBox: bboxOf(s.Area),
		Developer: s.Developer, Contractor: s.Contractor, PeriodFrom: dateOrNil(s.PeriodFrom), PeriodTo: dateOrNil(s.PeriodTo),
		AcceptedMaterials: s.AcceptedMaterials, CreatedAt: s.CreatedAt, CreatedBy: s.CreatedBy, Authority: s.Authority}
	if s.Kind == permit.Construction {
		j.DustControl = &dustOut{dustJSON: dustJSON(s.DustControl), Complete: s.DustControl.Complete()}
	}
	if h := s.OpeningHours; h != nil {
		j.OpeningHours = &hoursJSON{From: permit.Clock(h.From), To: permit.Clock(h.To)}
	}
	return j
}

type permitBody struct {
	PermitID  string `json:"permit_id" input:"id"`
	VIN       string `json:"vin" input:"id"`
	FromSite  string `json:"from_site" input:"id"`
	ToSite    string `json:"to_site" input:"id"`
	ValidFrom string `json:"valid_from" input:"id"`
	ValidTo   string `json:"valid_to" input:"id"`
	Enclosed  bool   `json:"enclosed"`
	GPS       bool   `json:"gps"`
	Video     bool   `json:"video"`
}

type eventJSON struct {
	Action      string    `json:"action"`
	From        string    `json:"from,omitempty"`
	To          string    `json:"to"`
	At          time.Time `json:"at"`
	By          string    `json:"by"`
	Role        string    `json:"role"`
	Reason      string    `json:"reason,omitempty"`
	ViolationID string    `json:"violation_id,omitempty"`
}

type permitJSON struct {
	PermitID    string          `json:"permit_id"`
	State       string          `json:"state"`
	StateReason string          `json:"state_reason,omitempty"`
	Reasons     []permit.Reason `json:"reasons"`
	VIN         string          `json:"vin"`
	Plate       string          `json:"plate"`
	PlateColour string          `json:"plate_colour"`
	FleetID     string          `json:"fleet_id"`
	FromSite    string          `json:"from_site"`
	ToSite      string          `json:"to_site"`
	ValidFrom   time.Time       `json:"valid_from"`
	ValidTo     time.Time       `json:"valid_to"`
	Enclosed    bool            `json:"enclosed"`
	GPS         bool            `json:"gps"`
	Video       bool            `json:"video"`
	History     []eventJSON     `json:"history"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	Version     int64           `json:"version"`
}

func (h *Handler) permitOut(p permit.Permit) permitJSON {
	j := permitJSON{PermitID: p.ID, State: string(p.StateAt(h.svc.Now())), StateReason: p.StateReason, Reasons: p.Findings, VIN: p.VIN,
		Plate: p.Plate, PlateColour: string(p.PlateColour), FleetID: p.FleetID, FromSite: p.FromSite, ToSite: p.ToSite,
		ValidFrom: p.ValidFrom, ValidTo: p.ValidTo, Enclosed: p.Enclosed, GPS: p.GPS, Video: p.Video,
		History: make([]eventJSON, 0, len(p.History)), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Version: p.Version}
	if j.Reasons == nil {
		j.Reasons = []permit.Reason{}
	}
	for _, e := range p.History {
		j.History = append(j.History, eventJSON{Action: string(e.Action), From: string(e.From), To: string(e.To), At: e.At, By: e.By,
			Role: string(e.Role), Reason: e.Reason, ViolationID: e.ViolationID})
	}
	return j
}

type reasonBody struct {
	Reason string `json:"reason" input:"text"`
}

type passBody struct {
	PassID    string          `json:"pass_id" input:"id"`
	PermitID  string          `json:"permit_id" input:"id"`
	Zone      json.RawMessage `json:"zone"`
	Hours     *hoursJSON      `json:"hours"`
	ValidFrom string          `json:"valid_from" input:"id"`
	ValidTo   string          `json:"valid_to" input:"id"`
	Route     string          `json:"route" input:"text"`
}

type passJSON struct {
	PassID       string     `json:"pass_id"`
	PermitID     string     `json:"permit_id"`
	State        string     `json:"state"` // active | not_yet_valid | expired | cancelled
	VIN          string     `json:"vin"`
	Plate        string     `json:"plate"`
	PlateColour  string     `json:"plate_colour"`
	FleetID      string     `json:"fleet_id"`
	Zone         geo.Shape  `json:"zone"`
	BBox         [4]float64 `json:"bbox"`
	Hours        hoursJSON  `json:"hours"`
	Timezone     string     `json:"timezone"`
	ValidFrom    time.Time  `json:"valid_from"`
	ValidTo      time.Time  `json:"valid_to"`
	Route        string     `json:"route,omitempty"`
	IssuedAt     time.Time  `json:"issued_at"`
	IssuedBy     string     `json:"issued_by"`
	CancelledAt  *time.Time `json:"cancelled_at,omitempty"`
	CancelledBy  string     `json:"cancelled_by,omitempty"`
	CancelReason string     `json:"cancel_reason,omitempty"`
	Version      int64      `json:"version"`
}

func (h *Handler) passOut(p permit.Pass) passJSON {
	now := h.svc.Now()
	j := passJSON{PassID: p.ID, PermitID: p.PermitID, State: "active", VIN: p.VIN, Plate: p.Plate, PlateColour: string(p.PlateColour),
		FleetID: p.FleetID, Zone: p.Zone, BBox: bboxOf(p.Zone), Hours: hoursJSON{From: permit.Clock(p.Hours.From), To: permit.Clock(p.Hours.To)},
		Timezone: "Asia/Shanghai", ValidFrom: p.ValidFrom, ValidTo: p.ValidTo, Route: p.Route, IssuedAt: p.IssuedAt, IssuedBy: p.IssuedBy,
		CancelledBy: p.CancelledBy, CancelReason: p.CancelReason, Version: p.Version}
	switch {
	case p.Cancelled:
		j.State = "cancelled"
		t := p.CancelledAt
		j.CancelledAt = &t
	case now.Before(p.ValidFrom):
		j.State = "not_yet_valid"
	case !now.Before(p.ValidTo):
		j.State = "expired"
	}
	return j
}

type allowedJSON struct {
	Allowed   bool            `json:"allowed"`
	Reasons   []permit.Reason `json:"reasons"`
	VIN       string          `json:"vin"`
	Lat       float64         `json:"lat"`
	Lon       float64         `json:"lon"`
	At        time.Time       `json:"at"`
	LocalTime string          `json:"local_time"`
	PermitID  string          `json:"permit_id,omitempty"`
	PassID    string          `json:"pass_id,omitempty"`
}

// coordinate reads a required decimal-degree query parameter.
func coordinate(ve *apperr.ValidationError, c *gin.Context, name string) float64 {
	s := c.Query(name)
	if s == "" {
		ve.Add(name, "required: decimal degrees")
		return 0
	}
	f, err := request.Float(s)
	if err != nil {
		ve.Add(name, "must be finite decimal degrees, e.g. 39.33")
		return 0
	}
	return f
}

type locationJSON struct {
	Lat *float64 `json:"lat" input:"min=-90,max=90"`
	Lon *float64 `json:"lon" input:"min=-180,max=180"`
}

type violationBody struct {
	ViolationID string        `json:"violation_id" input:"id"`
	Kind        string        `json:"kind" input:"id"`
	VIN         string        `json:"vin" input:"id"`
	Plate       string        `json:"plate" input:"id"`
	PlateColour string        `json:"plate_colour" input:"id"`
	ObservedAt  string        `json:"observed_at" input:"id"`
	Location    *locationJSON `json:"location"`
	Place       string        `json:"place"`
	Photos      []string      `json:"photos" input:"id,items=20,max=512"`
	Note        string        `json:"note" input:"text"`
	FromSite    string        `json:"from_site" input:"id"`
}

type pointJSON struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

type violationJSON struct {
	ViolationID    string     `json:"violation_id"`
	Kind           string     `json:"kind"`
	VIN            string     `json:"vin,omitempty"`
	Plate          string     `json:"plate,omitempty"`
	PlateColour    string     `json:"plate_colour,omitempty"`
	FleetID        string     `json:"fleet_id,omitempty"`
	ObservedAt     time.Time  `json:"observed_at"`
	Location       *pointJSON `json:"location,omitempty"`
	Place          string     `json:"place,omitempty"`
	Photos         []string   `json:"photos"`
	Note           string     `json:"note,omitempty"`
	PermitID       string     `json:"permit_id,omitempty"`
	FromSite       string     `json:"from_site,omitempty"`
	SiteSource     string     `json:"site_source"`
	RecordedAt     time.Time  `json:"recorded_at"`
	RecordedBy     string     `json:"recorded_by"`
	RevokePending  bool       `json:"revoke_pending"`
	RevokedPermits []string   `json:"revoked_permits"`
}

func violationOut(v permit.Violation) violationJSON {
	j := violationJSON{ViolationID: v.ID, Kind: string(v.Kind), VIN: v.VIN, Plate: v.Plate, PlateColour: string(v.PlateColour), FleetID: v.FleetID,
		ObservedAt: v.ObservedAt, Place: v.Place, Photos: v.Photos, Note: v.Note, PermitID: v.PermitID, FromSite: v.FromSite,
		SiteSource: string(v.SiteSource), RecordedAt: v.RecordedAt, RecordedBy: v.RecordedBy, RevokePending: v.RevokePending,
		RevokedPermits: v.RevokedPermits}
	if l := v.Location; l != nil {
		j.Location = &pointJSON{Lat: l.Lat, Lon: l.Lon}
	}
	if j.RevokedPermits == nil {
		j.RevokedPermits = []string{}
	}
	return j
}

type siteRowJSON struct {
	SiteID     string         `json:"site_id"` // "" for unresolved trace-backs
	Name       string         `json:"name,omitempty"`
	Developer  string         `json:"developer,omitempty"`
	Contractor string         `json:"contractor,omitempty"`
	Total      int            `json:"total"`
	ByKind     map[string]int `json:"by_kind"`
}
