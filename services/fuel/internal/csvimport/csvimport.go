// Package csvimport reads sample results exported by lab systems as CSV, in either of two
// layouts told apart by the header:
//
//   - one row per parameter: sample_id, site_id, product, grade, sampled_at, parameter, value,
//     unit (optional columns: standard, label); a sample's rows share its sample_id;
//   - one row per sample: sample_id, site_id, product, grade, sampled_at (optional: standard,
//     label), then one column per parameter headed "key (unit)", "key [unit]" or "key" for a
//     number without unit; an empty cell means the parameter was not measured.
//
// Column names are matched case-insensitively; commas, semicolons or tabs separate cells;
// sampled_at is RFC 3339, or "YYYY-MM-DD HH:MM[:SS]" read as China time. Errors name the row
// (the line number in the file; the header is row 1) and the column. The package only reads:
// judging and storing is the core's.
package csvimport

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
)

// Layout is how a file arranges its results.
type Layout string

// Layouts.
const (
	PerParameter Layout = "per_parameter"
	PerSample    Layout = "per_sample"
)

// Sample-level columns.
var (
	required = []string{"sample_id", "site_id", "product", "sampled_at"}
	optional = []string{"grade", "standard", "label"}
	longCols = []string{"parameter", "value", "unit"}
)

// Item is one sample read from a file, with where each of its parts came from.
type Item struct {
	Input sampling.SampleInput
	// Row is the sample's first row; ResultRows and ResultColumns say where results[i] was read.
	Row           int
	ResultRows    []int
	ResultColumns []string
	layout        Layout
}

// Locate turns a field of a sample upload ("results[2].unit", "grade") into the row and column
// of the file it came from. column is empty when the field names no single cell.
func (it Item) Locate(field string) (row int, column string) {
	var i int
	var part string
	if n, _ := fmt.Sscanf(field, "results[%d].%s", &i, &part); n == 2 && i >= 0 && i < len(it.ResultRows) {
		if it.layout == PerSample {
			return it.ResultRows[i], it.ResultColumns[i]
		}
		return it.ResultRows[i], part
	}
	switch field {
	case "sample_id", "site_id", "product", "grade", "standard", "label", "sampled_at":
		return it.Row, field
	}
	return it.Row, ""
}

// Field names a cell for an error: "rows[5].unit", or "rows[5]" for the row as a whole.
func Field(row int, column string) string {
	if column == "" {
		return fmt.Sprintf("rows[%d]", row)
	}
	return fmt.Sprintf("rows[%d].%s", row, column)
}

// File is a parsed file.
type File struct {
	Layout Layout
	Items  []Item
	// Header is the header row as written; Records the cells of each row by row number, so
	// that a report of the file's errors can echo them.
	Header  []string
	Records map[int][]string
	// Rows counts the rows read after the header.
	Rows int
}

// Inputs returns the samples to import.
func (f File) Inputs() []sampling.SampleInput {
	out := make([]sampling.SampleInput, len(f.Items))
	for i, it := range f.Items {
		out[i] = it.Input
	}
	return out
}

