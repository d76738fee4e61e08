// Package handler is the registry's HTTP edge: routes, request and response bodies, and their
// translation to the vehicle core. Rules live in the core; this package only decodes, calls and
// encodes.
package handler

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/registry/internal/vehicle"
)

// Handler serves the registry's routes.
type Handler struct {
	svc *vehicle.Service
	log *slog.Logger
}

// New returns the registry's handler.
func New(svc *vehicle.Service, log *slog.Logger) *Handler { return &Handler{svc: svc, log: log} }

// Routes registers the registry's routes on r.
func (h *Handler) Routes(r gin.IRouter) {
	need, wrap := httpserver.Guards(h.log)
	readers := []auth.Role{auth.Fleet, auth.Bureau, auth.Police, auth.Construction, auth.Transport}

	v := r.Group("/v1/vehicles")
	v.POST("", need(auth.Fleet, auth.Bureau), wrap(h.register))
	v.GET("", need(readers...), wrap(h.list))
	v.GET("/:vin", need(readers...), wrap(h.get))
	v.PATCH("/:vin", need(auth.Fleet, auth.Bureau, auth.Police), wrap(h.update))
	v.PUT("/:vin/terminal", need(auth.Fleet, auth.Bureau), wrap(h.bindTerminal))
	v.PUT("/:vin/terminal/key", need(auth.System), wrap(h.fileTerminalKey))
	v.GET("/:vin/screenings", need(auth.Police, auth.Bureau), wrap(h.listScreenings))
	r.GET("/v1/registry/status", need(auth.Police, auth.Bureau, auth.Construction, auth.System), wrap(h.status))
	r.POST("/v1/screenings", need(auth.Police, auth.Bureau), wrap(h.screen))
	r.GET("/v1/screenings/:id", need(auth.Police, auth.Bureau), wrap(h.getScreening))
	r.GET("/v1/reports/phase-out", need(auth.Fleet, auth.Bureau, auth.Police, auth.Transport), wrap(h.phaseOut))
	r.GET("/v1/registry/void-candidates", need(auth.Police, auth.Bureau), wrap(h.voidCandidates))
	r.POST("/v1/registry/void-declarations", need(auth.Police), wrap(h.declareVoid))
	v.POST("/:vin/catalyst-replacements", need(auth.Fleet, auth.Bureau), wrap(h.recordCatalyst))
	r.GET("/v1/reports/taxi-catalysts", need(auth.Fleet, auth.Bureau, auth.Transport), wrap(h.taxiCatalysts))
	r.GET("/v1/registry/settings/taxi-catalyst-interval", need(auth.Bureau, auth.Transport), wrap(h.catalystInterval))
	r.PUT("/v1/registry/settings/taxi-catalyst-interval", need(auth.Bureau), wrap(h.setCatalystInterval))
	r.GET("/v1/registry/settings/phase-out-target/:year", need(auth.Bureau, auth.Transport), wrap(h.phaseOutTarget))
	r.PUT("/v1/registry/settings/phase-out-target/:year", need(auth.Bureau), wrap(h.setPhaseOutTarget))
	r.GET("/v1/reports/phase-out/progress", need(auth.Bureau, auth.Transport), wrap(h.phaseOutProgress))
	r.GET("/v1/reports/clean-energy", need(auth.Bureau, auth.Transport), wrap(h.cleanEnergy))
	r.GET("/v1/reports/clean-energy/fleet", need(auth.Bureau, auth.Transport), wrap(h.fleetShares))
	pr := r.Group("/v1/vehicle-proposals")
	pr.GET("", need(auth.Bureau, auth.Fleet), wrap(h.listProposals))
	pr.GET("/:id", need(auth.Bureau, auth.Fleet), wrap(h.getProposal))
	pr.POST("/:id/accept", need(auth.Bureau), wrap(h.acceptProposal))
	pr.POST("/:id/refuse", need(auth.Bureau), wrap(h.refuseProposal))
}

