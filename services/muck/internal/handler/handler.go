// Package handler is the muck service's HTTP edge: routes, request and response bodies, and
// their translation to the permit core. Rules live in the core; this package only decodes,
// calls and encodes.
package handler

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

// Handler serves the muck routes.
type Handler struct {
	svc *permit.Service
	log *slog.Logger
}

// New returns the muck handler.
func New(svc *permit.Service, log *slog.Logger) *Handler { return &Handler{svc: svc, log: log} }

// Routes registers the muck routes on r, each with the roles it admits (admin passes all).
func (h *Handler) Routes(r gin.IRouter) {
	need, wrap := httpserver.Guards(h.log)
	act := func(a permit.Action) gin.HandlerFunc { return wrap(func(c *gin.Context) error { return h.act(c, a) }) }
	siteReaders := []auth.Role{auth.Construction, auth.Bureau, auth.Police, auth.Fleet}

	g := r.Group("/v1/muck")
	g.POST("/sites", need(auth.Construction), wrap(h.registerSite))
	g.GET("/sites", need(siteReaders...), wrap(h.listSites))
	g.GET("/sites/:id", need(siteReaders...), wrap(h.getSite))

	g.POST("/permits", need(auth.Fleet), wrap(h.apply))
	g.GET("/permits", need(auth.Fleet, auth.Construction, auth.Bureau, auth.Police), wrap(h.listPermits))
	g.GET("/permits/:id", need(auth.Fleet, auth.Construction, auth.Bureau, auth.Police), wrap(h.getPermit))
	for _, a := range []permit.Action{permit.Approve, permit.Refuse, permit.Suspend, permit.Resume, permit.Revoke} {
		g.POST("/permits/:id/"+string(a), need(auth.Construction), act(a))
	}
	g.POST("/permits/:id/reinstate", need(auth.Bureau), act(permit.Reinstate))

	g.POST("/passes", need(auth.Police), wrap(h.issuePass))
	g.GET("/passes", need(auth.Police, auth.Bureau, auth.Construction, auth.Fleet), wrap(h.listPasses))
	g.GET("/passes/:id", need(auth.Police, auth.Bureau, auth.Construction, auth.Fleet), wrap(h.getPass))
	g.POST("/passes/:id/cancel", need(auth.Police), wrap(h.cancelPass))
	g.GET("/vehicles/:vin/allowed", need(auth.Police, auth.Bureau, auth.Construction, auth.System), wrap(h.allowed))

	g.POST("/violations", need(auth.Police, auth.Bureau), wrap(h.recordViolation))
	g.GET("/violations", need(auth.Police, auth.Bureau, auth.Construction, auth.Fleet), wrap(h.listViolations))
	g.GET("/violations/:id", need(auth.Police, auth.Bureau, auth.Construction, auth.Fleet), wrap(h.getViolation))
	g.GET("/reports/sites", need(auth.Construction, auth.Bureau), wrap(h.siteReport))

	g.GET("/status", need(auth.Police, auth.Bureau, auth.System), wrap(h.status))
}

// instant parses an RFC 3339 body field; empty stays zero (the core says whether it is needed).
func instant(ve *apperr.ValidationError, field, s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		ve.Add(field, "must be an RFC 3339 time such as 2026-01-02T15:04:05+08:00")
		return time.Time{}
	}
	return t.UTC()
}

// created answers 201 with a Location for a new record and 200 for a same-content retry.
func created(c *gin.Context, isNew bool, location string, body any) {
	if isNew {
		c.Header("Location", location)
		c.JSON(http.StatusCreated, body)
		return
	}
	c.JSON(http.StatusOK, body)
}

type listJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func listOf[S any, T any](xs []S, next string, conv func(S) T) listJSON[T] {
	out := listJSON[T]{Items: make([]T, 0, len(xs)), NextCursor: request.EncodeCursor(next)}
	for _, x := range xs {
		out.Items = append(out.Items, conv(x))
	}
	return out
}

// paging reads limit and cursor.
func paging(c *gin.Context) (int, string, error) {
	limit, err := request.Limit(c, 50, 500)
	if err != nil {
		return 0, "", err
	}
	after, err := request.Cursor(c)
	return limit, after, err
}

// --- sites

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
	From string `json:"from"`
	To   string `json:"to"`
}

