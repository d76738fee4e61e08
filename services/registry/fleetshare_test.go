package registry_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/testenv"
)

// TestCleanEnergyOnTheFleetInService (task 13): the share of the fleet in service, per quota
// class and for the built-up area, that is clean- or new-energy, the vehicles still to replace
// for 80 % and 100 %, and the share month by month; a vehicle scrapped leaves the fleet from
// its status change on.
func TestCleanEnergyOnTheFleetInService(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix)
	bureau, transport, fleet := e.token(t, auth.Bureau, ""), e.token(t, auth.Transport, ""), e.token(t, auth.Fleet, "f1")
	reg := func(n, plate, colour, fuel, class, category string, builtUp bool) string {
		v := truck(t, n, plate)
		v["plate_colour"], v["fuel_type"], v["service_class"], v["category"], v["registered_on"], v["built_up_area"] = colour, fuel, class, category, "2026-01-10", builtUp
		v["gross_mass_kg"] = 3000
		if r := e.do(t, "POST", "/v1/vehicles", bureau, v); r.status != http.StatusCreated {
			t.Fatalf("register %s: %d %v", plate, r.status, r.body)
		}
		return v["vin"].(string)
	}
	reg("51", "晋FD51000", "green", "electric", "postal", "N1", true)
	reg("52", "晋FD52000", "green", "electric", "postal", "N1", true)
	reg("53", "晋F53000", "blue", "gas", "postal", "N1", true)
	reg("54", "晋F54000", "blue", "diesel", "postal", "N1", true)
	reg("55", "晋F55000", "blue", "diesel", "postal", "N1", true)
	reg("56", "晋F56000", "blue", "diesel", "postal", "N1", false) // outside the built-up area
	gone := reg("57", "晋FD57000", "green", "electric", "postal", "N1", true)
	reg("58", "晋F58000", "yellow", "diesel", "bus", "M3", true)
	if r := e.do(t, "PATCH", "/v1/vehicles/"+gone, bureau, map[string]any{"status": "scrapped", "status_reason": "报废回收证明 2026-0123"}); r.status != 200 {
		t.Fatalf("scrap: %d %v", r.status, r.body)
	}
	row := func(body map[string]any, class string) map[string]any {
		for _, c := range body["classes"].([]any) {
			if m := c.(map[string]any); m["service_class"] == class {
				return m
			}
		}
		t.Fatalf("no %s row: %v", class, body)
		return nil
	}
	r := e.do(t, "GET", "/v1/reports/clean-energy/fleet", transport, nil)
	if r.status != 200 || r.body["area"] != "built_up" || r.body["rule"] != "task 13" {
		t.Fatalf("report: %d %v", r.status, r.body)
	}
	postal := row(r.body, "postal")
	want := map[string]float64{"in_service": 5, "new_energy": 2, "clean_energy": 3, "clean_energy_share": 0.6, "target": 0.8, "to_replace_for_80": 1, "to_replace_for_100": 2}
	for k, v := range want {
		if postal[k].(float64) != v {
			t.Errorf("postal %s = %v, want %v (%v)", k, postal[k], v, postal)
		}
	}
	if postal["met"] != false || postal["measure"] != "clean_energy" {
		t.Errorf("postal: %v", postal)
	}
	bus := row(r.body, "bus")
	if bus["measure"] != "new_energy" || bus["target"].(float64) != 1 || bus["to_replace_for_100"].(float64) != 1 {
		t.Errorf("buses must all be new-energy (task 13): %v", bus)
	}
	replace := r.body["to_replace"].([]any)
	if len(replace) != 3 { // two diesel postal vans and the diesel bus
		t.Errorf("%d vehicles to replace, want 3: %v", len(replace), replace)
	}
	trend := r.body["trend"].(map[string]any)["postal"].([]any)
	last := trend[len(trend)-1].(map[string]any)
	now := time.Now().In(time.FixedZone("CST", 8*3600))
	lastMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location()).AddDate(0, 0, -1).Format("2006-01")
	if len(trend) != 12 || last["month"] != lastMonth {
		t.Errorf("trend: %d points, last %v", len(trend), last)
	}
	if last["in_service"].(float64) != 6 {
		t.Errorf("at the end of last month the scrapped van was in service: %v", last)
	}

	all := e.do(t, "GET", "/v1/reports/clean-energy/fleet?area=all", bureau, nil)
	if p := row(all.body, "postal"); p["in_service"].(float64) != 6 {
		t.Errorf("all areas: postal in service %v, want 6", p["in_service"])
	}
	if r := e.do(t, "GET", "/v1/reports/clean-energy/fleet?area=downtown", bureau, nil); r.status != 400 || fieldOf(r) != "area" {
		t.Errorf("bad area: %d %v", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/reports/clean-energy/fleet?months=99", bureau, nil); r.status != 400 || fieldOf(r) != "months" {
		t.Errorf("bad months: %d %v", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/reports/clean-energy/fleet", fleet, nil); r.status != 403 {
		t.Errorf("a fleet reads the district's report: %d", r.status)
	}
	// A fleet's change of the area is the bureau's to accept (a proposal), like the class.
	v := truck(t, "59", "晋F59000")
	v["service_class"], v["category"], v["gross_mass_kg"] = "postal", "N1", 3000
	if r := e.do(t, "POST", "/v1/vehicles", fleet, v); r.status != http.StatusCreated {
		t.Fatalf("fleet registers: %d %v", r.status, r.body)
	}
	r = e.do(t, "PATCH", "/v1/vehicles/"+v["vin"].(string), fleet, map[string]any{"built_up_area": true})
	if got := e.do(t, "GET", "/v1/vehicles/"+v["vin"].(string), bureau, nil); got.body["built_up_area"] != false {
		t.Errorf("a fleet set built_up_area itself (%d %v): %v", r.status, r.body, got.body["built_up_area"])
	}
}