// vehicleBody is a vehicle as clients send it on POST.
type vehicleBody struct {
	VIN              string        `json:"vin" input:"id"`
	Plate            string        `json:"plate" input:"id"`
	PlateColour      string        `json:"plate_colour" input:"id"`
	FuelType         string        `json:"fuel_type" input:"id"`
	EmissionStandard string        `json:"emission_standard" input:"id"`
	Category         string        `json:"category" input:"id"`
	Use              string        `json:"use" input:"id"`
	ServiceClass     string        `json:"service_class" input:"id"`
	Maker            string        `json:"maker"`
	Owner            string        `json:"owner"`
	FleetID          string        `json:"fleet_id" input:"id"`
	RegisteredOn     request.Date  `json:"registered_on"`
	RegisteredPlace  string        `json:"registered_place"`
	GrossMassKg      int           `json:"gross_mass_kg" input:"min=0,max=100000"`
	LeanBurn         bool          `json:"lean_burn"`
	BuiltUpArea      bool          `json:"built_up_area"`
	ConvertedGas     bool          `json:"converted_gas"`
	ScrapDue         *request.Date `json:"scrap_due"`
	Status           string        `json:"status" input:"id"`
	StatusReason     string        `json:"status_reason" input:"text"`
}

func (b vehicleBody) vehicle() vehicle.Vehicle {
	v := vehicle.Vehicle{VIN: b.VIN, Plate: b.Plate, PlateColour: vehicleid.Colour(b.PlateColour), FuelType: vehicle.FuelType(b.FuelType),
		EmissionStandard: vehicle.Standard(b.EmissionStandard), Category: vehicle.Category(b.Category), Use: vehicle.Use(b.Use),
		ServiceClass: vehicle.ServiceClass(b.ServiceClass), Maker: b.Maker, Owner: b.Owner, FleetID: b.FleetID,
		RegisteredOn: b.RegisteredOn.Time, RegisteredPlace: b.RegisteredPlace, GrossMassKg: b.GrossMassKg,
		LeanBurn: b.LeanBurn, BuiltUpArea: b.BuiltUpArea, ConvertedGas: b.ConvertedGas, Status: vehicle.Status(b.Status), StatusReason: b.StatusReason}
	if b.ScrapDue != nil {
		v.ScrapDue = b.ScrapDue.Time
	}
	return v
}

// vehicleJSON is a vehicle as the API returns it.
type vehicleJSON struct {
	VIN              string            `json:"vin"`
	Plate            string            `json:"plate"`
	PlateColour      string            `json:"plate_colour"`
	FuelType         string            `json:"fuel_type"`
	EmissionStandard string            `json:"emission_standard"`
	Category         string            `json:"category"`
	Use              string            `json:"use"`
	ServiceClass     string            `json:"service_class"`
	Maker            string            `json:"maker"`
	Owner            string            `json:"owner,omitempty"`
	FleetID          string            `json:"fleet_id,omitempty"`
	RegisteredOn     request.Date      `json:"registered_on"`
	RegisteredPlace  string            `json:"registered_place,omitempty"`
	GrossMassKg      int               `json:"gross_mass_kg,omitempty"`
	LeanBurn         bool              `json:"lean_burn"`
	BuiltUpArea      bool              `json:"built_up_area"`
	ConvertedGas     bool              `json:"converted_gas"`
	ScrapDue         *request.Date     `json:"scrap_due,omitempty"`
	Status           string            `json:"status"`
	StatusReason     string            `json:"status_reason,omitempty"`
	Heavy            bool              `json:"heavy"`
	NewEnergy        bool              `json:"new_energy"`
	Terminal         *vehicle.Terminal `json:"terminal,omitempty"`
	LastInspection   *inspectionJSON   `json:"last_inspection,omitempty"`
	CreatedAt        time.Time         `json:"created_at"`
	UpdatedAt        time.Time         `json:"updated_at"`
	UpdatedBy        string            `json:"updated_by"`
	Version          int64             `json:"version"`
	PhaseOut         *vehicle.PhaseOut `json:"phase_out,omitempty"`
	// Proposal is the pending proposal a fleet's PATCH made (202 only).
	Proposal *proposalJSON `json:"proposal,omitempty"`
}

type inspectionJSON struct {
	ReportID    string       `json:"report_id" input:"id"`
	StationID   string       `json:"station_id" input:"id"`
	Result      string       `json:"result" input:"id"`
	InspectedOn request.Date `json:"inspected_on"`
}

