package handler

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/fuel/internal/csvimport"
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

func (h *Handler) importCSV(c *gin.Context) error {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || (mt != "text/csv" && mt != "application/csv") {
		return apperr.Invalid("Content-Type", "send the file as text/csv")
	}
	f, err := csvimport.Parse(http.MaxBytesReader(c.Writer, c.Request.Body, request.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apperr.Invalid("body", fmt.Sprintf("the file is larger than %d bytes: split it", request.MaxBody))
		}
		return err
	}
	res, err := h.svc.Import(c.Request.Context(), auth.Caller(c), f.Inputs())
	if err != nil {
		return importError(err, f)
	}
	type itemJSON struct {
		SampleID string `json:"sample_id"`
		Verdict  string `json:"verdict"`
		CaseID   string `json:"case_id,omitempty"`
		Row      int    `json:"row"`
	}
	items := make([]itemJSON, 0, len(res.Samples))
	failed := 0
	for i, s := range res.Samples {
		items = append(items, itemJSON{SampleID: s.ID, Verdict: string(s.Verdict), CaseID: s.CaseID, Row: f.Items[i].Row})
		if s.Verdict == limits.Fail {
			failed++
		}
	}
	status := http.StatusOK
	if res.Created > 0 {
		status = http.StatusCreated
	}
	c.JSON(status, gin.H{"layout": f.Layout, "samples": len(res.Samples), "created": res.Created, "replayed": res.Replayed, "failed": failed, "items": items})
	return nil
}

// importError turns the core's refusal of an import into errors naming the file's rows.
func importError(err error, f csvimport.File) error {
	var ie *sampling.ImportError
	if !errors.As(err, &ie) {
		return err
	}
	if errors.Is(ie.Kind, apperr.ErrInvalid) {
		var out apperr.ValidationError
		for _, it := range ie.Items {
			item := f.Items[it.Index]
			var ve *apperr.ValidationError
			if !errors.As(it.Err, &ve) {
				out.Add(csvimport.Field(item.Row, ""), it.Err.Error())
				continue
			}
			for _, fe := range ve.Fields {
				out.Add(csvimport.Field(item.Locate(fe.Field)), fe.Message)
			}
		}
		return &out
	}
	var parts []string
	for i, it := range ie.Items {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ie.Items)-10))
			break
		}
		parts = append(parts, fmt.Sprintf("row %d (sample %s): %s", f.Items[it.Index].Row, f.Items[it.Index].Input.ID, trimKind(it.Err)))
	}
	return fmt.Errorf("nothing imported: %s: %w", strings.Join(parts, "; "), ie.Kind)
}

// trimKind drops the kind's own words from the end of an error message.
func trimKind(err error) string {
	s := err.Error()
	for _, k := range []error{apperr.ErrForbidden, apperr.ErrConflict} {
		s = strings.TrimSuffix(s, ": "+k.Error())
	}
	return s
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
	limit, after, err := request.Page(c)
	if err != nil {
		return err
	}
	key, err := sampling.ParseKey(after)
	if err != nil {
		return err
	}
	f := sampling.SampleFilter{SiteID: c.Query("site_id"), Product: limits.Product(c.Query("product")), Verdict: limits.Verdict(c.Query("verdict")), Month: c.Query("month")}
	ss, err := h.svc.ListSamples(c.Request.Context(), auth.Caller(c), f, key, limit)
	if err != nil {
		return err
	}
	out := make([]sampleJSON, 0, len(ss))
	for _, s := range ss {
		out = append(out, sampleOut(s))
	}
	next := request.NextCursor(ss, limit, func(x sampling.Sample) sampling.Key { return sampling.Key{At: x.SampledAt, ID: x.ID} })
	c.JSON(http.StatusOK, gin.H{"items": out, "next_cursor": next})
	return nil
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
