package notify_test

import (
	"testing"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/testenv"
)

// TestAuthorisationMatrix: every route of openapi.yaml, without a token, as the organisation
// itself, as another organisation, as an authority without tenant, as the bureau, as the
// platform's administrator and as a service, answers the status expected. A route added to the
// contract without entries here fails the test.
func TestAuthorisationMatrix(t *testing.T) {
	e := newEnv(t, fast())
	own, other, police := e.adminToken(t, auth.Fleet, "fleet-a"), e.adminToken(t, auth.Station, "st-1"), e.adminToken(t, auth.Police, "")
	bureau, admin, system := e.adminToken(t, auth.Bureau, ""), e.Token(t, auth.Admin, ""), e.Token(t, auth.System, "")
	person := e.Token(t, auth.Fleet, "fleet-a") // of the organisation, not its administrator
	rcv := newReceiver(t)
	body := map[string]any{"url": rcv.URL, "events": []string{"obd.alarm.opened"}}
	mk := func() string {
		r := e.Do(t, "POST", "/v1/organisations/fleet-a/webhooks", own, body)
		if r.Status != 201 {
			t.Fatalf("subscribe: %d %s", r.Status, r.Raw)
		}
		rcv.mu.Lock()
		rcv.secret = r.Body["secret"].(string)
		rcv.mu.Unlock()
		return r.Body["id"].(string)
	}
	sub := mk()
	ev := e.emit(t, events.OBDAlarmOpened, []string{"fleet-a"}, nil)
	eventually(t, "delivered", func() bool { ids, _ := rcv.received(); return len(ids) == 1 })
	w := "/v1/organisations/fleet-a/webhooks"
	s := w + "/" + sub
	del := s + "/deliveries/" + sub + "." + ev + "/replay"
	read := map[string]any{"ids": []string{ev}}
	type call struct {
		who, token, method, path string
		body                     any
		want                     int
	}
	cases := map[string][]call{
		"POST /v1/organisations/{id}/webhooks": {{"none", "", "POST", w, body, 401}, {"own", own, "POST", w, body, 201}, {"own person, no admin", person, "POST", w, body, 403}, {"other", other, "POST", w, body, 404},
			{"police on its own", police, "POST", "/v1/organisations/police/webhooks", body, 201}, {"bureau", bureau, "POST", w, body, 201},
			{"admin", admin, "POST", w, body, 403}, {"system", system, "POST", w, body, 403}},
		"GET /v1/organisations/{id}/webhooks": {{"none", "", "GET", w, nil, 401}, {"own", own, "GET", w, nil, 200}, {"own person", person, "GET", w, nil, 200}, {"other", other, "GET", w, nil, 404},
			{"police", police, "GET", w, nil, 404}, {"bureau", bureau, "GET", w, nil, 200}, {"admin", admin, "GET", w, nil, 200}, {"system", system, "GET", w, nil, 403}},
		"GET /v1/organisations/{id}/webhooks/{sub}": {{"none", "", "GET", s, nil, 401}, {"own", own, "GET", s, nil, 200}, {"other", other, "GET", s, nil, 404},
			{"bureau", bureau, "GET", s, nil, 200}, {"admin", admin, "GET", s, nil, 200}},
		"GET /v1/organisations/{id}/webhooks/{sub}/deliveries": {{"none", "", "GET", s + "/deliveries", nil, 401}, {"own", own, "GET", s + "/deliveries", nil, 200},
			{"other", other, "GET", s + "/deliveries", nil, 404}, {"admin", admin, "GET", s + "/deliveries", nil, 200}},
		"POST /v1/organisations/{id}/webhooks/{sub}/deliveries/{delivery}/replay": {{"none", "", "POST", del, nil, 401}, {"other", other, "POST", del, nil, 404},
			{"own person, no admin", person, "POST", del, nil, 403},
			{"admin", admin, "POST", del, nil, 403}, {"own", own, "POST", del, nil, 202}},
		"POST /v1/organisations/{id}/webhooks/{sub}/dead-letters/replay": {{"none", "", "POST", s + "/dead-letters/replay", nil, 401},
			{"other", other, "POST", s + "/dead-letters/replay", nil, 404}, {"admin", admin, "POST", s + "/dead-letters/replay", nil, 403},
			{"own", own, "POST", s + "/dead-letters/replay", nil, 202}},
		"DELETE /v1/organisations/{id}/webhooks/{sub}": {{"none", "", "DELETE", s, nil, 401}, {"other", other, "DELETE", s, nil, 404},
			{"own person, no admin", person, "DELETE", s, nil, 403},
			{"admin", admin, "DELETE", s, nil, 403}, {"own", own, "DELETE", s, nil, 204}},
		"GET /v1/notifications": {{"none", "", "GET", "/v1/notifications", nil, 401}, {"own", own, "GET", "/v1/notifications", nil, 200},
			{"admin", admin, "GET", "/v1/notifications", nil, 200}, {"system", system, "GET", "/v1/notifications", nil, 403}},
		"GET /v1/notifications/unread-count": {{"none", "", "GET", "/v1/notifications/unread-count", nil, 401}, {"own", own, "GET", "/v1/notifications/unread-count", nil, 200},
			{"police", police, "GET", "/v1/notifications/unread-count", nil, 200}, {"system", system, "GET", "/v1/notifications/unread-count", nil, 403}},
		"POST /v1/notifications/read": {{"none", "", "POST", "/v1/notifications/read", read, 401}, {"own", own, "POST", "/v1/notifications/read", read, 200},
			{"admin", admin, "POST", "/v1/notifications/read", read, 403}, {"system", system, "POST", "/v1/notifications/read", read, 403}},
	}
	order := []string{"POST /v1/organisations/{id}/webhooks", "GET /v1/organisations/{id}/webhooks", "GET /v1/organisations/{id}/webhooks/{sub}",
		"GET /v1/organisations/{id}/webhooks/{sub}/deliveries", "POST /v1/organisations/{id}/webhooks/{sub}/deliveries/{delivery}/replay",
		"POST /v1/organisations/{id}/webhooks/{sub}/dead-letters/replay", "DELETE /v1/organisations/{id}/webhooks/{sub}",
		"GET /v1/notifications", "GET /v1/notifications/unread-count", "POST /v1/notifications/read"}
	contract := testenv.ContractRoutes(t, "openapi.yaml")
	for _, route := range contract {
		if _, ok := cases[route]; !ok {
			t.Errorf("%s is in openapi.yaml but not in the authorisation matrix", route)
		}
	}
	for _, route := range order {
		found := false
		for _, c := range contract {
			found = found || c == route
		}
		if !found {
			t.Errorf("the matrix has %s, which openapi.yaml does not describe", route)
			continue
		}
		for _, c := range cases[route] {
			r := e.Do(t, c.method, c.path, c.token, c.body)
			if r.Status != c.want {
				t.Errorf("%s as %s = %d, want %d: %.200s", route, c.who, r.Status, c.want, r.Raw)
			}
			if r.Status >= 400 && r.ContentType != "application/problem+json" {
				t.Errorf("%s as %s: %d is not a problem document", route, c.who, r.Status)
			}
		}
	}
	if len(order) != len(cases) {
		t.Errorf("matrix order lists %d routes, cases %d", len(order), len(cases))
	}
}