var paramHeader = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]*)\s*(?:[(\[]\s*(.*?)\s*[)\]])?$`)

type column struct {
	name  string // sample-level or long-layout column, lowercased
	param string // per-sample layout: the parameter key
	unit  string
	label string // the header as written
}

// Parse reads a file. Every problem found is reported at once, each naming its row and column.
// An error reading r (a body over its size bound) is returned as it is.
func Parse(r io.Reader) (File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return File{}, err
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	first := data
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = sniff(first)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return File{}, apperr.Invalid("body", "the file is empty: send a header row and one row per sample or per parameter")
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return File{}, apperr.Invalid(Field(1, ""), notCSV(pe))
		}
		return File{}, apperr.Invalid("body", "not a CSV file: "+err.Error())
	}
	if bad := checkCells(header, 1, nil); len(bad) > 0 {
		return File{}, &apperr.ValidationError{Fields: bad}
	}
	cols, layout, err := readHeader(header)
	if err != nil {
		return File{}, err
	}
	var ve apperr.ValidationError
	var items []Item
	byID := map[string]int{}
	records := map[int][]string{}
	rows := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A record that does not parse has no field positions: the error says where it is.
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				ve.Add(Field(0, ""), "not valid CSV: "+err.Error())
				break
			}
			column := ""
			if i := fieldAt(data, pe, cr.Comma); i >= 0 && i < len(cols) {
				column = cols[i].label
			}
			ve.Add(Field(pe.StartLine, column), notCSV(pe))
			break
		}
		line, _ := cr.FieldPos(0)
		rows++
		if rows > MaxRows {
			ve.Add(Field(line, ""), fmt.Sprintf("more than %d rows: split the file", MaxRows))
			break
		}
		records[line] = rec
		if bad := checkCells(rec, line, cols); len(bad) > 0 {
			ve.Fields = append(ve.Fields, bad...)
			continue
		}
		if blank(rec) {
			continue
		}
		if len(rec) > len(cols) {
			ve.Add(Field(line, ""), fmt.Sprintf("%d cells, but the header has %d columns", len(rec), len(cols)))
			continue
		}
		cells := map[string]string{}
		var results []limits.Reading
		var resultCols []string
		for i, c := range cols {
			v := ""
			if i < len(rec) {
				v = strings.TrimSpace(rec[i])
			}
			if c.param == "" {
				cells[c.name] = v
				continue
			}
			if v == "" {
				continue
			}
			x, err := number(v)
			if err != nil {
				ve.Add(Field(line, c.label), err.Error())
				continue
			}
			results = append(results, limits.Reading{Parameter: c.param, Value: x, Unit: c.unit})
			resultCols = append(resultCols, c.label)
		}
		in := sampling.SampleInput{ID: cells["sample_id"], SiteID: cells["site_id"], Product: cells["product"], Grade: cells["grade"],
			Standard: cells["standard"], Label: cells["label"]}
		if cells["sampled_at"] != "" {
			t, err := instant(cells["sampled_at"])
			if err != nil {
				ve.Add(Field(line, "sampled_at"), err.Error())
			}
			in.SampledAt = t
		}
		if layout == PerSample {
			rows := make([]int, len(results))
			for i := range rows {
				rows[i] = line
			}
			in.Results = results
			items = append(items, Item{Input: in, Row: line, ResultRows: rows, ResultColumns: resultCols, layout: layout})
			continue
		}
		value, err := number(cells["value"])
		if err != nil {
			ve.Add(Field(line, "value"), err.Error())
		}
		reading := limits.Reading{Parameter: cells["parameter"], Value: value, Unit: cells["unit"]}
		key := in.SiteID + "\x00" + in.ID // sample numbers are per site
		idx, seen := byID[key]
		if !seen || in.ID == "" {
			byID[key] = len(items)
			in.Results = []limits.Reading{reading}
			items = append(items, Item{Input: in, Row: line, ResultRows: []int{line}, ResultColumns: []string{"parameter"}, layout: layout})
			continue
		}
		it := &items[idx]
		for _, name := range differing(it.Input, in) {
			ve.Add(Field(line, name), fmt.Sprintf("differs from row %d of the same sample %s", it.Row, in.ID))
		}
		it.Input.Results = append(it.Input.Results, reading)
		it.ResultRows = append(it.ResultRows, line)
		it.ResultColumns = append(it.ResultColumns, "parameter")
	}
	if err := ve.Err(); err != nil {
		return File{}, err
	}
	if len(items) == 0 {
		return File{}, apperr.Invalid("body", "the file has a header but no samples")
	}
	return File{Layout: layout, Items: items, Header: header, Records: records, Rows: rows}, nil
}

// Bounds of a file (with the request's 8 MiB and the core's 5000 samples).
const (
	MaxRows = 100_000
	MaxCell = 256 // characters
)

// checkCells refuses, naming the cell, one longer than MaxCell or holding a control character
// (NUL, a line break inside quotes...) or a bidirectional override (U+202A-U+202E,
// U+2066-U+2069), which can make a cell read differently from what it holds.
func checkCells(rec []string, line int, cols []column) []apperr.FieldError {
	var out []apperr.FieldError
	for i, c := range rec {
		name := fmt.Sprintf("column %d", i+1)
		if i < len(cols) && cols[i].label != "" {
			name = cols[i].label
		} else if cols != nil && i >= len(cols) {
			name = ""
		}
		if cols == nil { // the header: its cell is the column's name, and at fault
			name = fmt.Sprintf("column %d", i+1)
		}
		field := Field(line, name)
		switch {
		case !utf8.ValidString(c):
			out = append(out, apperr.FieldError{Field: field, Message: "not UTF-8 text: save the file as CSV UTF-8"})
		case utf8.RuneCountInString(c) > MaxCell:
			out = append(out, apperr.FieldError{Field: field, Message: fmt.Sprintf("longer than %d characters", MaxCell)})
		default:
			for _, r := range c {
				if (unicode.IsControl(r) && r != '\t') || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) {
					out = append(out, apperr.FieldError{Field: field, Message: fmt.Sprintf("holds the character U+%04X (a control or a bidirectional override): remove it", r)})
					break
				}
			}
		}
	}
	return out
}

// differing names the sample-level columns in which two rows of one sample disagree.
func differing(a, b sampling.SampleInput) []string {
	var out []string
	for _, c := range []struct {
		name string
		same bool
	}{{"site_id", a.SiteID == b.SiteID}, {"product", a.Product == b.Product}, {"grade", a.Grade == b.Grade},
		{"standard", a.Standard == b.Standard}, {"label", a.Label == b.Label}, {"sampled_at", a.SampledAt.Equal(b.SampledAt)}} {
		if !c.same {
			out = append(out, c.name)
		}
	}
	return out
}

// readHeader maps the header to columns and tells the layout: a file with parameter and value
// columns has one row per parameter.
func readHeader(header []string) ([]column, Layout, error) {
	var ve apperr.ValidationError
	cols := make([]column, len(header))
	names := map[string]bool{}
	for i, h := range header {
		n := strings.ToLower(strings.TrimSpace(h))
		cols[i] = column{name: n, label: strings.TrimSpace(h)}
		if names[n] && n != "" {
			ve.Add(Field(1, cols[i].label), "this column appears twice")
		}
		names[n] = true
	}
	layout := PerSample
	if names["parameter"] || names["value"] {
		layout = PerParameter
	}
	need := required
	if layout == PerParameter {
		need = append(slices.Clone(required), longCols...)
	}
	for _, n := range need {
		if !names[n] {
			ve.Add(Field(1, n), "missing column: the header needs "+strings.Join(need, ", "))
		}
	}
	known := append(append(slices.Clone(required), optional...), longCols...)
	for i := range cols {
		c := &cols[i]
		if slices.Contains(known, c.name) {
			continue
		}
		if layout == PerParameter {
			ve.Add(Field(1, c.label), fmt.Sprintf("unknown column; a file with one row per parameter has the columns %s (optional: %s)",
				strings.Join(need, ", "), strings.Join(optional, ", ")))
			continue
		}
		m := paramHeader.FindStringSubmatch(c.label)
		if m == nil {
			ve.Add(Field(1, c.label), `a parameter column is headed "key (unit)", "key [unit]" or "key", e.g. "sulfur (mg/kg)"`)
			continue
		}
		c.param, c.unit = strings.ToLower(m[1]), m[2]
	}
	if layout == PerSample && ve.Err() == nil && !slices.ContainsFunc(cols, func(c column) bool { return c.param != "" }) {
		ve.Add(Field(1, ""), "no parameter columns: add one per parameter, e.g. \"sulfur (mg/kg)\", or use the columns parameter, value, unit")
	}
	return cols, layout, ve.Err()
}

// notCSV explains a quoting error to someone who exported the file from a spreadsheet.
func notCSV(pe *csv.ParseError) string {
	return fmt.Sprintf("not valid CSV (line %d, character %d): %v; a cell holding a quote, a separator or a line break is written in quotes, with its quotes doubled (\"5\"\" pipe\")",
		pe.Line, pe.Column, pe.Err)
}

// fieldAt returns the index of the cell in which a parse error happened (-1 when it cannot be
// told): the separators outside quotes before the error's position, from the start of the record.
func fieldAt(data []byte, pe *csv.ParseError, comma rune) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if pe.StartLine < 1 || pe.Line < pe.StartLine || pe.Line > len(lines) {
		return -1
	}
	var rec []byte
	for l := pe.StartLine; l < pe.Line; l++ {
		rec = append(rec, lines[l-1]...)
	}
	last := lines[pe.Line-1]
	col := min(max(pe.Column-1, 0), len(last))
	rec = append(rec, last[:col]...)
	field, quoted := 0, false
	for _, r := range string(rec) {
		switch {
		case r == '"':
			quoted = !quoted
		case r == comma && !quoted:
			field++
		}
	}
	return field
}

func sniff(first []byte) rune {
	switch {
	case bytes.IndexByte(first, '\t') >= 0:
		return '\t'
	case bytes.IndexByte(first, ';') >= 0 && bytes.IndexByte(first, ',') < 0:
		return ';'
	}
	return ','
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

func number(s string) (float64, error) {
	if s == "" {
		return 0, errors.New("required: a number")
	}
	v, err := request.Float(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a finite number (use a decimal point, no thousands separator)", s)
	}
	return v, nil
}

// instant reads an RFC 3339 time, or a local time in China.
func instant(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006/01/02 15:04:05", "2006/01/02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, localtime.Shanghai()); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2026-03-05T10:30:00+08:00) or 2026-03-05 10:30 (China time)", s)
}