func (h *Handler) toJSON(v vehicle.Vehicle) vehicleJSON {
	j := vehicleJSON{VIN: v.VIN, Plate: v.Plate, PlateColour: string(v.PlateColour), FuelType: string(v.FuelType),
		EmissionStandard: string(v.EmissionStandard), Category: string(v.Category), Use: string(v.Use),
		ServiceClass: string(v.ServiceClass), Maker: v.Maker, Owner: v.Owner, FleetID: v.FleetID,
		RegisteredOn: request.Date{Time: v.RegisteredOn}, RegisteredPlace: v.RegisteredPlace, GrossMassKg: v.GrossMassKg,
		LeanBurn: v.LeanBurn, BuiltUpArea: v.BuiltUpArea, ConvertedGas: v.ConvertedGas, Status: string(v.Status), StatusReason: v.StatusReason,
		Heavy: v.Heavy(), NewEnergy: v.NewEnergy(), Terminal: v.Terminal,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, UpdatedBy: v.UpdatedBy, Version: v.Version}
	if !v.ScrapDue.IsZero() {
		j.ScrapDue = &request.Date{Time: v.ScrapDue}
	}
	if r := v.LastInspection; r != nil {
		j.LastInspection = &inspectionJSON{ReportID: r.ReportID, StationID: r.StationID, Result: r.Result, InspectedOn: request.Date{Time: r.InspectedOn}}
	}
	if po := vehicle.PhaseOutOf(v, h.svc.Policy(), time.Now()); po.Listed {
		j.PhaseOut = &po
	}
	return j
}

func (h *Handler) register(c *gin.Context) error {
	var b vehicleBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	v, created, err := h.svc.Register(c.Request.Context(), auth.Caller(c), b.vehicle())
	if err != nil {
		return err
	}
	c.Header("Location", "/v1/vehicles/"+v.VIN)
	status := http.StatusCreated
	if !created {
		status = http.StatusOK // the same vehicle, registered before: the record as it is
	}
	c.JSON(status, h.toJSON(v))
	return nil
}

