package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/xuri/excelize/v2"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/csvout"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/problem"
	"github.com/clearsky/clearsky/libs/request"
)

type stationJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type status string

type rowJSON struct {
	ID        string          `json:"id"`
	Plate     string          `json:"plate"`
	Status    status          `json:"status"`
	NOx       float64         `json:"nox_ppm"`
	Grade     int             `json:"grade"`
	Open      bool            `json:"open"`
	At        time.Time       `json:"at"`
	Due       *request.Date   `json:"due,omitempty"`
	Station   stationJSON     `json:"station"`
	Sites     []string        `json:"sites"`
	Results   []stationJSON   `json:"results"`
	Closed    *time.Time      `json:"closed_at,omitempty"`
	Secret    string          `json:"-"`
	Extra     json.RawMessage `json:"extra,omitempty"`
	unexposed int
}

// rows makes n rows of a realistic mix: Chinese plates, negative and fractional numbers, a
// cell a spreadsheet would run as a formula every 97th row.
func rows(n int) []rowJSON {
	out := make([]rowJSON, n)
	for i := range out {
		out[i] = rowAt(i)
	}
	return out
}

func rowAt(i int) rowJSON {
	base := time.Date(2026, 12, 3, 8, 21, 5, 0, time.UTC)
	plate := fmt.Sprintf("晋A%05d", i)
	if i%97 == 3 {
		plate = "=HYPERLINK(\"http://x\")"
	}
	d := request.Date{Time: time.Date(2027, 1, 1+i%28, 0, 0, 0, 0, time.UTC)}
	return rowJSON{
		ID: fmt.Sprintf("r%07d", i), Plate: plate, Status: "open", NOx: float64(i%900) + 0.25, Grade: -10 + i%3,
		Open: i%2 == 0, At: base.Add(-time.Duration(i) * time.Minute), Due: &d,
		Station: stationJSON{ID: "st-1", Name: "太原市小店区遥感点"}, Sites: []string{"工地一", "工地二"},
		Results: []stationJSON{{ID: "x", Name: "y"}}, Secret: "do not export",
	}
}

// generated pages over n rows made as each page is read, as a store decodes each page: nothing
// but the page in hand is in memory.
func generated(n int) Lister[rowJSON] {
	return func(_ context.Context, after string, limit int) ([]rowJSON, string, error) {
		start := 0
		if after != "" {
			k, _ := strconv.Atoi(strings.TrimPrefix(after, "r"))
			start = k + 1
		}
		end := min(start+limit, n)
		items := make([]rowJSON, 0, end-start)
		for i := start; i < end; i++ {
			items = append(items, rowAt(i))
		}
		next := ""
		if end < n {
			next = request.EncodeCursor(items[len(items)-1].ID)
		}
		return items, next, nil
	}
}

// lister pages over xs like a store would: after is the id of the last item served.
func lister(xs []rowJSON, fail func(page int) error) Lister[rowJSON] {
	page := 0
	return func(_ context.Context, after string, limit int) ([]rowJSON, string, error) {
		page++
		if fail != nil {
			if err := fail(page); err != nil {
				return nil, "", err
			}
		}
		start := 0
		if after != "" {
			n, _ := strconv.Atoi(strings.TrimPrefix(after, "r"))
			start = n + 1
		}
		end := min(start+limit, len(xs))
		items := xs[start:end]
		next := ""
		if end < len(xs) {
			next = request.EncodeCursor(items[len(items)-1].ID)
		}
		return items, next, nil
	}
}

func serve(t testing.TB, target string, l Lister[rowJSON]) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	serveTo(t, w, target, l)
	return w
}

func serveTo(t testing.TB, w http.ResponseWriter, target string, l Lister[rowJSON]) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(func(c *gin.Context) {
		defer func() {
			if rec := recover(); rec != nil {
				if rec != http.ErrAbortHandler {
					t.Errorf("panic %v, want http.ErrAbortHandler", rec)
				}
				c.Writer.Header().Set("X-Aborted", "yes")
			}
		}()
		c.Next()
	})
	r.GET("/list", func(c *gin.Context) {
		if err := List(c, "samples", l); err != nil {
			problem.Write(c, nil, err)
		}
	})
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
}

// discard is a response that keeps nothing, so that a benchmark's heap is the export's own.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