type siteBody struct {
	SiteID            string          `json:"site_id"`
	Kind              string          `json:"kind"`
	Name              string          `json:"name"`
	Address           string          `json:"address"`
	District          string          `json:"district"`
	Area              json.RawMessage `json:"area"`
	Developer         string          `json:"developer"`
	Contractor        string          `json:"contractor"`
	PeriodFrom        *request.Date   `json:"period_from"`
	PeriodTo          *request.Date   `json:"period_to"`
	DustControl       *dustJSON       `json:"dust_control"`
	AcceptedMaterials []string        `json:"accepted_materials"`
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

func (h *Handler) registerSite(c *gin.Context) error {
	var b siteBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	in := permit.SiteInput{Site: permit.Site{ID: b.SiteID, Kind: permit.SiteKind(b.Kind), Name: b.Name, Address: b.Address, District: b.District,
		Developer: b.Developer, Contractor: b.Contractor, AcceptedMaterials: b.AcceptedMaterials}, AreaJSON: b.Area}
	if b.PeriodFrom != nil {
		in.PeriodFrom = b.PeriodFrom.Time
	}
	if b.PeriodTo != nil {
		in.PeriodTo = b.PeriodTo.Time
	}
	if b.DustControl != nil {
		in.DustControl = permit.DustControl(*b.DustControl)
	}
	if b.OpeningHours != nil {
		in.OpeningFrom, in.OpeningTo = b.OpeningHours.From, b.OpeningHours.To
	}
	s, isNew, err := h.svc.RegisterSite(c.Request.Context(), auth.Caller(c), in)
	if err != nil {
		return err
	}
	created(c, isNew, "/v1/muck/sites/"+s.ID, siteOut(s))
	return nil
}

func (h *Handler) getSite(c *gin.Context) error {
	s, err := h.svc.GetSite(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, siteOut(s))
	return nil
}

func (h *Handler) listSites(c *gin.Context) error {
	limit, after, err := paging(c)
	if err != nil {
		return err
	}
	ss, next, err := h.svc.ListSites(c.Request.Context(), auth.Caller(c), permit.SiteKind(c.Query("kind")), after, limit)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(ss, next, siteOut))
	return nil
}

// --- permits

type permitBody struct {
	PermitID  string `json:"permit_id"`
	VIN       string `json:"vin"`
	FromSite  string `json:"from_site"`
	ToSite    string `json:"to_site"`
	ValidFrom string `json:"valid_from"`
	ValidTo   string `json:"valid_to"`
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

func (h *Handler) apply(c *gin.Context) error {
	var b permitBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	var ve apperr.ValidationError
	a := permit.Application{PermitID: b.PermitID, VIN: b.VIN, FromSite: b.FromSite, ToSite: b.ToSite,
		ValidFrom: instant(&ve, "valid_from", b.ValidFrom), ValidTo: instant(&ve, "valid_to", b.ValidTo),
		Enclosed: b.Enclosed, GPS: b.GPS, Video: b.Video}
	if err := ve.Err(); err != nil {
		return err
	}
	p, isNew, err := h.svc.Apply(c.Request.Context(), auth.Caller(c), a)
	if err != nil {
		return err
	}
	created(c, isNew, "/v1/muck/permits/"+p.ID, h.permitOut(p))
	return nil
}

func (h *Handler) getPermit(c *gin.Context) error {
	p, err := h.svc.GetPermit(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.permitOut(p))
	return nil
}

func (h *Handler) listPermits(c *gin.Context) error {
	limit, after, err := paging(c)
	if err != nil {
		return err
	}
	f := permit.PermitFilter{FleetID: c.Query("fleet_id"), VIN: c.Query("vin"), State: permit.State(c.Query("state")), FromSite: c.Query("from_site")}
	ps, next, err := h.svc.ListPermits(c.Request.Context(), auth.Caller(c), f, after, limit)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(ps, next, h.permitOut))
	return nil
}

type reasonBody struct {
	Reason string `json:"reason"`
}

// optionalReason reads {"reason": ...}; approving and resuming may send no body at all.
func optionalReason(c *gin.Context) (string, error) {
	if c.Request.ContentLength == 0 {
		return "", nil
	}
	var b reasonBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return "", err
	}
	return b.Reason, nil
}

