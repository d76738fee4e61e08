package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/csvout"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/fuel/internal/importjob"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
)

// resultBody is one result as clients send it. The value is read here, so that a value that is
// not a number is refused naming results[i].value.
type resultBody struct {
	Parameter string          `json:"parameter" input:"id"`
	Value     json.RawMessage `json:"value"`
	Unit      string          `json:"unit" input:"id"`
}

// sampleBody is an upload.
type sampleBody struct {
	SampleID  string          `json:"sample_id" input:"id"`
	SiteID    string          `json:"site_id" input:"id"`
	Product   string          `json:"product" input:"id"`
	Grade     json.RawMessage `json:"grade"` // "92", 92 or -10
	Standard  string          `json:"standard" input:"name"`
	Label     string          `json:"label" input:"name"`
	SampledAt string          `json:"sampled_at" input:"id"`
	Results   []resultBody    `json:"results" input:"items=100"`
}

// readings reads results, naming each bad value.
func readings(rs []resultBody, ve *apperr.ValidationError) []limits.Reading {
	out := make([]limits.Reading, 0, len(rs))
	for i, r := range rs {
		v, err := number(r.Value)
		if err != nil {
			ve.Add(fmt.Sprintf("results[%d].value", i), err.Error())
		} else if v < -maxValue || v > maxValue {
			ve.Add(fmt.Sprintf("results[%d].value", i), fmt.Sprintf("must be from %v to %v", -maxValue, maxValue))
		}
		out = append(out, limits.Reading{Parameter: r.Parameter, Value: v, Unit: r.Unit})
	}
	return out
}

// maxValue bounds a result's value either way: no fuel property GB 17930 or GB 19147 limits
// (mg/kg, kg/m³, °C, % by volume) comes near it.
const maxValue = 1e6

// number reads a JSON number (or a string holding one).
func number(raw json.RawMessage) (float64, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, errors.New("required: a number")
	}
	if u, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(u)
	}
	v, err := request.Float(s)
	if err != nil {
		return 0, fmt.Errorf("%s is not a finite number", string(raw))
	}
	return v, nil
}

// text reads a JSON string or number as text (grades are written "92" or 92).
func text(raw json.RawMessage) (string, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return "", nil
	}
	if u, err := strconv.Unquote(s); err == nil {
		return u, nil
	}
	if _, err := request.Float(s); err == nil {
		return s, nil
	}
	return "", errors.New("must be a string or a number")
}

func (b sampleBody) input() (sampling.SampleInput, error) {
	var ve apperr.ValidationError
	in := sampling.SampleInput{ID: b.SampleID, SiteID: b.SiteID, Product: b.Product, Standard: b.Standard, Label: b.Label}
	g, err := text(b.Grade)
	if err == nil {
		err = request.CheckString("grade", g, "id,max=16")
	}
	var gve *apperr.ValidationError
	switch {
	case errors.As(err, &gve):
		ve.Fields = append(ve.Fields, gve.Fields...)
	case err != nil:
		ve.Add("grade", err.Error())
	}
	in.Grade = g
	if b.SampledAt != "" {
		t, err := localtime.ParseRFC3339(b.SampledAt)
		if err != nil {
			ve.Add("sampled_at", err.Error())
		}
		in.SampledAt = t
	}
	in.Results = readings(b.Results, &ve)
	return in, ve.Err()
}

// resultJSON is a judged result; limit is the row of the limit table that judged it.
type resultJSON struct {
	Parameter  string        `json:"parameter"`
	Value      float64       `json:"value"`
	Unit       string        `json:"unit"`
	ValueCanon float64       `json:"value_canonical"`
	UnitCanon  string        `json:"unit_canonical"`
	Verdict    string        `json:"verdict"`
	Limit      *limits.Limit `json:"limit,omitempty"`
	Message    string        `json:"message"`
}

// findingJSON is a prohibition the sample falls under.
type findingJSON struct {
	Code     string `json:"code"`
	Standard string `json:"standard"`
	Clause   string `json:"clause"`
	Message  string `json:"message"`
}

func resultsOut(os []limits.Outcome) []resultJSON {
	out := make([]resultJSON, 0, len(os))
	for _, o := range os {
		out = append(out, resultJSON{Parameter: o.Parameter, Value: o.Value, Unit: o.Unit, ValueCanon: o.Canonical, UnitCanon: o.CanonicalUnit,
			Verdict: string(o.Verdict), Limit: o.Limit, Message: o.Message})
	}
	return out
}

func findingsOut(fs []limits.Finding) []findingJSON {
	out := make([]findingJSON, 0, len(fs))
	for _, f := range fs {
		out = append(out, findingJSON(f))
	}
	return out
}

