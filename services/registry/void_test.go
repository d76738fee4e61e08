package registry_test

import (
	"testing"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/testenv"
)

// TestPlatesVoidByRule (task 13): the vehicles past forced scrappage and not deregistered are
// listed without anyone compiling the list; the police declare the list void in one action; a
// vehicle not on the list makes the whole declaration refused, naming it, and changes nothing;
// only the police declare, and a fleet does not see the list.
func TestPlatesVoidByRule(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix)
	bureau, police, fleet := e.token(t, auth.Bureau, ""), e.token(t, auth.Police, ""), e.token(t, auth.Fleet, "f1")
	var past, future []string
	for i, due := range []string{"2025-06-01", "2026-01-31", "2040-01-01"} {
		body := truck(t, []string{"71", "72", "73"}[i], []string{"晋F71001", "晋F71002", "晋F71003"}[i])
		body["scrap_due"], body["fleet_id"] = due, "f1"
		if r := e.do(t, "POST", "/v1/vehicles", bureau, body); r.status != 201 {
			t.Fatalf("register = %d %v", r.status, r.body)
		}
		if due < "2030" {
			past = append(past, body["vin"].(string))
		} else {
			future = append(future, body["vin"].(string))
		}
	}
	list := e.do(t, "GET", "/v1/registry/void-candidates", police, nil)
	items, _ := list.body["items"].([]any)
	if list.status != 200 || len(items) != 2 || items[0].(map[string]any)["vin"] != past[0] || items[0].(map[string]any)["days_overdue"].(float64) < 1 {
		t.Fatalf("candidates = %d %v; want the two past their date, longest overdue first", list.status, list.body)
	}
	if r := e.do(t, "GET", "/v1/registry/void-candidates", fleet, nil); r.status != 403 {
		t.Fatalf("a fleet reads the list: %d", r.status)
	}
	// One vehicle not due: nothing changes, and it is named.
	r := e.do(t, "POST", "/v1/registry/void-declarations", police, map[string]any{"vins": []string{past[0], future[0]}, "reason": "朔公交〔2026〕12号"})
	if r.status != 400 || fieldOf(r) != "vins[1]" {
		t.Fatalf("declaration with a vehicle not due = %d %v; want 400 naming vins[1]", r.status, r.body)
	}
	if got := e.do(t, "GET", "/v1/vehicles/"+past[0], police, nil); got.body["status"] != "active" {
		t.Fatalf("a refused declaration changed %s to %v", past[0], got.body["status"])
	}
	if r := e.do(t, "POST", "/v1/registry/void-declarations", bureau, map[string]any{"vins": past, "reason": "x"}); r.status != 403 {
		t.Fatalf("the bureau declares: %d", r.status)
	}
	r = e.do(t, "POST", "/v1/registry/void-declarations", police, map[string]any{"vins": past, "reason": "朔公交〔2026〕12号"})
	if r.status != 200 || r.body["total"].(float64) != 2 {
		t.Fatalf("declaration = %d %v", r.status, r.body)
	}
	for _, vin := range past {
		if got := e.do(t, "GET", "/v1/vehicles/"+vin, police, nil); got.body["status"] != "plate_void" {
			t.Fatalf("%s after the declaration: %v", vin, got.body["status"])
		}
	}
	if list := e.do(t, "GET", "/v1/registry/void-candidates", police, nil); len(list.body["items"].([]any)) != 0 {
		t.Fatalf("declared plates still listed: %v", list.body)
	}
}