func (h *Handler) act(c *gin.Context, a permit.Action) error {
	reason, err := optionalReason(c)
	if err != nil {
		return err
	}
	p, err := h.svc.Act(c.Request.Context(), auth.Caller(c), c.Param("id"), a, reason)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.permitOut(p))
	return nil
}

// --- passes

type passBody struct {
	PassID    string          `json:"pass_id"`
	PermitID  string          `json:"permit_id"`
	Zone      json.RawMessage `json:"zone"`
	Hours     *hoursJSON      `json:"hours"`
	ValidFrom string          `json:"valid_from"`
	ValidTo   string          `json:"valid_to"`
	Route     string          `json:"route"`
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

func (h *Handler) issuePass(c *gin.Context) error {
	var b passBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	var ve apperr.ValidationError
	in := permit.PassInput{PassID: b.PassID, PermitID: b.PermitID, ZoneJSON: b.Zone, Route: b.Route,
		ValidFrom: instant(&ve, "valid_from", b.ValidFrom), ValidTo: instant(&ve, "valid_to", b.ValidTo)}
	if b.Hours == nil {
		ve.Add("hours", "required: {\"from\": \"HH:MM\", \"to\": \"HH:MM\"} in Asia/Shanghai local time")
	} else {
		in.HoursFrom, in.HoursTo = b.Hours.From, b.Hours.To
	}
	if err := ve.Err(); err != nil {
		return err
	}
	p, isNew, err := h.svc.IssuePass(c.Request.Context(), auth.Caller(c), in)
	if err != nil {
		return err
	}
	created(c, isNew, "/v1/muck/passes/"+p.ID, h.passOut(p))
	return nil
}

func (h *Handler) getPass(c *gin.Context) error {
	p, err := h.svc.GetPass(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.passOut(p))
	return nil
}

func (h *Handler) listPasses(c *gin.Context) error {
	limit, after, err := paging(c)
	if err != nil {
		return err
	}
	f := permit.PassFilter{VIN: c.Query("vin"), PermitID: c.Query("permit_id")}
	ps, next, err := h.svc.ListPasses(c.Request.Context(), auth.Caller(c), f, after, limit)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(ps, next, h.passOut))
	return nil
}

func (h *Handler) cancelPass(c *gin.Context) error {
	var b reasonBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	p, err := h.svc.CancelPass(c.Request.Context(), auth.Caller(c), c.Param("id"), b.Reason)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.passOut(p))
	return nil
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