// sampleJSON is a sample as the API returns it.
type sampleJSON struct {
	SampleID      string        `json:"sample_id"`
	SiteID        string        `json:"site_id"`
	SiteKind      string        `json:"site_kind"`
	Product       string        `json:"product"`
	Grade         string        `json:"grade"`
	Standard      string        `json:"standard,omitempty"`
	Label         string        `json:"label,omitempty"`
	SampledAt     time.Time     `json:"sampled_at"`
	Month         string        `json:"month"`
	Source        string        `json:"source"`
	LabID         string        `json:"lab_id,omitempty"`
	UploadedBy    string        `json:"uploaded_by"`
	UploadedAt    time.Time     `json:"uploaded_at"`
	Verdict       string        `json:"verdict"`
	Results       []resultJSON  `json:"results"`
	Findings      []findingJSON `json:"findings"`
	LimitsVersion int           `json:"limits_version"`
	Revision      int           `json:"revision"`
	CaseID        string        `json:"case_id,omitempty"`
	UpdatedAt     time.Time     `json:"updated_at"`
	UpdatedBy     string        `json:"updated_by"`
}

func sampleOut(s sampling.Sample) sampleJSON {
	return sampleJSON{SampleID: s.ID, SiteID: s.SiteID, SiteKind: string(s.SiteKind), Product: string(s.Product), Grade: s.Grade,
		Standard: string(s.Declared), Label: s.Label, SampledAt: s.SampledAt, Month: s.Month, Source: string(s.Source), LabID: s.LabID,
		UploadedBy: s.UploadedBy, UploadedAt: s.UploadedAt, Verdict: string(s.Verdict), Results: resultsOut(s.Results),
		Findings: findingsOut(s.Findings), LimitsVersion: s.LimitsVersion, Revision: s.Revision, CaseID: s.CaseID,
		UpdatedAt: s.UpdatedAt, UpdatedBy: s.UpdatedBy}
}

func (h *Handler) upload(c *gin.Context) error {
	var b sampleBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	s, isNew, err := h.svc.Upload(c.Request.Context(), auth.Caller(c), in)
	if err != nil {
		return err
	}
	httpserver.Created(c, isNew, "/v1/fuel/samples/"+s.ID, sampleOut(s))
	return nil
}

// importCSV takes a lab file: its form is checked at once (400 naming the row and column),
// then it is a job (202, Location: the job), judged, stored and its cases opened in the
// background. Always a job, whatever the file's size: one behaviour for clients.
func (h *Handler) importCSV(c *gin.Context) error {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || (mt != "text/csv" && mt != "application/csv") {
		return apperr.Invalid("Content-Type", "send the file as text/csv")
	}
	file, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, request.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apperr.Invalid("body", fmt.Sprintf("the file is larger than %d bytes: split it", request.MaxBody))
		}
		return apperr.Invalid("body", "the file could not be read: "+err.Error())
	}
	j, err := h.jobs.Submit(c.Request.Context(), auth.Caller(c), file)
	if err != nil {
		return err
	}
	c.Header("Location", importPath(j.ID))
	c.JSON(http.StatusAccepted, jobOut(j))
	return nil
}

func importPath(id string) string { return "/v1/fuel/samples/imports/" + id }

type progressJSON struct {
	TotalRows     int `json:"total_rows"`
	RowsChecked   int `json:"rows_checked"`
	Samples       int `json:"samples"`
	SamplesStored int `json:"samples_stored"`
	CasesOpened   int `json:"cases_opened"`
}

type importItemJSON struct {
	SampleID string `json:"sample_id"`
	Verdict  string `json:"verdict"`
	CaseID   string `json:"case_id,omitempty"`
	Row      int    `json:"row"`
}

type importResultJSON struct {
	Layout   string           `json:"layout"`
	Samples  int              `json:"samples"`
	Created  int              `json:"created"`
	Replayed int              `json:"replayed"`
	Failed   int              `json:"failed"`
	Cases    int              `json:"cases"`
	Items    []importItemJSON `json:"items"`
}

type importProblemJSON struct {
	Field   string `json:"field"`
	Row     int    `json:"row"`
	Column  string `json:"column,omitempty"`
	Message string `json:"message"`
}

type importErrorJSON struct {
	Status int                 `json:"status"`
	Title  string              `json:"title"`
	Detail string              `json:"detail"`
	Errors []importProblemJSON `json:"errors"`
	CSV    string              `json:"csv"`
}

