// Package export answers ClearSky's list and report routes in the format the caller asks for:
// JSON (the default, one page), or with format=csv or format=xlsx the whole list, with the same
// filters and the same scoping, as a file to download.
//
// A file is streamed: the list is read a page at a time (PageSize items) through the route's own
// lister, and each page is written out before the next is read, so an export of any length holds
// one page in memory (XLSX rows go through excelize's stream writer, which spills to a temporary
// file). The columns are the JSON answer's own fields, in its order and under its names, nested
// objects flattened with dots ("station.name"); lists of plain values are joined with "; ", lists
// of objects written as their JSON. Times are written in China time, as "2026-12-03 16:21:05".
// Every text cell goes through libs/csvout's formula neutralising, CSV files start with a UTF-8
// BOM so that Excel reads Chinese text, and numbers stay numbers.
//
// Errors: the first page is read before anything is written, so a bad filter or a refused caller
// gets its problem+json as with JSON. A failure after the file has started aborts the response
// (the client sees a broken transfer, never a file that looks complete). An export stops at
// MaxRows rows (MaxXLSXRows for XLSX) and then ends with a row that says so.
package export

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/xuri/excelize/v2"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/csvout"
	"github.com/clearsky/clearsky/libs/cursor"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/request"
)

// Format is what a list route answers in.
type Format string

// The formats.
const (
	JSON Format = "json"
	CSV  Format = "csv"
	XLSX Format = "xlsx"
)

// Param is the query parameter that asks for a format.
const Param = "format"

// PageSize is how many items an export reads at a time; MaxRows is where a CSV export stops and
// MaxXLSXRows where an XLSX one does. excelize zips a workbook in memory before it is sent
// (about 0.4 KB a row, see docs/performance.md), so XLSX stops sooner; CSV holds one page.
const (
	MaxRows     = 1_000_000
	MaxXLSXRows = 200_000
)

// PageSize is a variable so that a service's test can export a list of several pages without
// storing thousands of records.
var PageSize = request.MaxLimit

// mostRows is where an export stops, by format (a variable so that a test can lower it).
var mostRows = map[Format]int{CSV: MaxRows, XLSX: MaxXLSXRows}

// Requested reads the format parameter: JSON when absent.
func Requested(c *gin.Context) (Format, error) {
	switch f := Format(c.Query(Param)); f {
	case "", JSON:
		return JSON, nil
	case CSV, XLSX:
		return f, nil
	}
	return "", apperr.Invalid(Param, "must be json, csv or xlsx")
}

// Lister reads one page of a list: up to limit items after the position after ("" for the
// start; the sort key request.Page decodes), and the next page's cursor as the JSON answer
// carries it (request.EncodeCursor'd; "" at the end).
type Lister[T any] func(ctx context.Context, after string, limit int) (items []T, next string, err error)

// listJSON is a list route's JSON answer.
type listJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// List answers a list route: one page as JSON ({"items", "next_cursor"}, with the limit and
// cursor parameters: request.DefaultLimit items unless the caller asks for up to
// request.MaxLimit), or the whole list as a file named name.
func List[T any](c *gin.Context, name string, list Lister[T]) error {
	return ListPaged(c, name, request.DefaultLimit, request.MaxLimit, list)
}

