package registry_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/csvout"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// TestExportVehicles: the vehicle list as CSV and XLSX is the whole list (several pages of the
// store), with the list's filters and scoping: a fleet exports only its own vehicles, and
// Chinese plates come through intact in both formats.
func TestExportVehicles(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix)
	fleet1, fleet2, bureau := e.token(t, auth.Fleet, "f1"), e.token(t, auth.Fleet, "f2"), e.token(t, auth.Bureau, "")

	defer func(n int) { export.PageSize = n }(export.PageSize)
	export.PageSize = 50
	const own, others = 130, 7
	var wg sync.WaitGroup
	errs := make(chan string, own+others)
	sem := make(chan struct{}, 4)
	for i := range own + others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			tok := fleet1
			if i >= own {
				tok = fleet2
			}
			v := truck(t, "01", fmt.Sprintf("晋F%05d", i))
			v["vin"] = vinOf(t, i)
			if r := e.do(t, "POST", "/v1/vehicles", tok, v); r.status != http.StatusCreated {
				errs <- fmt.Sprintf("register %d: %d %v", i, r.status, r.body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Fatal(msg)
	}

	r := e.Do(t, "GET", "/v1/vehicles?format=csv", fleet1, nil)
	if r.Status != 200 || r.ContentType != "text/csv; charset=utf-8" || !strings.HasPrefix(r.Raw, csvout.BOM) {
		t.Fatalf("CSV export: %d %s %.200q", r.Status, r.ContentType, r.Raw)
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(r.Raw, csvout.BOM))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := index(recs[0])
	if len(recs)-1 != own {
		t.Fatalf("fleet f1 exported %d vehicles, want its %d (every page, none of f2's)", len(recs)-1, own)
	}
	plates := map[string]bool{}
	for _, rec := range recs[1:] {
		if rec[col["fleet_id"]] != "f1" {
			t.Fatalf("f1's export holds a vehicle of %q", rec[col["fleet_id"]])
		}
		plates[rec[col["plate"]]] = true
	}
	if !plates["晋F00000"] || !plates[fmt.Sprintf("晋F%05d", own-1)] || len(plates) != own {
		t.Fatalf("Chinese plates not intact or not all there: %d distinct", len(plates))
	}

	r = e.Do(t, "GET", "/v1/vehicles?format=xlsx&fleet_id=f2", bureau, nil)
	if r.Status != 200 || !strings.Contains(r.ContentType, "spreadsheetml") {
		t.Fatalf("XLSX export: %d %s", r.Status, r.ContentType)
	}
	f, err := excelize.OpenReader(bytes.NewReader([]byte(r.Raw)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	xcol := index(rows[0])
	if len(rows)-1 != others {
		t.Fatalf("the bureau's export filtered to f2 holds %d rows, want %d", len(rows)-1, others)
	}
	for _, row := range rows[1:] {
		if row[xcol["fleet_id"]] != "f2" || !strings.HasPrefix(row[xcol["plate"]], "晋F") {
			t.Fatalf("row %q", row)
		}
		if i := xcol["owner"]; i < len(row) && row[i] != "" {
			t.Fatalf("the bureau's list leaves the owner's name out (its reads are audited one by one), so must its export: %q", row)
		}
	}

	if r := e.Do(t, "GET", "/v1/vehicles?format=xlsx&fleet_id=f1", fleet2, nil); r.Status != http.StatusForbidden {
		t.Errorf("a fleet exporting another fleet's list: %d, want 403 as for the list", r.Status)
	}
	e.Do(t, "GET", "/v1/vehicles?format=pdf", fleet1, nil).Refused(t, "format")
	if r := e.Do(t, "GET", "/v1/reports/phase-out?format=csv&list="+url.QueryEscape("diesel_truck_china3"), bureau, nil); r.Status != 200 || !strings.HasPrefix(r.Raw, csvout.BOM) {
		t.Errorf("a report as CSV: %d %.200s", r.Status, r.Raw)
	}
}

func index(header []string) map[string]int {
	out := make(map[string]int, len(header))
	for i, h := range header {
		out[h] = i
	}
	return out
}

func vinOf(t *testing.T, i int) string {
	vin, err := vehicleid.WithCheckDigit(fmt.Sprintf("LZZ1CLVB0N%07d", i))
	if err != nil {
		t.Fatal(err)
	}
	return vin
}