type importJSON struct {
	ImportID   string            `json:"import_id"`
	Status     string            `json:"status"`
	UploadedBy string            `json:"uploaded_by"`
	Role       string            `json:"role"`
	Tenant     string            `json:"tenant,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	StartedAt  *time.Time        `json:"started_at,omitempty"`
	FinishedAt *time.Time        `json:"finished_at,omitempty"`
	Attempts   int               `json:"attempts"`
	Progress   progressJSON      `json:"progress"`
	Result     *importResultJSON `json:"result,omitempty"`
	Error      *importErrorJSON  `json:"error,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func jobOut(j importjob.Job) importJSON {
	out := importJSON{ImportID: j.ID, Status: string(j.Status), UploadedBy: j.Subject, Role: string(j.Role), Tenant: j.Tenant, CreatedAt: j.CreatedAt,
		StartedAt: optTime(j.StartedAt), FinishedAt: optTime(j.FinishedAt), Attempts: j.Attempts, Progress: progressJSON(j.Progress)}
	if r := j.Result; r != nil {
		out.Result = &importResultJSON{Layout: r.Layout, Samples: r.Samples, Created: r.Created, Replayed: r.Replayed, Failed: r.Failed, Cases: r.Cases,
			Items: make([]importItemJSON, 0, len(r.Items))}
		for _, it := range r.Items {
			out.Result.Items = append(out.Result.Items, importItemJSON(it))
		}
	}
	if j.Status == importjob.Failed {
		e := &importErrorJSON{Status: j.ErrorStatus, Title: http.StatusText(j.ErrorStatus), Detail: j.Detail, Errors: []importProblemJSON{},
			CSV: importPath(j.ID) + "/errors.csv"}
		for _, p := range j.Problems {
			e.Errors = append(e.Errors, importProblemJSON(p))
		}
		out.Error = e
	}
	return out
}

func (h *Handler) getImport(c *gin.Context) error {
	j, err := h.jobs.Get(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, jobOut(j))
	return nil
}

// importErrors writes a failed import's errors as CSV: the row, the column and the message of
// each, then the cells of that row as sent, every cell neutralised (libs/csvout).
func (h *Handler) importErrors(c *gin.Context) error {
	j, err := h.jobs.Get(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	var b bytes.Buffer
	w := csvout.New(&b)
	_ = w.Write(append([]string{"row", "column", "message"}, j.Header...))
	for _, p := range j.Problems {
		row := ""
		if p.Row > 0 {
			row = strconv.Itoa(p.Row)
		}
		_ = w.Write(append([]string{row, p.Column, p.Message}, j.Rows[p.Row]...))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	c.Header("Content-Disposition", `attachment; filename="`+j.ID+`-errors.csv"`)
	c.Data(http.StatusOK, "text/csv; charset=utf-8", b.Bytes())
	return nil
}

func (h *Handler) getSample(c *gin.Context) error {
	s, err := h.svc.GetSample(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, sampleOut(s))
	return nil
}

func (h *Handler) listSamples(c *gin.Context) error {
	f := sampling.SampleFilter{SiteID: c.Query("site_id"), Product: limits.Product(c.Query("product")), Verdict: limits.Verdict(c.Query("verdict")), Month: c.Query("month")}
	caller := auth.Caller(c)
	return export.Sorted(c, "fuel-samples", func(ctx context.Context, after sampling.Key, limit int) ([]sampling.Sample, error) {
		return h.svc.ListSamples(ctx, caller, f, after, limit)
	}, func(x sampling.Sample) sampling.Key { return sampling.Key{At: x.SampledAt, ID: x.ID} }, sampleOut)
}

// revisionJSON is one entry of a sample's history.
type revisionJSON struct {
	Revision      int           `json:"revision"`
	Verdict       string        `json:"verdict"`
	Results       []resultJSON  `json:"results"`
	Findings      []findingJSON `json:"findings"`
	LimitsVersion int           `json:"limits_version"`
	Reason        string        `json:"reason"`
	By            string        `json:"by"`
	Role          string        `json:"role"`
	At            time.Time     `json:"at"`
}

func (h *Handler) revisions(c *gin.Context) error {
	rs, err := h.svc.Revisions(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	out := make([]revisionJSON, 0, len(rs))
	for _, r := range rs {
		out = append(out, revisionJSON{Revision: r.Number, Verdict: string(r.Verdict), Results: resultsOut(r.Results), Findings: findingsOut(r.Findings),
			LimitsVersion: r.LimitsVersion, Reason: r.Reason, By: r.By, Role: string(r.Role), At: r.At})
	}
	c.JSON(http.StatusOK, gin.H{"sample_id": c.Param("id"), "items": out})
	return nil
}

func (h *Handler) correct(c *gin.Context) error {
	var b struct {
		BaseRevision int          `json:"base_revision" input:"min=1,max=1000000"`
		Results      []resultBody `json:"results" input:"items=100"`
		Reason       string       `json:"reason" input:"text"`
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	var ve apperr.ValidationError
	rs := readings(b.Results, &ve)
	if err := ve.Err(); err != nil {
		return err
	}
	s, isNew, err := h.svc.Correct(c.Request.Context(), auth.Caller(c), c.Param("id"), sampling.Correction{BaseRevision: b.BaseRevision, Results: rs, Reason: b.Reason})
	if err != nil {
		return err
	}
	httpserver.Created(c, isNew, "/v1/fuel/samples/"+s.ID+"/revisions", sampleOut(s))
	return nil
}