// ListPaged is List for a route whose JSON pages hold def items unless the caller asks for up
// to maxLimit.
func ListPaged[T any](c *gin.Context, name string, def, maxLimit int, list Lister[T]) error {
	f, err := Requested(c)
	if err != nil {
		return err
	}
	if f == JSON {
		limit, err := request.Limit(c, def, maxLimit)
		if err != nil {
			return err
		}
		after, err := request.Cursor(c)
		if err != nil {
			return err
		}
		items, next, err := list(c.Request.Context(), after, limit)
		if err != nil {
			return err
		}
		if items == nil {
			items = []T{}
		}
		c.JSON(http.StatusOK, listJSON[T]{Items: items, NextCursor: next})
		return nil
	}
	if _, err := request.Cursor(c); err != nil {
		return err
	}
	ctx := c.Request.Context()
	first, next, err := list(ctx, "", PageSize)
	if err != nil {
		return err
	}
	most := mostRows[f]
	pages := func(yield func([]T) error) error {
		items := first
		for n := 0; ; {
			cut := len(items) > most-n
			if cut {
				items = items[:most-n]
			}
			if err := yield(items); err != nil {
				return err
			}
			n += len(items)
			if cut || (n >= most && next != "") {
				return errTruncated{most}
			}
			if next == "" {
				return nil
			}
			after, err := decodeCursor(next)
			if err != nil {
				return err
			}
			if items, next, err = list(ctx, after, PageSize); err != nil {
				return err
			}
		}
	}
	return write(c, f, name, columnsOf[T](), func(emit func(T) error) error {
		return pages(func(items []T) error {
			for _, it := range items {
				if err := emit(it); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// Rows answers a report route: v as JSON, or the report's rows as a file named name.
func Rows[T any](c *gin.Context, name string, v any, rows []T) error {
	f, err := Requested(c)
	if err != nil {
		return err
	}
	if f == JSON {
		c.JSON(http.StatusOK, v)
		return nil
	}
	return write(c, f, name, columnsOf[T](), func(emit func(T) error) error {
		for _, r := range rows {
			if err := emit(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// errTruncated ends an export that reached its most rows.
type errTruncated struct{ most int }

func (e errTruncated) Error() string {
	return fmt.Sprintf("only the first %d rows are exported: narrow the filters to export the rest", e.most)
}

func decodeCursor(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("export: the list handed out a cursor it cannot read: %w", err)
	}
	return string(b), nil
}

// filename is name and today's China date: "vehicles-20261204.csv".
func filename(name string, f Format) string {
	return name + "-" + time.Now().In(localtime.Shanghai()).Format("20060102") + "." + string(f)
}

// write streams a file of format f: the header, then every row each produces.
func write[T any](c *gin.Context, f Format, name string, cols columns, each func(emit func(T) error) error) error {
	w := c.Writer
	disposition := `attachment; filename="` + filename(name, f) + `"`
	var sink rowSink
	var err error
	switch f {
	case CSV:
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", disposition)
		sink = &csvSink{w: csvout.New(w)}
	case XLSX:
		sink, err = newXLSXSink()
		if err != nil {
			return err
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := sink.header(cols.names()); err != nil {
		return abort(err)
	}
	cells := make([]any, len(cols))
	err = each(func(item T) error {
		cols.cells(item, cells)
		return sink.row(cells)
	})
	var truncated errTruncated
	if errors.As(err, &truncated) {
		note := make([]any, max(len(cols), 1))
		note[0] = "(" + truncated.Error() + ")"
		err = sink.row(note)
	}
	if err != nil {
		_ = sink.close(io.Discard)
		return abort(err)
	}
	if f == XLSX {
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		w.Header().Set("Content-Disposition", disposition)
		w.WriteHeader(http.StatusOK)
	}
	if err := sink.close(w); err != nil {
		return abort(err)
	}
	return nil
}

// abort breaks the response of an export that failed part-way: net/http closes the connection
// without finishing the body, so the client never mistakes part of a list for all of it.
func abort(err error) error {
	slog.Error("export_aborted", "err", err.Error())
	panic(http.ErrAbortHandler)
}

// rowSink is one file format.
type rowSink interface {
	header(names []string) error
	row(cells []any) error
	close(w io.Writer) error
}

type csvSink struct {
	w   *csvout.Writer
	buf []string
}

func (s *csvSink) header(names []string) error { return s.w.Write(names) }

func (s *csvSink) row(cells []any) error {
	s.buf = s.buf[:0]
	for _, v := range cells {
		s.buf = append(s.buf, cellText(v))
	}
	return s.w.WriteCells(s.buf)
}

func (s *csvSink) close(io.Writer) error { return s.w.Flush() }

// xlsxSink writes one sheet through excelize's stream writer: rows past its in-memory buffer
// go to a temporary file, and the workbook is zipped straight into the response at the end.
type xlsxSink struct {
	f   *excelize.File
	sw  *excelize.StreamWriter
	n   int
	buf []any
}

const sheet = "Sheet1"

func newXLSXSink() (*xlsxSink, error) {
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &xlsxSink{f: f, sw: sw}, nil
}

func (s *xlsxSink) header(names []string) error {
	row := make([]any, len(names))
	for i, n := range names {
		row[i] = n
	}
	return s.put(row)
}

func (s *xlsxSink) row(cells []any) error {
	s.buf = s.buf[:0]
	for _, v := range cells {
		switch v.(type) {
		case string:
			s.buf = append(s.buf, csvout.Neutralise(v.(string)))
		case nil:
			s.buf = append(s.buf, nil)
		default:
			s.buf = append(s.buf, v)
		}
	}
	return s.put(s.buf)
}

func (s *xlsxSink) put(row []any) error {
	s.n++
	cell, err := excelize.CoordinatesToCellName(1, s.n)
	if err != nil {
		return err
	}
	return s.sw.SetRow(cell, row)
}

func (s *xlsxSink) close(w io.Writer) error {
	defer s.f.Close()
	if err := s.sw.Flush(); err != nil {
		return err
	}
	if w == io.Discard {
		return nil
	}
	return s.f.Write(w)
}

// cellText is a cell as CSV text: numbers and booleans as Go writes them (not neutralised: a
// number cannot be a formula), text neutralised.
func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return csvout.Neutralise(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	default:
		return fmt.Sprint(x)
	}
}

// Each converts a page of records to their JSON form.
func Each[S, T any](xs []S, conv func(S) T) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = conv(x)
	}
	return out
}

// Keyed answers a list route whose store pages by a plain sort key: list returns a page and the
// key of its last item ("" at the end), which Keyed hands out as the opaque next cursor; conv
// gives each record's JSON form.
func Keyed[S, T any](c *gin.Context, name string, list func(ctx context.Context, after string, limit int) ([]S, string, error), conv func(S) T) error {
	return List(c, name, func(ctx context.Context, after string, limit int) ([]T, string, error) {
		xs, next, err := list(ctx, after, limit)
		if err != nil {
			return nil, "", err
		}
		return Each(xs, conv), request.EncodeCursor(next), nil
	})
}

// Sorted answers a list route whose store pages newest first on a cursor.Key (a time and an
// id): list reads the page after a key, key gives a record's, and conv its JSON form. The next
// cursor is the last record's key when the page is full.
func Sorted[S, T any](c *gin.Context, name string, list func(ctx context.Context, after cursor.Key, limit int) ([]S, error), key func(S) cursor.Key, conv func(S) T) error {
	return SortedPaged(c, name, request.DefaultLimit, request.MaxLimit, list, key, conv)
}

// SortedPaged is Sorted for a route whose JSON pages hold def records unless the caller asks
// for up to maxLimit.
func SortedPaged[S, T any](c *gin.Context, name string, def, maxLimit int, list func(ctx context.Context, after cursor.Key, limit int) ([]S, error), key func(S) cursor.Key, conv func(S) T) error {
	return ListPaged(c, name, def, maxLimit, func(ctx context.Context, raw string, limit int) ([]T, string, error) {
		after, err := cursor.Parse(raw)
		if err != nil {
			return nil, "", err
		}
		xs, err := list(ctx, after, limit)
		if err != nil {
			return nil, "", err
		}
		return Each(xs, conv), request.NextCursor(xs, limit, key), nil
	})
}