func TestCSVIsTheWholeListWithItsColumns(t *testing.T) {
	xs := rows(1234)
	w := serve(t, "/list?format=csv", lister(xs, nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("status %d, type %q: %s", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	if cd := w.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="samples-`) || !strings.HasSuffix(cd, `.csv"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	body := w.Body.String()
	if !strings.HasPrefix(body, csvout.BOM) {
		t.Fatal("a CSV export must start with the UTF-8 BOM, for Excel")
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, csvout.BOM))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := "id,plate,status,nox_ppm,grade,open,at,due,station.id,station.name,sites,results,closed_at,extra"
	if got := strings.Join(recs[0], ","); got != wantHeader {
		t.Fatalf("header\n %s\nwant\n %s", got, wantHeader)
	}
	if len(recs) != 1+len(xs) {
		t.Fatalf("%d rows, want %d (every page)", len(recs)-1, len(xs))
	}
	r0 := recs[1]
	want0 := []string{"r0000000", "晋A00000", "open", "0.25", "-10", "true", "2026-12-03 16:21:05", "2027-01-01", "st-1", "太原市小店区遥感点", "工地一; 工地二", `[{"id":"x","name":"y"}]`, "", ""}
	if strings.Join(r0, "|") != strings.Join(want0, "|") {
		t.Errorf("row 0\n %q\nwant\n %q", r0, want0)
	}
	if got := recs[4][1]; got != `'=HYPERLINK("http://x")` {
		t.Errorf("a formula cell must be neutralised: %q", got)
	}
	if strings.Contains(body, "do not export") {
		t.Error(`a json:"-" field was exported`)
	}
}

func TestXLSXOpensInExcelize(t *testing.T) {
	xs := rows(700)
	w := serve(t, "/list?format=xlsx", lister(xs, nil))
	if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Type"), "spreadsheetml") {
		t.Fatalf("status %d, type %q", w.Code, w.Header().Get("Content-Type"))
	}
	f, err := excelize.OpenReader(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1+len(xs) || got[0][0] != "id" || got[1][1] != "晋A00000" || got[1][9] != "太原市小店区遥感点" {
		t.Fatalf("%d rows; first %q %q", len(got), got[0], got[1])
	}
	if got[4][1] != `'=HYPERLINK("http://x")` {
		t.Errorf("a formula cell must be neutralised in XLSX too: %q", got[4][1])
	}
	typ, err := f.GetCellType(sheet, "E2")
	if err != nil || (typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset) {
		t.Errorf("grade must be a number cell (no type, or n), got %v %v", typ, err)
	}
	if v, _ := f.GetCellValue(sheet, "E2"); v != "-10" {
		t.Errorf("grade %q, want -10", v)
	}
}

func TestJSONIsOnePage(t *testing.T) {
	xs := rows(120)
	w := serve(t, "/list?limit=50", lister(xs, nil))
	var out struct {
		Items      []rowJSON `json:"items"`
		NextCursor string    `json:"next_cursor"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out.Items) != 50 || out.NextCursor == "" {
		t.Fatalf("%d items, cursor %q, %v: %s", len(out.Items), out.NextCursor, err, w.Body.String())
	}
	w = serve(t, "/list?limit=50&cursor="+out.NextCursor, lister(xs, nil))
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out.Items) != 50 || out.Items[0].ID != "r0000050" {
		t.Fatalf("second page: %v %s", err, w.Body.String())
	}
	w = serve(t, "/list", lister(nil, nil))
	if strings.TrimSpace(w.Body.String()) != `{"items":[],"next_cursor":""}` {
		t.Errorf("an empty list: %s", w.Body.String())
	}
}

func TestBadFormatOrFirstPageIsAProblem(t *testing.T) {
	w := serve(t, "/list?format=pdf", lister(rows(3), nil))
	if w.Code != 400 || !strings.Contains(w.Body.String(), `"format"`) || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("format=pdf: %d %s", w.Code, w.Body.String())
	}
	refused := fmt.Errorf("site %w", apperr.ErrForbidden)
	w = serve(t, "/list?format=csv", lister(rows(3), func(int) error { return refused }))
	if w.Code != 403 || strings.HasPrefix(w.Body.String(), csvout.BOM) {
		t.Errorf("a refused first page must be a problem, not a file: %d %q", w.Code, w.Body.String())
	}
}

func TestAFailurePartWayBreaksTheFile(t *testing.T) {
	for _, f := range []string{"csv", "xlsx"} {
		w := serve(t, "/list?format="+f, lister(rows(1500), func(page int) error {
			if page == 3 {
				return errors.New("store down")
			}
			return nil
		}))
		if w.Header().Get("X-Aborted") != "yes" {
			t.Errorf("%s: a failure after the file started must abort the response, got %d with %d bytes", f, w.Code, w.Body.Len())
		}
	}
}

func TestAnExportStopsAtItsMostRows(t *testing.T) {
	defer func(m int) { mostRows[CSV] = m }(mostRows[CSV])
	mostRows[CSV] = 1200
	w := serve(t, "/list?format=csv", lister(rows(1500), nil))
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(w.Body.String(), csvout.BOM))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+1200+1 || !strings.Contains(recs[len(recs)-1][0], "only the first 1200 rows") {
		t.Fatalf("%d records, last %q", len(recs), recs[len(recs)-1])
	}
}

func TestRowsOfAReport(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	report := struct {
		Month string    `json:"month"`
		Rows  []rowJSON `json:"rows"`
	}{"2026-11", rows(3)}
	r.GET("/report", func(c *gin.Context) {
		if err := Rows(c, "report", report, report.Rows); err != nil {
			problem.Write(c, nil, err)
		}
	})
	for target, want := range map[string]string{"/report": `"month":"2026-11"`, "/report?format=csv": "晋A00002"} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: %d %s", target, w.Code, w.Body.String())
		}
	}
}

func TestChinaTimeAndMissingValues(t *testing.T) {
	cols := columnsOf[rowJSON]()
	cells := make([]any, len(cols))
	cols.cells(rowJSON{At: time.Date(2026, 12, 31, 20, 0, 0, 0, time.UTC)}, cells)
	if cells[6] != "2027-01-01 04:00:00" {
		t.Errorf("times are China time: %v", cells[6])
	}
	if cells[7] != nil || cells[12] != nil {
		t.Errorf("absent pointers are empty cells: %v %v", cells[7], cells[12])
	}
	if localtime.Shanghai() == nil {
		t.Fatal("no China time zone")
	}
}

// The export benchmarks: 10,000 and 100,000 rows of a realistic mix, made page by page as a
// store decodes them, through List, as CSV and XLSX, beside
// the baseline of the same rows written by hand with encoding/csv (no reflection, no paging).
// Peak heap is sampled while the export runs. See docs/performance.md.
func BenchmarkExport(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, f := range []string{"baseline-csv", "csv", "xlsx"} {
			b.Run(fmt.Sprintf("%s/rows=%d", f, n), func(b *testing.B) { benchExport(b, f, n) })
		}
	}
}

func benchExport(b *testing.B, f string, n int) {
	var peak uint64
	for b.Loop() {
		stop := samplePeak(&peak)
		if f == "baseline-csv" {
			handWritten(io.Discard, n)
		} else {
			w := &discard{h: http.Header{}, code: 200}
			serveTo(b, w, "/list?format="+f, generated(n))
			if w.code != 200 {
				b.Fatal(w.code)
			}
		}
		stop()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// handWritten is the baseline: the same rows, made the same way, written by hand.
func handWritten(w io.Writer, n int) {
	cw := csv.NewWriter(w)
	loc := localtime.Shanghai()
	for i := range n {
		x := rowAt(i)
		_ = cw.Write([]string{x.ID, csvout.Neutralise(x.Plate), string(x.Status), strconv.FormatFloat(x.NOx, 'f', -1, 64),
			strconv.Itoa(x.Grade), strconv.FormatBool(x.Open), x.At.In(loc).Format(TimeLayout), x.Due.Format(time.DateOnly),
			x.Station.ID, x.Station.Name, strings.Join(x.Sites, "; "), `[{"id":"x","name":"y"}]`, "", ""})
	}
	cw.Flush()
}

// samplePeak records into peak the most heap in use, above what was in use at the start (the
// rows themselves), every 5 ms until stop is called.
func samplePeak(peak *uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base := m.HeapInuse
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > base {
				*peak = max(*peak, m.HeapInuse-base)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}