func (h *Handler) allowed(c *gin.Context) error {
	var ve apperr.ValidationError
	pt := geo.Point{Lat: coordinate(&ve, c, "lat"), Lon: coordinate(&ve, c, "lon")}
	at, ok, err := request.QueryTime(c, "at")
	if err != nil {
		ve.Fields = append(ve.Fields, apperr.FieldError{Field: "at", Message: "must be an RFC 3339 time such as 2026-01-02T23:30:00+08:00"})
	}
	if err := ve.Err(); err != nil {
		return err
	}
	if !ok {
		at = h.svc.Now().UTC()
	}
	v, err := h.svc.AllowedHere(c.Request.Context(), auth.Caller(c), c.Param("vin"), pt, at)
	if err != nil {
		return err
	}
	out := allowedJSON{Allowed: v.Allowed, Reasons: v.Reasons, VIN: c.Param("vin"), Lat: pt.Lat, Lon: pt.Lon, At: at,
		LocalTime: at.In(h.svc.Location()).Format("2006-01-02T15:04:05-07:00"), PermitID: v.PermitID, PassID: v.PassID}
	if out.Reasons == nil {
		out.Reasons = []permit.Reason{}
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// --- violations

type locationJSON struct {
	Lat *float64 `json:"lat"`
	Lon *float64 `json:"lon"`
}

type violationBody struct {
	ViolationID string        `json:"violation_id"`
	Kind        string        `json:"kind"`
	VIN         string        `json:"vin"`
	Plate       string        `json:"plate"`
	PlateColour string        `json:"plate_colour"`
	ObservedAt  string        `json:"observed_at"`
	Location    *locationJSON `json:"location"`
	Place       string        `json:"place"`
	Photos      []string      `json:"photos"`
	Note        string        `json:"note"`
	FromSite    string        `json:"from_site"`
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

func (h *Handler) recordViolation(c *gin.Context) error {
	var b violationBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	var ve apperr.ValidationError
	in := permit.ViolationInput{ViolationID: b.ViolationID, Kind: permit.ViolationKind(b.Kind), VIN: b.VIN, Plate: b.Plate, PlateColour: b.PlateColour,
		ObservedAt: instant(&ve, "observed_at", b.ObservedAt), Place: b.Place, Photos: b.Photos, Note: b.Note, FromSite: b.FromSite}
	if l := b.Location; l != nil {
		if l.Lat == nil {
			ve.Add("location.lat", "required: decimal degrees")
		}
		if l.Lon == nil {
			ve.Add("location.lon", "required: decimal degrees")
		}
		if l.Lat != nil && l.Lon != nil {
			in.Location = &geo.Point{Lat: *l.Lat, Lon: *l.Lon}
		}
	}
	if err := ve.Err(); err != nil {
		return err
	}
	v, isNew, err := h.svc.RecordViolation(c.Request.Context(), auth.Caller(c), in)
	if err != nil {
		return err
	}
	created(c, isNew, "/v1/muck/violations/"+v.ID, violationOut(v))
	return nil
}

func (h *Handler) getViolation(c *gin.Context) error {
	v, err := h.svc.GetViolation(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, violationOut(v))
	return nil
}

func (h *Handler) listViolations(c *gin.Context) error {
	limit, after, err := paging(c)
	if err != nil {
		return err
	}
	var ve apperr.ValidationError
	from, _, err := request.QueryDate(c, "from")
	if err != nil {
		ve.Add("from", "must be a YYYY-MM-DD date")
	}
	to, _, err := request.QueryDate(c, "to")
	if err != nil {
		ve.Add("to", "must be a YYYY-MM-DD date")
	}
	if err := ve.Err(); err != nil {
		return err
	}
	f := permit.ViolationFilter{VIN: c.Query("vin"), FromSite: c.Query("site"), Kind: permit.ViolationKind(c.Query("kind"))}
	if !from.IsZero() {
		f.FromDay = from.Format(time.DateOnly)
	}
	if !to.IsZero() {
		f.ToDay = to.Format(time.DateOnly)
	}
	vs, next, err := h.svc.ListViolations(c.Request.Context(), auth.Caller(c), f, after, limit)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(vs, next, violationOut))
	return nil
}

type siteRowJSON struct {
	SiteID     string         `json:"site_id"` // "" for unresolved trace-backs
	Name       string         `json:"name,omitempty"`
	Developer  string         `json:"developer,omitempty"`
	Contractor string         `json:"contractor,omitempty"`
	Total      int            `json:"total"`
	ByKind     map[string]int `json:"by_kind"`
}

func (h *Handler) siteReport(c *gin.Context) error {
	var ve apperr.ValidationError
	from, okFrom, err := request.QueryDate(c, "from")
	if err != nil {
		ve.Add("from", "must be a YYYY-MM-DD date")
	}
	to, okTo, err := request.QueryDate(c, "to")
	if err != nil {
		ve.Add("to", "must be a YYYY-MM-DD date")
	}
	if err := ve.Err(); err != nil {
		return err
	}
	today := h.svc.Now().In(h.svc.Location())
	if !okTo {
		to = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	}
	if !okFrom {
		from = to.AddDate(0, 0, -29)
	}
	rows, err := h.svc.SiteReport(c.Request.Context(), auth.Caller(c), from, to)
	if err != nil {
		return err
	}
	out := make([]siteRowJSON, 0, len(rows))
	total := 0
	for _, r := range rows {
		j := siteRowJSON{SiteID: r.SiteID, Name: r.Name, Developer: r.Developer, Contractor: r.Contractor, Total: r.Total, ByKind: map[string]int{}}
		for k, n := range r.ByKind {
			j.ByKind[string(k)] = n
		}
		out = append(out, j)
		total += r.Total
	}
	c.JSON(http.StatusOK, gin.H{"from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "timezone": "Asia/Shanghai",
		"rule": "task 18", "total": total, "sites": out})
	return nil
}

// --- status

func (h *Handler) status(c *gin.Context) error {
	m, err := h.svc.Status(c.Request.Context(), auth.Caller(c), c.Query("plate"), c.Query("colour"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, m)
	return nil
}
