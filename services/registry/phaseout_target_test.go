package registry_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/testenv"
)

// TestPhaseOutWithTargets (task 13): the bureau sets the year's target of listed vehicles to
// retire, as versions with their reasons; the report counts the year's retirements of listed
// vehicles month by month, the vehicles left and those still to go; a vehicle not on the lists
// is not counted; a fleet neither sets nor reads it.
func TestPhaseOutWithTargets(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix)
	bureau, police, fleet := e.token(t, auth.Bureau, ""), e.token(t, auth.Police, ""), e.token(t, auth.Fleet, "f1")
	year := time.Now().In(localtime.Shanghai()).Year()
	target := fmt.Sprintf("/v1/registry/settings/phase-out-target/%d", year)
	if r := e.do(t, "PUT", target, fleet, map[string]any{"vehicles": 3, "reason": "x"}); r.status != 403 {
		t.Fatalf("a fleet sets the target = %d", r.status)
	}
	if r := e.do(t, "PUT", "/v1/registry/settings/phase-out-target/1999", bureau, map[string]any{"vehicles": 3, "reason": "x"}); r.status != 400 || fieldOf(r) != "year" {
		t.Fatalf("a year before the plan = %d %v", r.status, r.body)
	}
	if r := e.do(t, "PUT", target, bureau, map[string]any{"vehicles": 5, "reason": "区政府 2026 年淘汰计划"}); r.status != 200 || r.body["version"].(float64) != 1 {
		t.Fatalf("set the target = %d %v", r.status, r.body)
	}
	if r := e.do(t, "PUT", target, bureau, map[string]any{"vehicles": 3, "reason": "调整"}); r.status != 200 || r.body["version"].(float64) != 2 {
		t.Fatalf("change the target = %d %v", r.status, r.body)
	}
	// Three China III diesel trucks (listed), one China VI (not listed); two listed and the
	// unlisted one are scrapped.
	var vins []string
	for i, std := range []string{"III", "III", "III", "VIa"} {
		body := truck(t, fmt.Sprintf("9%d", i), fmt.Sprintf("晋F9100%d", i))
		body["emission_standard"], body["fleet_id"] = std, "f1"
		if r := e.do(t, "POST", "/v1/vehicles", bureau, body); r.status != 201 {
			t.Fatalf("register = %d %v", r.status, r.body)
		}
		vins = append(vins, body["vin"].(string))
	}
	for _, vin := range []string{vins[0], vins[1], vins[3]} {
		if r := e.do(t, "PATCH", "/v1/vehicles/"+vin, police, map[string]any{"status": "scrapped", "status_reason": "回收拆解"}); r.status != 200 {
			t.Fatalf("scrap = %d %v", r.status, r.body)
		}
	}
	rep := e.do(t, "GET", fmt.Sprintf("/v1/reports/phase-out/progress?year=%d", year), bureau, nil)
	if rep.status != 200 || rep.body["retired"].(float64) != 2 || rep.body["left"].(float64) != 1 || rep.body["to_go"].(float64) != 1 {
		t.Fatalf("progress = %d %v; want 2 retired, 1 left, 1 to go of the target 3", rep.status, rep.body)
	}
	month := int(time.Now().In(localtime.Shanghai()).Month())
	if m := rep.body["months"].([]any)[month-1].(map[string]any); m["retired"].(float64) != 2 || m["cumulative"].(float64) != 2 {
		t.Fatalf("this month = %v", m)
	}
	if h := e.do(t, "GET", target, bureau, nil); len(h.body["history"].([]any)) != 2 || h.body["current"].(map[string]any)["vehicles"].(float64) != 3 {
		t.Fatalf("target history = %v", h.body)
	}
	if r := e.do(t, "GET", "/v1/reports/phase-out/progress", fleet, nil); r.status != 403 {
		t.Fatalf("a fleet reads the progress = %d", r.status)
	}
}
