package allinone_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// raw sends a request with the Authorization header as given and returns the status, the
// content type and the decoded body.
func raw(t *testing.T, method, u, authz, body string) (int, string, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, u, bytes.NewReader([]byte(body)))
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, res.Header.Get("Content-Type"), out
}

func messageOf(body map[string]any, field string) string {
	errs, _ := body["errors"].([]any)
	for _, e := range errs {
		if m := e.(map[string]any); m["field"] == field {
			return m["message"].(string)
		}
	}
	return ""
}

// TestErrorsNameTheField: what a new user gets wrong is answered naming the field, in words,
// as problem+json; retrying a registration is harmless; what a Chinese keyboard types is read.
func TestErrorsNameTheField(t *testing.T) {
	s := newStack(t)
	fleet := s.token(auth.Fleet, "fleet-shuozhou-logistics", "")
	police := s.token(auth.Police, "", "officer-12")
	vin, _ := vehicleid.WithCheckDigit("LFWADRJF011002346")
	truck := map[string]any{"vin": vin, "plate": "晋F77777", "plate_colour": "yellow", "fuel_type": "diesel",
		"emission_standard": "VIb", "category": "N3", "use": "operating", "service_class": "freight",
		"maker": "FAW Jiefang", "registered_on": "2026-03-01", "gross_mass_kg": 31000}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range truck {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}

	t.Run("a bad date names its field", func(t *testing.T) {
		code, body := call(t, s.srv.URL, "POST", "/v1/vehicles", fleet, with("registered_on", "2026-02-30"))
		if code != 400 || messageOf(body, "registered_on") == "" {
			t.Fatalf("bad date = %d %v; want 400 naming registered_on", code, body)
		}
	})
	t.Run("a missing plate is required", func(t *testing.T) {
		code, body := call(t, s.srv.URL, "POST", "/v1/vehicles", fleet, with("plate", nil))
		if m := messageOf(body, "plate"); code != 400 || !strings.HasPrefix(m, "required") {
			t.Fatalf("missing plate = %d %q; want 400, plate: required", code, m)
		}
	})
	t.Run("registering again is idempotent, another vehicle on the plate a conflict", func(t *testing.T) {
		code, first := call(t, s.srv.URL, "POST", "/v1/vehicles", fleet, truck)
		if code != 201 {
			t.Fatalf("register = %d %v", code, first)
		}
		code, again := call(t, s.srv.URL, "POST", "/v1/vehicles", fleet, truck)
		if code != 200 || again["vin"] != vin || again["version"] != first["version"] {
			t.Fatalf("the same again = %d %v; want 200 with the record", code, again)
		}
		other, _ := vehicleid.WithCheckDigit("LFWADRJF011009999")
		if code, body := call(t, s.srv.URL, "POST", "/v1/vehicles", fleet, with("vin", other)); code != 409 {
			t.Fatalf("another vehicle on 晋F77777 = %d %v; want 409", code, body)
		}
		if code, body := call(t, s.srv.URL, "POST", "/v1/vehicles", fleet, with("maker", "Dongfeng")); code != 409 {
			t.Fatalf("the same VIN and plate, another maker = %d %v; want 409", code, body)
		}
	})
	t.Run("unknown routes and methods are problems", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			status       int
		}{{"GET", "/v1/nope", 404}, {"GET", "/v1/vehicles/", 404}, {"DELETE", "/v1/vehicles", 405}, {"PUT", "/v1/alerts", 405}} {
			code, ct, body := raw(t, tc.method, s.srv.URL+tc.path, "Bearer "+police, "")
			if code != tc.status || ct != "application/problem+json" || body["type"] == "about:blank" || body["instance"] != tc.path {
				t.Errorf("%s %s = %d %s %v; want a %d problem", tc.method, tc.path, code, ct, body, tc.status)
			}
		}
	})
	t.Run("the Bearer scheme in any case", func(t *testing.T) {
		for _, scheme := range []string{"bearer", "BEARER"} {
			if code, _, body := raw(t, "GET", s.srv.URL+"/v1/vehicles", scheme+" "+fleet, ""); code != 200 {
				t.Errorf("%s = %d %v", scheme, code, body)
			}
		}
	})
	t.Run("full-width plates and Chinese colour words", func(t *testing.T) {
		code, body := call(t, s.srv.URL, "GET", "/v1/registry/status?plate="+url.QueryEscape("晋Ｆ８９０１２")+"&colour="+url.QueryEscape("黄"), police, nil)
		if code != 200 || body["status"] != "plate_void" {
			t.Fatalf("status of 晋Ｆ８９０１２ 黄 = %d %v", code, body)
		}
		code, body = lookup(t, s.srv.URL, police, "晋Ｆ８９０１２", url.QueryEscape("黄色"))
		if code != 200 || body["verdict"] != "stop" || body["plate"] != "晋F89012" || body["colour"] != "yellow" {
			t.Fatalf("checkpoint 晋Ｆ８９０１２ 黄色 = %d %v", code, body)
		}
		code, body = lookup(t, s.srv.URL, police, "晋F6B666", url.QueryEscape("蓝"))
		if code != 200 || body["colour"] != "blue" || body["verdict"] != "stop" {
			t.Fatalf("checkpoint 晋F6B666 蓝 = %d %v", code, body)
		}
	})
}
