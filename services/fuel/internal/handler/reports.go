package handler

import (
	"context"
	"net/http"
	"strconv"
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

// followUpJSON is a suggested sample upstream.
type followUpJSON struct {
	SiteID   string `json:"site_id"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Product  string `json:"product"`
	Priority int    `json:"priority"`
	Reason   string `json:"reason"`
}

type eventJSON struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	What string    `json:"what"`
}

// caseJSON is a non-conformance case.
type caseJSON struct {
	CaseID           string         `json:"case_id"`
	SampleID         string         `json:"sample_id"`
	SiteID           string         `json:"site_id"`
	SiteName         string         `json:"site_name"`
	SiteKind         string         `json:"site_kind"`
	Product          string         `json:"product"`
	Grade            string         `json:"grade"`
	SampledAt        time.Time      `json:"sampled_at"`
	OpenedAt         time.Time      `json:"opened_at"`
	Status           string         `json:"status"`
	Failures         []resultJSON   `json:"failures"`
	Findings         []findingJSON  `json:"findings"`
	SampleRevision   int            `json:"sample_revision"`
	Chain            chainJSON      `json:"chain"`
	FollowUps        []followUpJSON `json:"follow_ups"`
	Escalated        bool           `json:"escalated"`
	EscalationReason string         `json:"escalation_reason,omitempty"`
	PriorFailures    []string       `json:"prior_failures"`
	Resolution       string         `json:"resolution,omitempty"`
	ClosedAt         *time.Time     `json:"closed_at,omitempty"`
	ClosedBy         string         `json:"closed_by,omitempty"`
	Events           []eventJSON    `json:"events"`
	Version          int64          `json:"version"`
}

func caseOut(c sampling.Case) caseJSON {
	j := caseJSON{CaseID: c.ID, SampleID: c.SampleID, SiteID: c.SiteID, SiteName: c.SiteName, SiteKind: string(c.SiteKind), Product: string(c.Product),
		Grade: c.Grade, SampledAt: c.SampledAt, OpenedAt: c.OpenedAt, Status: string(c.Status), Failures: resultsOut(c.Failures),
		Findings: findingsOut(c.Findings), SampleRevision: c.Revision, Chain: chainOut(c.Chain), FollowUps: []followUpJSON{},
		Escalated: c.Escalated, EscalationReason: c.EscalationReason, PriorFailures: c.PriorFailures, Resolution: c.Resolution,
		ClosedBy: c.ClosedBy, Events: []eventJSON{}, Version: c.Version}
	if !c.ClosedAt.IsZero() {
		t := c.ClosedAt
		j.ClosedAt = &t
	}
	if j.PriorFailures == nil {
		j.PriorFailures = []string{}
	}
	for _, f := range c.FollowUps {
		j.FollowUps = append(j.FollowUps, followUpJSON{SiteID: f.SiteID, Name: f.Name, Kind: string(f.Kind), Product: string(f.Product), Priority: f.Priority, Reason: f.Reason})
	}
	for _, e := range c.Events {
		j.Events = append(j.Events, eventJSON(e))
	}
	return j
}

func (h *Handler) getCase(c *gin.Context) error {
	cs, err := h.svc.GetCase(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, caseOut(cs))
	return nil
}

func (h *Handler) listCases(c *gin.Context) error {
	escalated, err := boolQuery(c, "escalated")
	if err != nil {
		return err
	}
	f := sampling.CaseFilter{SiteID: c.Query("site_id"), Status: sampling.CaseStatus(c.Query("status")), Escalated: escalated}
	caller := auth.Caller(c)
	return export.Sorted(c, "fuel-cases", func(ctx context.Context, after sampling.Key, limit int) ([]sampling.Case, error) {
		return h.svc.ListCases(ctx, caller, f, after, limit)
	}, func(x sampling.Case) sampling.Key { return sampling.Key{At: x.OpenedAt, ID: x.ID} }, caseOut)
}

func (h *Handler) closeCase(c *gin.Context) error {
	var b struct {
		Resolution string `json:"resolution" input:"text"`
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	cs, err := h.svc.CloseCase(c.Request.Context(), auth.Caller(c), c.Param("id"), b.Resolution)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, caseOut(cs))
	return nil
}

// monthQuery reads the month parameter ("YYYY-MM"); absent, the current month in China.
func monthQuery(c *gin.Context) (sampling.Month, error) {
	s := c.Query("month")
	if s == "" {
		return sampling.MonthOf(time.Now()), nil
	}
	m, err := sampling.ParseMonth(s)
	if err != nil {
		return sampling.Month{}, apperr.Invalid("month", "must be a YYYY-MM month")
	}
	return m, nil
}

// quotaJSON describes a quota.
type quotaJSON struct {
	Kind         string  `json:"kind"`
	Rule         string  `json:"rule"`
	MonthlyShare float64 `json:"monthly_share"`
	YearlyShare  float64 `json:"yearly_share"`
}

func quotaOut(q sampling.Quota) quotaJSON {
	return quotaJSON{Kind: string(q.Kind), Rule: q.Rule, MonthlyShare: q.MonthlyShare, YearlyShare: q.YearlyShare}
}

type candidateJSON struct {
	SiteID          string     `json:"site_id"`
	Name            string     `json:"name"`
	Operator        string     `json:"operator,omitempty"`
	OwnDepot        bool       `json:"own_depot"`
	LastSampledAt   *time.Time `json:"last_sampled_at"`
	Failures        int        `json:"failures"`
	LastFailureAt   *time.Time `json:"last_failure_at,omitempty"`
	SampledThisYear bool       `json:"sampled_this_year"`
	Reason          string     `json:"reason"`
}

type proposalJSON struct {
	Quota             quotaJSON       `json:"quota"`
	Population        int             `json:"population"`
	SampledThisMonth  int             `json:"sampled_this_month"`
	RequiredThisMonth int             `json:"required_this_month"`
	UnsampledThisYear int             `json:"unsampled_this_year"`
	MonthsLeft        int             `json:"months_left"`
	Size              int             `json:"size"`
	Sites             []candidateJSON `json:"sites"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (h *Handler) proposal(c *gin.Context) error {
	m, err := monthQuery(c)
	if err != nil {
		return err
	}
	size, _, err := intQuery(c, "size", 1, 10000)
	if err != nil {
		return err
	}
	ps, err := h.svc.ProposePlan(c.Request.Context(), auth.Caller(c), m, sampling.Kind(c.Query("kind")), size)
	if err != nil {
		return err
	}
	out := make([]proposalJSON, 0, len(ps))
	for _, p := range ps {
		j := proposalJSON{Quota: quotaOut(p.Quota), Population: p.Population, SampledThisMonth: p.SampledThisMonth, RequiredThisMonth: p.RequiredThisMonth,
			UnsampledThisYear: p.UnsampledThisYear, MonthsLeft: p.MonthsLeft, Size: p.Size, Sites: []candidateJSON{}}
		for _, x := range p.Sites {
			j.Sites = append(j.Sites, candidateJSON{SiteID: x.Site.ID, Name: x.Site.Name, Operator: x.Site.Operator, OwnDepot: x.Site.OwnDepot,
				LastSampledAt: timeOrNil(x.LastSampledAt), Failures: x.Failures, LastFailureAt: timeOrNil(x.LastFailureAt),
				SampledThisYear: x.SampledThisYear, Reason: x.Reason})
		}
		out = append(out, j)
	}
	return export.Rows(c, "sampling-plan-"+m.String(), gin.H{"month": m.String(), "proposals": out}, out)
}

type figureJSON struct {
	Period     string  `json:"period"`
	Population int     `json:"population"`
	Sampled    int     `json:"sampled"`
	Required   int     `json:"required"`
	Share      float64 `json:"share"`
	Target     float64 `json:"target"`
	Met        bool    `json:"met"`
}

type siteRefJSON struct {
	SiteID string `json:"site_id"`
	Name   string `json:"name"`
}

type coverageJSON struct {
	Quota     quotaJSON     `json:"quota"`
	Month     *figureJSON   `json:"month,omitempty"`
	Year      *figureJSON   `json:"year,omitempty"`
	Months    []figureJSON  `json:"months,omitempty"`
	Unsampled []siteRefJSON `json:"unsampled,omitempty"`
}

func (h *Handler) coverage(c *gin.Context) error {
	year, byYear, err := intQuery(c, "year", 2000, 2100)
	if err != nil {
		return err
	}
	if byYear && c.Query("month") != "" {
		return apperr.Invalid("year", "ask for a month or a year, not both")
	}
	var rs []sampling.QuotaReport
	period := ""
	if byYear {
		rs, err = h.svc.YearCoverage(c.Request.Context(), auth.Caller(c), year)
		period = c.Query("year")
	} else {
		var m sampling.Month
		if m, err = monthQuery(c); err != nil {
			return err
		}
		rs, err = h.svc.MonthCoverage(c.Request.Context(), auth.Caller(c), m)
		period = m.String()
	}
	if err != nil {
		return err
	}
	out := make([]coverageJSON, 0, len(rs))
	for _, r := range rs {
		j := coverageJSON{Quota: quotaOut(r.Quota)}
		if r.Month != nil {
			f := figureJSON(*r.Month)
			j.Month = &f
		}
		if r.Year != nil {
			f := figureJSON(r.Year.Year)
			j.Year, j.Months, j.Unsampled = &f, []figureJSON{}, []siteRefJSON{}
			for _, m := range r.Year.Months {
				j.Months = append(j.Months, figureJSON(m))
			}
			for _, s := range r.Year.Unsampled {
				j.Unsampled = append(j.Unsampled, siteRefJSON{SiteID: s.ID, Name: s.Name})
			}
		}
		out = append(out, j)
	}
	return export.Rows(c, "coverage-"+period, gin.H{"period": period, "quotas": out}, out)
}

// tableJSON is a stored limit table version.
type tableJSON struct {
	Version  int          `json:"version"`
	Source   string       `json:"source"`
	LoadedAt time.Time    `json:"loaded_at"`
	LoadedBy string       `json:"loaded_by"`
	Hash     string       `json:"hash"`
	Table    limits.Table `json:"table"`
	Units    []unitJSON   `json:"units"`
}

// unitJSON lists the spellings accepted for a table unit.
type unitJSON struct {
	Unit     string   `json:"unit"`
	Accepted []string `json:"accepted"`
}

func tableOut(t sampling.StoredTable) tableJSON {
	j := tableJSON{Version: t.Version, Source: t.Source, LoadedAt: t.LoadedAt, LoadedBy: t.LoadedBy, Hash: t.Hash, Table: t.Table}
	for _, u := range limits.CanonicalUnits() {
		j.Units = append(j.Units, unitJSON{Unit: u, Accepted: limits.Accepted(u)})
	}
	return j
}

func (h *Handler) getLimits(c *gin.Context) error {
	v, _, err := intQuery(c, "version", 1, 1<<30)
	if err != nil {
		return err
	}
	t, err := h.svc.Limits(c.Request.Context(), auth.Caller(c), v)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, tableOut(t))
	return nil
}

func (h *Handler) putLimits(c *gin.Context) error {
	var t limits.Table
	if err := request.DecodeJSON(c, &t); err != nil {
		return err
	}
	st, isNew, err := h.svc.LoadLimits(c.Request.Context(), auth.Caller(c), t)
	if err != nil {
		return err
	}
	httpserver.Created(c, isNew, "/v1/fuel/limits?version="+strconv.Itoa(st.Version), tableOut(st))
	return nil
}
