package accounts_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/testenv"
)

var param = regexp.MustCompile(`\{[^}]+\}`)

// TestAuthorisationMatrix: every route of openapi.yaml, for callers without credentials, with a
// development HS256 token (no person), as a person who is no administrator, as the
// organisation's administrator, as another organisation's, and as the platform's, answers the
// status expected. A route added to the contract without entries here fails the test.
func TestAuthorisationMatrix(t *testing.T) {
	w := newWorld(t)
	none := w.client("10.9.0.1")
	dev := w.client("10.9.0.2")
	dev.bearer = (&testenv.API{Keys: w.Keys}).Token(t, auth.Bureau, "")
	mk := func(username string) (*client, string) {
		a := w.adminA.do(t, "POST", "/v1/organisations/fleet-a/people", map[string]any{"username": username, "password": "given-by-admin-46", "roles": []string{"fleet"}})
		want(t, a, http.StatusCreated, "create "+username)
		return w.onboard(t, "10.9.1."+string(rune('1'+len(username)%8)), username, "given-by-admin-46"), a.Body["id"].(string)
	}
	lina, _ := mk("li.na")
	_, temp := mk("temp.one")
	mk("throw.away")
	want(t, w.zhang.do(t, "POST", "/v1/auth/totp", nil), http.StatusCreated, "zhang begins enrolling")
	key := w.adminA.do(t, "POST", "/v1/organisations/fleet-a/api-keys", map[string]any{"roles": []string{"fleet"}, "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
	want(t, key, http.StatusCreated, "key")
	keyID := key.Body["key_id"].(string)
	throwaway := func() *client {
		c := w.client("10.9.2.1")
		want(t, c.signIn(t, "throw.away", newPassword("throw.away"), ""), http.StatusCreated, "throwaway session")
		return c
	}
	exp := time.Now().Add(24 * time.Hour).Format(time.RFC3339)
	person := func(u string) map[string]any {
		return map[string]any{"username": u, "password": "given-by-admin-47", "roles": []string{"fleet"}}
	}
	reason := map[string]any{"reason": "matrix"}
	fa, zh, tp := "/v1/organisations/fleet-a", "/v1/organisations/fleet-a/people/"+w.zhangID, "/v1/organisations/fleet-a/people/"+temp

	type call struct {
		who    string
		c      func() *client
		method string
		path   string
		body   any
		want   int
	}
	c := func(cl *client) func() *client { return func() *client { return cl } }
	cases := map[string][]call{
		"GET /.well-known/jwks.json": {{"none", c(none), "GET", "/.well-known/jwks.json", nil, 200}, {"dev", c(dev), "GET", "/.well-known/jwks.json", nil, 200}},
		"POST /v1/auth/sessions": {
			{"none, wrong password", c(none), "POST", "/v1/auth/sessions", map[string]any{"username": "zhang.wei", "password": "wrong-password-99"}, 401},
			{"none, right password", c(w.client("10.9.3.1")), "POST", "/v1/auth/sessions", map[string]any{"username": "zhang.wei", "password": newPassword("zhang.wei")}, 201},
		},
		"GET /v1/auth/sessions/current": {
			{"none", c(none), "GET", "/v1/auth/sessions/current", nil, 401}, {"dev", c(dev), "GET", "/v1/auth/sessions/current", nil, 403},
			{"person", c(w.zhang), "GET", "/v1/auth/sessions/current", nil, 200},
		},
		"DELETE /v1/auth/sessions/current": {
			{"none", c(none), "DELETE", "/v1/auth/sessions/current", nil, 401}, {"dev", c(dev), "DELETE", "/v1/auth/sessions/current", nil, 403},
			{"person", throwaway, "DELETE", "/v1/auth/sessions/current", nil, 204},
		},
		"DELETE /v1/auth/sessions": {
			{"none", c(none), "DELETE", "/v1/auth/sessions", nil, 401}, {"dev", c(dev), "DELETE", "/v1/auth/sessions", nil, 403},
			{"person", throwaway, "DELETE", "/v1/auth/sessions", nil, 204},
		},
		"POST /v1/auth/password": {
			{"none", c(none), "POST", "/v1/auth/password", map[string]any{"current_password": "x", "new_password": "y"}, 401},
			{"dev", c(dev), "POST", "/v1/auth/password", map[string]any{"current_password": "x", "new_password": "y"}, 403},
			{"person, wrong current", c(w.zhang), "POST", "/v1/auth/password", map[string]any{"current_password": "not-it-at-all", "new_password": "brand new secret 77"}, 400},
		},
		"POST /v1/auth/totp": {
			{"none", c(none), "POST", "/v1/auth/totp", nil, 401}, {"dev", c(dev), "POST", "/v1/auth/totp", nil, 403},
			{"enrolled admin", c(w.adminA), "POST", "/v1/auth/totp", nil, 409}, {"person", c(w.zhang), "POST", "/v1/auth/totp", nil, 201},
		},
		"POST /v1/auth/totp/confirm": {
			{"none", c(none), "POST", "/v1/auth/totp/confirm", map[string]any{"code": "123456"}, 401},
			{"dev", c(dev), "POST", "/v1/auth/totp/confirm", map[string]any{"code": "123456"}, 403},
			{"no enrolment", c(w.adminA), "POST", "/v1/auth/totp/confirm", map[string]any{"code": "123456"}, 409},
			{"wrong code", c(w.zhang), "POST", "/v1/auth/totp/confirm", map[string]any{"code": "12345x"}, 400},
		},
		"POST /v1/auth/token": {
			{"none", c(none), "POST", "/v1/auth/token", nil, 401}, {"dev", c(dev), "POST", "/v1/auth/token", nil, 401},
			{"person", c(w.zhang), "POST", "/v1/auth/token", nil, 200},
			{"fleet admin as admin", c(w.adminA), "POST", "/v1/auth/token", map[string]any{"role": "admin"}, 403},
			{"platform admin as admin", c(w.bureau), "POST", "/v1/auth/token", map[string]any{"role": "admin"}, 200},
		},
		"POST /v1/organisations": {
			{"none", c(none), "POST", "/v1/organisations", nil, 401},
			{"dev", c(dev), "POST", "/v1/organisations", map[string]any{"id": "lab-x", "kind": "lab", "name": "X"}, 403},
			{"person", c(w.zhang), "POST", "/v1/organisations", map[string]any{"id": "lab-x", "kind": "lab", "name": "X"}, 403},
			{"fleet admin", c(w.adminA), "POST", "/v1/organisations", map[string]any{"id": "lab-x", "kind": "lab", "name": "X"}, 403},
			{"platform admin", c(w.bureau), "POST", "/v1/organisations", map[string]any{"id": "lab-x", "kind": "lab", "name": "X", "administrator": map[string]any{"username": "x.admin", "password": "initial-lab-x-secret"}}, 201},
		},
		"GET /v1/organisations": {
			{"none", c(none), "GET", "/v1/organisations", nil, 401}, {"dev", c(dev), "GET", "/v1/organisations", nil, 403},
			{"person", c(w.zhang), "GET", "/v1/organisations", nil, 403}, {"fleet admin", c(w.adminA), "GET", "/v1/organisations", nil, 403},
			{"platform admin", c(w.bureau), "GET", "/v1/organisations", nil, 200},
		},
		"GET /v1/organisations/{id}": {
			{"none", c(none), "GET", fa, nil, 401}, {"dev", c(dev), "GET", fa, nil, 403}, {"person", c(w.zhang), "GET", fa, nil, 403},
			{"own admin", c(w.adminA), "GET", fa, nil, 200}, {"other admin", c(w.adminB), "GET", fa, nil, 404}, {"platform admin", c(w.bureau), "GET", fa, nil, 200},
		},
		"POST /v1/organisations/{id}/people": {
			{"none", c(none), "POST", fa + "/people", person("p.none"), 401}, {"dev", c(dev), "POST", fa + "/people", person("p.dev"), 403},
			{"person", c(w.zhang), "POST", fa + "/people", person("p.zhang"), 403}, {"other admin", c(w.adminB), "POST", fa + "/people", person("p.other"), 404},
			{"own admin", c(w.adminA), "POST", fa + "/people", person("p.own"), 201}, {"platform admin", c(w.bureau), "POST", fa + "/people", person("p.platform"), 201},
		},
		"GET /v1/organisations/{id}/people": {
			{"none", c(none), "GET", fa + "/people", nil, 401}, {"dev", c(dev), "GET", fa + "/people", nil, 403}, {"person", c(w.zhang), "GET", fa + "/people", nil, 403},
			{"other admin", c(w.adminB), "GET", fa + "/people", nil, 404}, {"own admin", c(w.adminA), "GET", fa + "/people", nil, 200}, {"platform admin", c(w.bureau), "GET", fa + "/people", nil, 200},
		},
		"GET /v1/organisations/{id}/people/{person_id}": {
			{"none", c(none), "GET", zh, nil, 401}, {"dev", c(dev), "GET", zh, nil, 403}, {"person", c(w.zhang), "GET", zh, nil, 403},
			{"other admin", c(w.adminB), "GET", zh, nil, 404}, {"own admin", c(w.adminA), "GET", zh, nil, 200}, {"platform admin", c(w.bureau), "GET", zh, nil, 200},
			{"through another organisation", c(w.bureau), "GET", "/v1/organisations/fleet-b/people/" + w.zhangID, nil, 404},
		},
		"POST /v1/organisations/{id}/people/{person_id}/disable": {
			{"none", c(none), "POST", zh + "/disable", reason, 401}, {"dev", c(dev), "POST", zh + "/disable", reason, 403}, {"person", c(lina), "POST", zh + "/disable", reason, 403},
			{"other admin", c(w.adminB), "POST", zh + "/disable", reason, 404}, {"own admin", c(w.adminA), "POST", tp + "/disable", reason, 200},
			{"platform admin", c(w.bureau), "POST", tp + "/disable", reason, 200},
		},
		"POST /v1/organisations/{id}/people/{person_id}/enable": {
			{"none", c(none), "POST", tp + "/enable", reason, 401}, {"dev", c(dev), "POST", tp + "/enable", reason, 403}, {"person", c(lina), "POST", tp + "/enable", reason, 403},
			{"other admin", c(w.adminB), "POST", tp + "/enable", reason, 404}, {"own admin", c(w.adminA), "POST", tp + "/enable", reason, 200},
		},
		"POST /v1/organisations/{id}/people/{person_id}/password-reset": {
			{"none", c(none), "POST", tp + "/password-reset", reason, 401}, {"dev", c(dev), "POST", tp + "/password-reset", reason, 403},
			{"person", c(lina), "POST", tp + "/password-reset", reason, 403}, {"other admin", c(w.adminB), "POST", tp + "/password-reset", reason, 404},
			{"own admin", c(w.adminA), "POST", tp + "/password-reset", reason, 200}, {"platform admin", c(w.bureau), "POST", tp + "/password-reset", reason, 200},
		},
		"POST /v1/organisations/{id}/api-keys": {
			{"none", c(none), "POST", fa + "/api-keys", map[string]any{"roles": []string{"fleet"}, "expires_at": exp}, 401},
			{"dev", c(dev), "POST", fa + "/api-keys", map[string]any{"roles": []string{"fleet"}, "expires_at": exp}, 403},
			{"person", c(w.zhang), "POST", fa + "/api-keys", map[string]any{"roles": []string{"fleet"}, "expires_at": exp}, 403},
			{"other admin", c(w.adminB), "POST", fa + "/api-keys", map[string]any{"roles": []string{"fleet"}, "expires_at": exp}, 404},
			{"own admin", c(w.adminA), "POST", fa + "/api-keys", map[string]any{"roles": []string{"fleet"}, "expires_at": exp}, 201},
		},
		"GET /v1/organisations/{id}/api-keys": {
			{"none", c(none), "GET", fa + "/api-keys", nil, 401}, {"dev", c(dev), "GET", fa + "/api-keys", nil, 403}, {"person", c(w.zhang), "GET", fa + "/api-keys", nil, 403},
			{"other admin", c(w.adminB), "GET", fa + "/api-keys", nil, 404}, {"own admin", c(w.adminA), "GET", fa + "/api-keys", nil, 200}, {"platform admin", c(w.bureau), "GET", fa + "/api-keys", nil, 200},
		},
		"DELETE /v1/organisations/{id}/api-keys/{key_id}": {
			{"none", c(none), "DELETE", fa + "/api-keys/" + keyID, nil, 401}, {"dev", c(dev), "DELETE", fa + "/api-keys/" + keyID, nil, 403},
			{"person", c(w.zhang), "DELETE", fa + "/api-keys/" + keyID, nil, 403}, {"other admin", c(w.adminB), "DELETE", fa + "/api-keys/" + keyID, nil, 404},
			{"own admin", c(w.adminA), "DELETE", fa + "/api-keys/" + keyID, nil, 204},
		},
	}
	for _, route := range testenv.ContractRoutes(t, "openapi.yaml") {
		calls, ok := cases[param.ReplaceAllStringFunc(route, func(s string) string { return s })]
		if !ok || len(calls) == 0 {
			t.Errorf("%s is in openapi.yaml but not in the authorisation matrix", route)
			continue
		}
		for _, cl := range calls {
			t.Run(route+" as "+cl.who, func(t *testing.T) {
				a := cl.c().do(t, cl.method, cl.path, cl.body)
				want(t, a, cl.want, cl.method+" "+cl.path)
			})
		}
		delete(cases, route)
	}
	for route := range cases {
		t.Errorf("the matrix has %s, which openapi.yaml does not describe", route)
	}
}
