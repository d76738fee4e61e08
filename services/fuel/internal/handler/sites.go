package handler

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
)

// siteBody is a site as clients send it (POST and PUT).
type siteBody struct {
	SiteID         string        `json:"site_id" input:"id"`
	Kind           string        `json:"kind" input:"id"`
	Name           string        `json:"name"`
	Operator       string        `json:"operator"`
	Lat            *float64      `json:"lat" input:"min=-90,max=90"`
	Lon            *float64      `json:"lon" input:"min=-180,max=180"`
	Address        string        `json:"address"`
	Licence        string        `json:"licence" input:"id"`
	Unlicensed     bool          `json:"unlicensed"`
	InspectionRef  string        `json:"inspection_ref" input:"id"`
	OwnDepot       bool          `json:"own_depot"`
	Suppliers      []string      `json:"suppliers" input:"id,items=100"`
	OperatingSince *request.Date `json:"operating_since"`
	ClosedOn       *request.Date `json:"closed_on"`
	Note           string        `json:"note" input:"text"`
}

func (b siteBody) site() sampling.Site {
	orNaN := func(p *float64) float64 { // a missing coordinate is refused by the core as required
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	s := sampling.Site{ID: b.SiteID, Kind: sampling.Kind(b.Kind), Name: b.Name, Operator: b.Operator, Lat: orNaN(b.Lat), Lon: orNaN(b.Lon),
		Address: b.Address, Licence: b.Licence, Unlicensed: b.Unlicensed, InspectionRef: b.InspectionRef, OwnDepot: b.OwnDepot,
		Suppliers: b.Suppliers, Note: b.Note}
	if b.OperatingSince != nil {
		s.OperatingSince = b.OperatingSince.Time
	}
	if b.ClosedOn != nil {
		s.ClosedOn = b.ClosedOn.Time
	}
	return s
}

// siteJSON is a site as the API returns it.
type siteJSON struct {
	SiteID         string        `json:"site_id"`
	Kind           string        `json:"kind"`
	Name           string        `json:"name"`
	Operator       string        `json:"operator,omitempty"`
	Lat            float64       `json:"lat"`
	Lon            float64       `json:"lon"`
	Address        string        `json:"address,omitempty"`
	Licence        string        `json:"licence,omitempty"`
	Unlicensed     bool          `json:"unlicensed"`
	InspectionRef  string        `json:"inspection_ref,omitempty"`
	OwnDepot       bool          `json:"own_depot"`
	Suppliers      []string      `json:"suppliers"`
	Products       []string      `json:"products"`
	OperatingSince request.Date  `json:"operating_since"`
	ClosedOn       *request.Date `json:"closed_on,omitempty"`
	Note           string        `json:"note,omitempty"`
	CreatedAt      time.Time     `json:"created_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
	UpdatedBy      string        `json:"updated_by"`
	Version        int64         `json:"version"`
}

func siteOut(s sampling.Site) siteJSON {
	j := siteJSON{SiteID: s.ID, Kind: string(s.Kind), Name: s.Name, Operator: s.Operator, Lat: s.Lat, Lon: s.Lon, Address: s.Address,
		Licence: s.Licence, Unlicensed: s.Unlicensed, InspectionRef: s.InspectionRef, OwnDepot: s.OwnDepot, Suppliers: s.Suppliers,
		Products: []string{}, OperatingSince: request.Date{Time: s.OperatingSince}, Note: s.Note, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
		UpdatedBy: s.UpdatedBy, Version: s.Version}
	if j.Suppliers == nil {
		j.Suppliers = []string{}
	}
	for _, p := range limits.Products {
		if s.Kind.Handles(p) {
			j.Products = append(j.Products, string(p))
		}
	}
	if !s.ClosedOn.IsZero() {
		j.ClosedOn = &request.Date{Time: s.ClosedOn}
	}
	return j
}

func (h *Handler) registerSite(c *gin.Context) error {
	var b siteBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	s, isNew, err := h.svc.RegisterSite(c.Request.Context(), auth.Caller(c), b.site())
	if err != nil {
		return err
	}
	httpserver.Created(c, isNew, "/v1/fuel/sites/"+s.ID, siteOut(s))
	return nil
}

func (h *Handler) updateSite(c *gin.Context) error {
	var b siteBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	s, err := h.svc.UpdateSite(c.Request.Context(), auth.Caller(c), c.Param("id"), b.site())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, siteOut(s))
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
	unlicensed, err := boolQuery(c, "unlicensed")
	if err != nil {
		return err
	}
	f := sampling.SiteFilter{Kind: sampling.Kind(c.Query("kind")), Unlicensed: unlicensed, Supplier: c.Query("supplier")}
	caller := auth.Caller(c)
	return export.List(c, "fuel-sites", func(ctx context.Context, after string, limit int) ([]siteJSON, string, error) {
		sites, err := h.svc.ListSites(ctx, caller, f, after, limit)
		if err != nil {
			return nil, "", err
		}
		next := ""
		if len(sites) == limit {
			next = request.EncodeCursor(sites[len(sites)-1].ID)
		}
		return export.Each(sites, siteOut), next, nil
	})
}

// linkJSON is a site on a supply chain.
type linkJSON struct {
	SiteID     string `json:"site_id"`
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Unlicensed bool   `json:"unlicensed"`
	Depth      int    `json:"depth,omitempty"`
	Supplies   string `json:"supplies,omitempty"`
	SuppliedBy string `json:"supplied_by,omitempty"`
}

// chainJSON is a trace-back walk.
type chainJSON struct {
	SiteID    string     `json:"site_id"`
	Upstream  []linkJSON `json:"upstream"`
	Exposed   []linkJSON `json:"exposed"`
	Cycles    []string   `json:"cycles"`
	Missing   []string   `json:"missing"`
	Truncated bool       `json:"truncated"`
	MaxDepth  int        `json:"max_depth"`
}

func chainOut(ch sampling.Chain) chainJSON {
	j := chainJSON{SiteID: ch.SiteID, Upstream: []linkJSON{}, Exposed: []linkJSON{}, Cycles: ch.Cycles, Missing: ch.Missing,
		Truncated: ch.Truncated, MaxDepth: ch.MaxDepth}
	for _, l := range ch.Upstream {
		j.Upstream = append(j.Upstream, linkJSON{SiteID: l.SiteID, Name: l.Name, Kind: string(l.Kind), Unlicensed: l.Unlicensed, Depth: l.Depth, Supplies: l.Supplies})
	}
	for _, l := range ch.Exposed {
		j.Exposed = append(j.Exposed, linkJSON{SiteID: l.SiteID, Name: l.Name, Kind: string(l.Kind), Unlicensed: l.Unlicensed, SuppliedBy: l.Supplies})
	}
	if j.Cycles == nil {
		j.Cycles = []string{}
	}
	if j.Missing == nil {
		j.Missing = []string{}
	}
	return j
}

func (h *Handler) chain(c *gin.Context) error {
	ch, err := h.svc.ChainOf(c.Request.Context(), auth.Caller(c), c.Param("id"), limits.Product(c.Query("product")))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, chainOut(ch))
	return nil
}

// labJSON is a lab contract.
type labJSON struct {
	LabID     string    `json:"lab_id"`
	Name      string    `json:"name"`
	SiteIDs   []string  `json:"site_ids"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
	Version   int64     `json:"version"`
}

func labOut(l sampling.Lab) labJSON {
	j := labJSON{LabID: l.ID, Name: l.Name, SiteIDs: l.SiteIDs, UpdatedAt: l.UpdatedAt, UpdatedBy: l.UpdatedBy, Version: l.Version}
	if j.SiteIDs == nil {
		j.SiteIDs = []string{}
	}
	return j
}

func (h *Handler) putLab(c *gin.Context) error {
	var b struct {
		LabID   string   `json:"lab_id" input:"id"`
		Name    string   `json:"name"`
		SiteIDs []string `json:"site_ids" input:"id,items=1000"`
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	if b.LabID != "" && b.LabID != c.Param("id") {
		return apperr.Invalid("lab_id", "must match the lab in the path")
	}
	l, isNew, err := h.svc.PutLab(c.Request.Context(), auth.Caller(c), sampling.Lab{ID: c.Param("id"), Name: b.Name, SiteIDs: b.SiteIDs})
	if err != nil {
		return err
	}
	httpserver.Created(c, isNew, "/v1/fuel/labs/"+l.ID, labOut(l))
	return nil
}

func (h *Handler) getLab(c *gin.Context) error {
	l, err := h.svc.GetLab(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, labOut(l))
	return nil
}

func (h *Handler) listLabs(c *gin.Context) error {
	ls, err := h.svc.ListLabs(c.Request.Context(), auth.Caller(c))
	if err != nil {
		return err
	}
	out := export.Each(ls, labOut)
	return export.Rows(c, "labs", gin.H{"items": out}, out)
}