func (h *Handler) get(c *gin.Context) error {
	v, err := h.svc.Get(c.Request.Context(), auth.Caller(c), c.Param("vin"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.toJSON(v))
	return nil
}

func (h *Handler) list(c *gin.Context) error {
	f := vehicle.Filter{FleetID: c.Query("fleet_id"), Status: vehicle.Status(c.Query("status")), FuelType: vehicle.FuelType(c.Query("fuel_type")),
		EmissionStandard: vehicle.Standard(c.Query("emission_standard")), Category: vehicle.Category(c.Query("category")),
		Use: vehicle.Use(c.Query("use")), ServiceClass: vehicle.ServiceClass(c.Query("service_class")), Maker: c.Query("maker"), Plate: c.Query("plate")}
	caller := auth.Caller(c)
	return export.List(c, "vehicles", func(ctx context.Context, after string, limit int) ([]vehicleJSON, string, error) {
		vs, next, err := h.svc.List(ctx, caller, f, after, limit)
		if err != nil {
			return nil, "", err
		}
		return export.Each(vs, h.toJSON), request.EncodeCursor(next), nil
	})
}

// patchBody is a PATCH body: every field optional; unknown fields refused.
type patchBody struct {
	Plate            *string       `json:"plate" input:"id"`
	PlateColour      *string       `json:"plate_colour" input:"id"`
	FuelType         *string       `json:"fuel_type" input:"id"`
	EmissionStandard *string       `json:"emission_standard" input:"id"`
	Category         *string       `json:"category" input:"id"`
	Use              *string       `json:"use" input:"id"`
	ServiceClass     *string       `json:"service_class" input:"id"`
	Maker            *string       `json:"maker"`
	Owner            *string       `json:"owner"`
	RegisteredPlace  *string       `json:"registered_place"`
	GrossMassKg      *int          `json:"gross_mass_kg" input:"min=0,max=100000"`
	LeanBurn         *bool         `json:"lean_burn"`
	BuiltUpArea      *bool         `json:"built_up_area"`
	ConvertedGas     *bool         `json:"converted_gas"`
	ScrapDue         *request.Date `json:"scrap_due"`
	Status           *string       `json:"status" input:"id"`
	StatusReason     *string       `json:"status_reason" input:"text"`
	FleetID          *string       `json:"fleet_id" input:"id"`
}

func conv[T ~string](s *string) *T {
	if s == nil {
		return nil
	}
	v := T(*s)
	return &v
}

func (h *Handler) update(c *gin.Context) error {
	var b patchBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	p := vehicle.Patch{Plate: b.Plate, PlateColour: b.PlateColour, FuelType: conv[vehicle.FuelType](b.FuelType),
		EmissionStandard: conv[vehicle.Standard](b.EmissionStandard), Category: conv[vehicle.Category](b.Category),
		Use: conv[vehicle.Use](b.Use), ServiceClass: conv[vehicle.ServiceClass](b.ServiceClass), Maker: b.Maker, Owner: b.Owner,
		RegisteredPlace: b.RegisteredPlace, GrossMassKg: b.GrossMassKg, LeanBurn: b.LeanBurn, BuiltUpArea: b.BuiltUpArea, ConvertedGas: b.ConvertedGas,
		Status: conv[vehicle.Status](b.Status), StatusReason: b.StatusReason, FleetID: b.FleetID}
	if b.ScrapDue != nil {
		p.ScrapDue = &b.ScrapDue.Time
	}
	v, pr, err := h.svc.Update(c.Request.Context(), auth.Caller(c), c.Param("vin"), p)
	if err != nil {
		return err
	}
	if pr == nil {
		c.JSON(http.StatusOK, h.toJSON(v))
		return nil
	}
	// A fleet's change of fields the authority owns waits for the bureau: 202, the vehicle as it
	// stands (with the fields the fleet owns applied) and the pending proposal.
	j := h.toJSON(v)
	out := proposalOut(*pr)
	j.Proposal = &out
	c.Header("Location", "/v1/vehicle-proposals/"+pr.ID)
	c.JSON(http.StatusAccepted, j)
	return nil
}

func (h *Handler) bindTerminal(c *gin.Context) error {
	var b struct {
		ICCID  string `json:"iccid" input:"id"`
		ChipID string `json:"chip_id" input:"id"`
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	v, err := h.svc.BindTerminal(c.Request.Context(), auth.Caller(c), c.Param("vin"), b.ICCID, b.ChipID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.toJSON(v))
	return nil
}

func (h *Handler) fileTerminalKey(c *gin.Context) error {
	var b struct {
		ChipID    string `json:"chip_id" input:"id"`
		PublicKey string `json:"public_key" input:"id,max=128"`
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	v, err := h.svc.FileTerminalKey(c.Request.Context(), auth.Caller(c), c.Param("vin"), b.ChipID, b.PublicKey)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.toJSON(v))
	return nil
}

func (h *Handler) status(c *gin.Context) error {
	if err := request.OnlyQuery(c, "vin", "plate", "colour"); err != nil {
		return err
	}
	st, err := h.svc.StatusOf(c.Request.Context(), auth.Caller(c), c.Query("vin"), c.Query("plate"), c.Query("colour"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, st)
	return nil
}

type screeningBody struct {
	Purpose          string          `json:"purpose" input:"id"`
	VIN              string          `json:"vin" input:"id"`
	Vehicle          *vehicleBody    `json:"vehicle"`
	InspectionReport *inspectionJSON `json:"inspection_report"`
}

type screeningJSON struct {
	ID               string           `json:"screening_id"`
	VIN              string           `json:"vin"`
	Plate            string           `json:"plate,omitempty"`
	Purpose          string           `json:"purpose"`
	Decision         string           `json:"decision"`
	Reasons          []vehicle.Reason `json:"reasons"`
	PhaseOut         vehicle.PhaseOut `json:"phase_out"`
	InspectionReport *inspectionJSON  `json:"inspection_report,omitempty"`
	DecidedAt        time.Time        `json:"decided_at"`
	DecidedBy        string           `json:"decided_by"`
}

func screeningOut(s vehicle.Screening) screeningJSON {
	j := screeningJSON{ID: s.ID, VIN: s.VIN, Plate: s.Plate, Purpose: string(s.Purpose), Decision: string(s.Decision),
		Reasons: s.Reasons, PhaseOut: s.PhaseOut, DecidedAt: s.DecidedAt, DecidedBy: s.DecidedBy}
	if j.Reasons == nil {
		j.Reasons = []vehicle.Reason{}
	}
	if r := s.Report; r != nil {
		j.InspectionReport = &inspectionJSON{ReportID: r.ReportID, StationID: r.StationID, Result: r.Result, InspectedOn: request.Date{Time: r.InspectedOn}}
	}
	return j
}

func (h *Handler) screen(c *gin.Context) error {
	var b screeningBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	req := vehicle.ScreeningRequest{Purpose: vehicle.Purpose(b.Purpose), VIN: b.VIN}
	if req.Purpose == vehicle.ForRegistration {
		if b.Vehicle == nil {
			return apperr.Invalid("vehicle", "required for a registration screening: the vehicle's data as presented")
		}
		req.Candidate = b.Vehicle.vehicle()
	} else if b.Vehicle != nil {
		return apperr.Invalid("vehicle", "only for registration screenings; an inspection mark names the registered vin")
	}
	if r := b.InspectionReport; r != nil {
		req.Report = &vehicle.Inspection{ReportID: r.ReportID, StationID: r.StationID, Result: r.Result, InspectedOn: r.InspectedOn.Time}
	}
	s, err := h.svc.Screen(c.Request.Context(), auth.Caller(c), req)
	if err != nil {
		return err
	}
	c.Header("Location", "/v1/screenings/"+s.ID)
	c.JSON(http.StatusCreated, screeningOut(s))
	return nil
}

func (h *Handler) getScreening(c *gin.Context) error {
	s, err := h.svc.GetScreening(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, screeningOut(s))
	return nil
}

func (h *Handler) listScreenings(c *gin.Context) error {
	limit, err := request.Limit(c, 20, 200)
	if err != nil {
		return err
	}
	ss, err := h.svc.ListScreenings(c.Request.Context(), auth.Caller(c), c.Param("vin"), limit)
	if err != nil {
		return err
	}
	out := export.Each(ss, screeningOut)
	return export.Rows(c, "screenings-"+c.Param("vin"), gin.H{"items": out}, out)
}

type phaseOutJSON struct {
	VIN              string           `json:"vin"`
	Plate            string           `json:"plate"`
	PlateColour      string           `json:"plate_colour"`
	FleetID          string           `json:"fleet_id,omitempty"`
	FuelType         string           `json:"fuel_type"`
	EmissionStandard string           `json:"emission_standard"`
	PhaseOut         vehicle.PhaseOut `json:"phase_out"`
}

func (h *Handler) phaseOut(c *gin.Context) error {
	list := c.Query("list")
	switch list {
	case "", "diesel_truck_china3", "gas_lean_burn", "gas_converted":
	default:
		return apperr.Invalid("list", "must be diesel_truck_china3, gas_lean_burn or gas_converted")
	}
	es, err := h.svc.PhaseOutReport(c.Request.Context(), auth.Caller(c), list)
	if err != nil {
		return err
	}
	out := make([]phaseOutJSON, 0, len(es))
	overdue := 0
	for _, e := range es {
		out = append(out, phaseOutJSON{VIN: e.VIN, Plate: e.Plate, PlateColour: e.PlateColour, FleetID: e.FleetID,
			FuelType: string(e.FuelType), EmissionStandard: string(e.EmissionStandard), PhaseOut: e.PhaseOut})
		if e.PhaseOut.Overdue {
			overdue++
		}
	}
	return export.Rows(c, "phase-out", gin.H{"items": out, "total": len(out), "overdue": overdue}, out)
}

type shareJSON struct {
	ServiceClass     string  `json:"service_class"`
	Total            int     `json:"total"`
	NewEnergy        int     `json:"new_energy"`
	CleanEnergy      int     `json:"clean_energy"`
	NewEnergyShare   float64 `json:"new_energy_share"`
	CleanEnergyShare float64 `json:"clean_energy_share"`
	Target           float64 `json:"target"`
	Measure          string  `json:"measure"`
	Met              bool    `json:"met"`
}

func (h *Handler) cleanEnergy(c *gin.Context) error {
	p, err := request.QueryPeriod(c)
	if err != nil {
		return err
	}
	from, okFrom, to, okTo := p.From, p.HasFrom, p.To, p.HasTo
	now := time.Now().UTC()
	if !okTo {
		to = time.Date(now.Year()+1, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if !okFrom {
		from = time.Date(to.Year()-1, to.Month(), to.Day(), 0, 0, 0, 0, time.UTC)
	}
	if !from.Before(to) {
		return apperr.Invalid("to", "must be after from")
	}
	rows, err := h.svc.CleanEnergyReport(c.Request.Context(), auth.Caller(c), from, to)
	if err != nil {
		return err
	}
	out := make([]shareJSON, 0, len(rows))
	for _, r := range rows {
		out = append(out, shareJSON{ServiceClass: string(r.ServiceClass), Total: r.Total, NewEnergy: r.NewEnergy, CleanEnergy: r.CleanEnergy,
			NewEnergyShare: r.NewEnergyShare, CleanEnergyShare: r.CleanEnergyShare, Target: r.Target, Measure: r.Measure, Met: r.Met})
	}
	return export.Rows(c, "clean-energy", gin.H{"from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "rule": "task 13", "classes": out}, out)
}

type voidCandidateJSON struct {
	VIN         string       `json:"vin"`
	Plate       string       `json:"plate"`
	PlateColour string       `json:"plate_colour"`
	FleetID     string       `json:"fleet_id,omitempty"`
	ScrapDue    request.Date `json:"scrap_due"`
	DaysOverdue int          `json:"days_overdue"`
}

func (h *Handler) voidCandidates(c *gin.Context) error {
	if err := request.OnlyQuery(c, export.Param); err != nil {
		return err
	}
	cs, err := h.svc.VoidCandidates(c.Request.Context(), auth.Caller(c))
	if err != nil {
		return err
	}
	out := make([]voidCandidateJSON, 0, len(cs))
	for _, v := range cs {
		out = append(out, voidCandidateJSON{VIN: v.VIN, Plate: v.Plate, PlateColour: v.PlateColour, FleetID: v.FleetID,
			ScrapDue: request.Date{Time: v.ScrapDue}, DaysOverdue: v.DaysOverdue})
	}
	return export.Rows(c, "void-candidates", gin.H{"items": out, "total": len(out)}, out)
}

type voidDeclarationBody struct {
	VINs   []string `json:"vins" input:"id,items=1000"`
	Reason string   `json:"reason" input:"text"`
}

func (h *Handler) declareVoid(c *gin.Context) error {
	var b voidDeclarationBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	vs, err := h.svc.DeclareVoid(c.Request.Context(), auth.Caller(c), b.VINs, b.Reason)
	if err != nil {
		return err
	}
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.VIN)
	}
	c.JSON(http.StatusOK, gin.H{"declared": out, "total": len(out)})
	return nil
}

type catalystBody struct {
	ReplacedOn *request.Date `json:"replaced_on"`
	Shop       string        `json:"shop"`
	Note       string        `json:"note" input:"text"`
}

type catalystJSON struct {
	ID         string       `json:"replacement_id"`
	VIN        string       `json:"vin"`
	FleetID    string       `json:"fleet_id,omitempty"`
	ReplacedOn request.Date `json:"replaced_on"`
	Shop       string       `json:"shop"`
	Note       string       `json:"note,omitempty"`
	RecordedBy string       `json:"recorded_by"`
	RecordedAt time.Time    `json:"recorded_at"`
}

func (h *Handler) recordCatalyst(c *gin.Context) error {
	var b catalystBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	in := vehicle.CatalystReplacement{Shop: b.Shop, Note: b.Note}
	if b.ReplacedOn != nil {
		in.ReplacedOn = b.ReplacedOn.Time
	}
	r, err := h.svc.RecordCatalyst(c.Request.Context(), auth.Caller(c), c.Param("vin"), in)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, catalystJSON{ID: r.ID, VIN: r.VIN, FleetID: r.FleetID, ReplacedOn: request.Date{Time: r.ReplacedOn},
		Shop: r.Shop, Note: r.Note, RecordedBy: r.RecordedBy, RecordedAt: r.RecordedAt})
	return nil
}

type settingJSON struct {
	Value   int       `json:"months"`
	Version int       `json:"version"`
	SetBy   string    `json:"set_by"`
	SetAt   time.Time `json:"set_at,omitzero"`
	Reason  string    `json:"reason"`
}

func toSetting(s vehicle.Setting) settingJSON {
	return settingJSON{Value: s.Value, Version: s.Version, SetBy: s.SetBy, SetAt: s.SetAt, Reason: s.Reason}
}

func (h *Handler) catalystInterval(c *gin.Context) error {
	if err := request.OnlyQuery(c); err != nil {
		return err
	}
	vs, err := h.svc.CatalystInterval(c.Request.Context(), auth.Caller(c))
	if err != nil {
		return err
	}
	hist := make([]settingJSON, len(vs))
	for i, v := range vs {
		hist[i] = toSetting(v)
	}
	c.JSON(http.StatusOK, gin.H{"current": hist[0], "history": hist})
	return nil
}

type intervalBody struct {
	Months int    `json:"months" input:"min=1,max=120"`
	Reason string `json:"reason" input:"text"`
}

func (h *Handler) setCatalystInterval(c *gin.Context) error {
	var b intervalBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	st, err := h.svc.SetCatalystInterval(c.Request.Context(), auth.Caller(c), b.Months, b.Reason)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toSetting(st))
	return nil
}

type taxiCatalystJSON struct {
	VIN          string        `json:"vin"`
	Plate        string        `json:"plate"`
	PlateColour  string        `json:"plate_colour"`
	FleetID      string        `json:"fleet_id,omitempty"`
	LastReplaced *request.Date `json:"last_replaced,omitempty"`
	Due          request.Date  `json:"due"`
	Overdue      bool          `json:"overdue"`
}

func (h *Handler) taxiCatalysts(c *gin.Context) error {
	if err := request.OnlyQuery(c, "overdue", export.Param); err != nil {
		return err
	}
	overdue := false
	switch c.Query("overdue") {
	case "", "false":
	case "true":
		overdue = true
	default:
		return apperr.Invalid("overdue", "true or false")
	}
	ts, iv, err := h.svc.TaxiCatalystReport(c.Request.Context(), auth.Caller(c), overdue)
	if err != nil {
		return err
	}
	out := make([]taxiCatalystJSON, 0, len(ts))
	n := 0
	for _, t := range ts {
		j := taxiCatalystJSON{VIN: t.VIN, Plate: t.Plate, PlateColour: t.PlateColour, FleetID: t.FleetID, Due: request.Date{Time: t.Due}, Overdue: t.Overdue}
		if !t.LastReplaced.IsZero() {
			j.LastReplaced = &request.Date{Time: t.LastReplaced}
		}
		if t.Overdue {
			n++
		}
		out = append(out, j)
	}
	return export.Rows(c, "taxi-catalysts", gin.H{"items": out, "total": len(out), "overdue": n, "interval_months": iv.Value}, out)
}

type targetJSON struct {
	Vehicles int       `json:"vehicles"`
	Version  int       `json:"version"`
	SetBy    string    `json:"set_by"`
	SetAt    time.Time `json:"set_at"`
	Reason   string    `json:"reason"`
}

func toTarget(s vehicle.Setting) targetJSON {
	return targetJSON{Vehicles: s.Value, Version: s.Version, SetBy: s.SetBy, SetAt: s.SetAt, Reason: s.Reason}
}

func pathYear(c *gin.Context) (int, error) {
	y, err := strconv.Atoi(c.Param("year"))
	if err != nil {
		return 0, apperr.Invalid("year", "a year, e.g. 2026")
	}
	return y, nil
}

func (h *Handler) phaseOutTarget(c *gin.Context) error {
	year, err := pathYear(c)
	if err != nil {
		return err
	}
	if err := request.OnlyQuery(c); err != nil {
		return err
	}
	vs, err := h.svc.PhaseOutTarget(c.Request.Context(), auth.Caller(c), year)
	if err != nil {
		return err
	}
	hist := make([]targetJSON, len(vs))
	for i, v := range vs {
		hist[i] = toTarget(v)
	}
	out := gin.H{"year": year, "history": hist, "current": nil}
	if len(hist) > 0 {
		out["current"] = hist[0]
	}
	c.JSON(http.StatusOK, out)
	return nil
}

type targetBody struct {
	Vehicles int    `json:"vehicles" input:"min=0,max=1000000"`
	Reason   string `json:"reason" input:"text"`
}

func (h *Handler) setPhaseOutTarget(c *gin.Context) error {
	year, err := pathYear(c)
	if err != nil {
		return err
	}
	var b targetBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	st, err := h.svc.SetPhaseOutTarget(c.Request.Context(), auth.Caller(c), year, b.Vehicles, b.Reason)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toTarget(st))
	return nil
}

func (h *Handler) phaseOutProgress(c *gin.Context) error {
	if err := request.OnlyQuery(c, "year", export.Param); err != nil {
		return err
	}
	year := time.Now().In(localtime.Shanghai()).Year()
	if s := c.Query("year"); s != "" {
		y, err := strconv.Atoi(s)
		if err != nil {
			return apperr.Invalid("year", "a year, e.g. 2026")
		}
		year = y
	}
	pr, err := h.svc.PhaseOutProgressOf(c.Request.Context(), auth.Caller(c), year)
	if err != nil {
		return err
	}
	months := make([]monthJSON, 12)
	cum := 0
	for i, n := range pr.Monthly {
		cum += n
		months[i] = monthJSON{Month: fmt.Sprintf("%04d-%02d", year, i+1), Retired: n, Cumulative: cum}
	}
	out := gin.H{"year": year, "months": months, "retired": pr.Retired, "left": pr.Left, "target": nil, "to_go": nil}
	if pr.Target != nil {
		out["target"] = toTarget(*pr.Target)
		out["to_go"] = max(0, pr.Target.Value-pr.Retired)
	}
	return export.Rows(c, fmt.Sprintf("phase-out-progress-%d", year), out, months)
}

// monthJSON is one month of the phase-out progress report.
type monthJSON struct {
	Month      string `json:"month"`
	Retired    int    `json:"retired"`
	Cumulative int    `json:"cumulative"`
}

type fleetShareJSON struct {
	ServiceClass     string  `json:"service_class"`
	InService        int     `json:"in_service"`
	NewEnergy        int     `json:"new_energy"`
	CleanEnergy      int     `json:"clean_energy"`
	NewEnergyShare   float64 `json:"new_energy_share"`
	CleanEnergyShare float64 `json:"clean_energy_share"`
	Target           float64 `json:"target"`
	Measure          string  `json:"measure"`
	Met              bool    `json:"met"`
	ToReplaceFor80   int     `json:"to_replace_for_80"`
	ToReplaceFor100  int     `json:"to_replace_for_100"`
}

type fleetPointJSON struct {
	Month            string  `json:"month"`
	InService        int     `json:"in_service"`
	NewEnergyShare   float64 `json:"new_energy_share"`
	CleanEnergyShare float64 `json:"clean_energy_share"`
}

type toReplaceJSON struct {
	VIN          string `json:"vin"`
	Plate        string `json:"plate"`
	PlateColour  string `json:"plate_colour"`
	ServiceClass string `json:"service_class"`
	FuelType     string `json:"fuel_type"`
	FleetID      string `json:"fleet_id,omitempty"`
	BuiltUpArea  bool   `json:"built_up_area"`
}

// fleetShares: GET /v1/reports/clean-energy/fleet?at=YYYY-MM-DD&area=built_up|all&months=N —
// the clean-energy quota of task 13 on the fleet in service (docs/registry.md).
func (h *Handler) fleetShares(c *gin.Context) error {
	if err := request.OnlyQuery(c, "at", "area", "months", export.Param); err != nil {
		return err
	}
	at := time.Now()
	if d, ok, err := request.QueryDate(c, "at"); err != nil {
		return err
	} else if ok {
		at = d
	}
	builtUp := true
	switch c.Query("area") {
	case "", "built_up":
	case "all":
		builtUp = false
	default:
		return apperr.Invalid("area", "built_up (the vehicles serving the built-up area, the plan's scope) or all")
	}
	months := 12
	if s := c.Query("months"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 36 {
			return apperr.Invalid("months", "a whole number of months from 1 to 36")
		}
		months = n
	}
	rep, err := h.svc.FleetShares(c.Request.Context(), auth.Caller(c), at, builtUp, months)
	if err != nil {
		return err
	}
	classes := export.Each(rep.Classes, func(r vehicle.FleetShare) fleetShareJSON {
		return fleetShareJSON{ServiceClass: string(r.ServiceClass), InService: r.InService, NewEnergy: r.NewEnergy, CleanEnergy: r.CleanEnergy,
			NewEnergyShare: r.NewEnergyShare, CleanEnergyShare: r.CleanEnergyShare, Target: r.Target, Measure: r.Measure, Met: r.Met,
			ToReplaceFor80: r.ToReplaceFor80, ToReplaceFor100: r.ToReplaceFor100}
	})
	trend := map[string][]fleetPointJSON{}
	for k, pts := range rep.Trend {
		trend[string(k)] = export.Each(pts, func(p vehicle.FleetPoint) fleetPointJSON {
			return fleetPointJSON{Month: p.Month, InService: p.InService, NewEnergyShare: p.NewEnergyShare, CleanEnergyShare: p.CleanEnergyShare}
		})
	}
	replace := export.Each(rep.Replace, func(v vehicle.Vehicle) toReplaceJSON {
		return toReplaceJSON{VIN: v.VIN, Plate: v.Plate, PlateColour: string(v.PlateColour), ServiceClass: string(v.ServiceClass),
			FuelType: string(v.FuelType), FleetID: v.FleetID, BuiltUpArea: v.BuiltUpArea}
	})
	area := "built_up"
	if !builtUp {
		area = "all"
	}
	return export.Rows(c, "clean-energy-fleet-"+area, gin.H{"at": rep.At.Format(time.DateOnly), "area": area, "rule": "task 13",
		"classes": classes, "trend": trend, "to_replace": replace}, classes)
}
