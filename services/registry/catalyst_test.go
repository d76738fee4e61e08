package registry_test

import (
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/testenv"
)

// TestTaxiCatalysts (task 15): a taxi company records its taxis' converter replacements; the
// bureau sets the interval, as a new version with its reason; the report shows the taxis overdue
// by the interval in force; another fleet cannot record on a taxi not its own, and a truck takes
// no record.
func TestTaxiCatalysts(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix)
	bureau, fleet1, fleet2 := e.token(t, auth.Bureau, ""), e.token(t, auth.Fleet, "f1"), e.token(t, auth.Fleet, "f2")
	var taxis []string
	for i, n := range []string{"81", "82"} {
		body := truck(t, n, []string{"晋FT8101", "晋FT8102"}[i])
		body["category"], body["service_class"], body["fuel_type"], body["emission_standard"] = "M1", "taxi", "gasoline", "VIb"
		body["registered_on"], body["fleet_id"] = "2022-01-10", "f1"
		delete(body, "gross_mass_kg")
		if r := e.do(t, "POST", "/v1/vehicles", bureau, body); r.status != 201 {
			t.Fatalf("register taxi = %d %v", r.status, r.body)
		}
		taxis = append(taxis, body["vin"].(string))
	}
	lorry := truck(t, "83", "晋F83001")
	lorry["fleet_id"] = "f1"
	if r := e.do(t, "POST", "/v1/vehicles", bureau, lorry); r.status != 201 {
		t.Fatalf("register truck = %d %v", r.status, r.body)
	}
	recent := time.Now().AddDate(0, -3, 0).Format(time.DateOnly)
	if r := e.do(t, "POST", "/v1/vehicles/"+taxis[0]+"/catalyst-replacements", fleet1, map[string]any{"replaced_on": recent, "shop": "朔州市汽修一厂"}); r.status != 201 {
		t.Fatalf("record = %d %v", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/vehicles/"+taxis[0]+"/catalyst-replacements", fleet1, map[string]any{"replaced_on": recent, "shop": "x"}); r.status != 409 {
		t.Fatalf("the same day twice = %d", r.status)
	}
	if r := e.do(t, "POST", "/v1/vehicles/"+taxis[1]+"/catalyst-replacements", fleet2, map[string]any{"replaced_on": recent, "shop": "x"}); r.status != 404 {
		t.Fatalf("another fleet's taxi = %d", r.status)
	}
	if r := e.do(t, "POST", "/v1/vehicles/"+lorry["vin"].(string)+"/catalyst-replacements", fleet1, map[string]any{"replaced_on": recent, "shop": "x"}); r.status != 400 || fieldOf(r) != "vin" {
		t.Fatalf("a truck = %d %v", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/vehicles/"+taxis[1]+"/catalyst-replacements", fleet1, map[string]any{"replaced_on": "2099-01-01", "shop": "x"}); r.status != 400 || fieldOf(r) != "replaced_on" {
		t.Fatalf("a future day = %d %v", r.status, r.body)
	}
	// The default interval (24 months): the taxi without a record, registered in 2022, is overdue.
	rep := e.do(t, "GET", "/v1/reports/taxi-catalysts?overdue=true", bureau, nil)
	items, _ := rep.body["items"].([]any)
	if rep.status != 200 || len(items) != 1 || items[0].(map[string]any)["vin"] != taxis[1] || rep.body["interval_months"].(float64) != 24 {
		t.Fatalf("overdue at 24 months = %d %v", rep.status, rep.body)
	}
	// The bureau shortens it to 2 months: the taxi replaced 3 months ago is overdue too.
	if r := e.do(t, "PUT", "/v1/registry/settings/taxi-catalyst-interval", fleet1, map[string]any{"months": 2, "reason": "x"}); r.status != 403 {
		t.Fatalf("a fleet sets the interval = %d", r.status)
	}
	if r := e.do(t, "PUT", "/v1/registry/settings/taxi-catalyst-interval", bureau, map[string]any{"months": 0, "reason": "x"}); r.status != 400 || fieldOf(r) != "months" {
		t.Fatalf("0 months = %d %v", r.status, r.body)
	}
	if r := e.do(t, "PUT", "/v1/registry/settings/taxi-catalyst-interval", bureau, map[string]any{"months": 2, "reason": "区环保局 2026 年第 3 号通知"}); r.status != 200 || r.body["version"].(float64) != 1 {
		t.Fatalf("set the interval = %d %v", r.status, r.body)
	}
	rep = e.do(t, "GET", "/v1/reports/taxi-catalysts?overdue=true", bureau, nil)
	if items, _ := rep.body["items"].([]any); len(items) != 2 {
		t.Fatalf("overdue at 2 months = %v", rep.body)
	}
	iv := e.do(t, "GET", "/v1/registry/settings/taxi-catalyst-interval", bureau, nil)
	if hist, _ := iv.body["history"].([]any); iv.status != 200 || len(hist) != 1 || iv.body["current"].(map[string]any)["months"].(float64) != 2 {
		t.Fatalf("interval history = %d %v", iv.status, iv.body)
	}
	// A fleet sees its own taxis only.
	if own := e.do(t, "GET", "/v1/reports/taxi-catalysts", fleet2, nil); own.status != 200 || len(own.body["items"].([]any)) != 0 {
		t.Fatalf("another fleet's report = %d %v", own.status, own.body)
	}
}
