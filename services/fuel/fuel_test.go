package fuel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/services/fuel"
)

type env struct {
	*testenv.API
	db  *mongo.Database
	svc *fuel.Service
}

func newEnv(t *testing.T, db *mongo.Database, rdb redis.UniversalClient, prefix string) *env {
	t.Helper()
	ctx := context.Background()
	deps := testenv.Platform(t, fuel.Name, db, rdb, prefix)
	svc, err := fuel.New(ctx, fuel.Config{Every: 50 * time.Millisecond}, deps)
	if err != nil {
		t.Fatal(err)
	}
	return &env{API: testenv.Serve(t, fuel.Name, deps, svc.Routes), db: db, svc: svc}
}

func (e *env) token(t *testing.T, role auth.Role, tenant string) string {
	return e.Token(t, role, tenant)
}

type response struct {
	status int
	body   map[string]any
	ctype  string
	raw    string
}

func (e *env) send(t *testing.T, method, path, token, ctype string, body io.Reader) response {
	t.Helper()
	r := e.Send(t, method, path, token, ctype, body)
	return response{status: r.Status, body: r.Body, ctype: r.ContentType, raw: r.Raw}
}

func (e *env) do(t *testing.T, method, path, token string, body any) response {
	t.Helper()
	r := e.Do(t, method, path, token, body)
	return response{status: r.Status, body: r.Body, ctype: r.ContentType, raw: r.Raw}
}

func (e *env) csv(t *testing.T, token, file string) response {
	t.Helper()
	return e.send(t, "POST", "/v1/fuel/samples/import", token, "text/csv; charset=utf-8", strings.NewReader(file))
}

// importJob sends a CSV file and, when it is taken as a job (202), follows its Location until
// the job has finished; it returns the job (or the synchronous refusal).
func (e *env) importJob(t *testing.T, token, file string) response {
	t.Helper()
	r := e.csv(t, token, file)
	if r.status != http.StatusAccepted {
		return r
	}
	loc := r.body["import_id"].(string)
	if got := "/v1/fuel/samples/imports/" + loc; got == "" {
		t.Fatal("no import id")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		j := e.do(t, "GET", "/v1/fuel/samples/imports/"+loc, token, nil)
		if j.status != http.StatusOK {
			t.Fatalf("GET import = %d %s", j.status, j.raw)
		}
		if st := j.body["status"]; st == "succeeded" || st == "failed" {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import did not finish within 60 s: %s", j.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func jobResult(j response) map[string]any {
	r, _ := j.body["result"].(map[string]any)
	return r
}

// jobFields names the errors of a failed import job.
func jobFields(j response) []string {
	e, _ := j.body["error"].(map[string]any)
	errs, _ := e["errors"].([]any)
	var out []string
	for _, x := range errs {
		out = append(out, x.(map[string]any)["field"].(string))
	}
	return out
}

func fields(r response) []string {
	errs, _ := r.body["errors"].([]any)
	var out []string
	for _, e := range errs {
		out = append(out, e.(map[string]any)["field"].(string))
	}
	return out
}

func count(t *testing.T, db *mongo.Database, coll string, filter bson.D) int64 {
	t.Helper()
	n, err := db.Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type site map[string]any

func mkSite(id, kind string, suppliers ...string) site {
	s := site{"site_id": id, "kind": kind, "name": "Site " + id, "operator": "Operator of " + id, "lat": 39.33, "lon": 112.43,
		"licence": "LIC-" + id, "operating_since": "2020-01-01"}
	if len(suppliers) > 0 {
		s["suppliers"] = suppliers
	}
	return s
}

type result map[string]any

func smp(id, siteID, product, grade, at string, results ...result) map[string]any {
	if results == nil {
		results = []result{}
	}
	return map[string]any{"sample_id": id, "site_id": siteID, "product": product, "grade": grade, "sampled_at": at, "results": results}
}

func res(p string, v float64, unit string) result {
	return result{"parameter": p, "value": v, "unit": unit}
}

// seedSites registers the supply network of the tests:
//
//	I1 (importer) -> R1 (refinery) -> D1, D2 (depots) -> S1, S2 (from D1), S3 (from D2)
//	D3 an enterprise's own depot; C1..C3 household coal sellers; U1 a urea seller;
//	B1 an unlicensed station found on an inspection.
func seedSites(t *testing.T, e *env, bureau string) {
	t.Helper()
	black := mkSite("B1", "filling_station")
	delete(black, "licence")
	black["unlicensed"], black["inspection_ref"] = true, "INS-2026-031"
	own := mkSite("D3", "oil_depot", "R1")
	own["own_depot"] = true
	for _, s := range []site{mkSite("I1", "importer"), mkSite("R1", "refinery", "I1"), mkSite("D1", "oil_depot", "R1"), mkSite("D2", "oil_depot", "R1"), own,
		mkSite("S1", "filling_station", "D1"), mkSite("S2", "filling_station", "D1"), mkSite("S3", "filling_station", "D2"),
		mkSite("C1", "coal_seller"), mkSite("C2", "coal_seller"), mkSite("C3", "coal_seller"), mkSite("U1", "urea_seller"), black} {
		if r := e.do(t, "POST", "/v1/fuel/sites", bureau, s); r.status != http.StatusCreated {
			t.Fatalf("register %s: %d %s", s["site_id"], r.status, r.raw)
		}
	}
	if r := e.do(t, "PUT", "/v1/fuel/labs/lab-1", bureau, map[string]any{"name": "Shuozhou Fuel Lab", "site_ids": []string{"S1", "D1", "D2", "D3", "C1", "C2"}}); r.status != http.StatusCreated {
		t.Fatalf("lab contract: %d %s", r.status, r.raw)
	}
}

func TestFuelHTTP(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix)
	bureau := e.token(t, auth.Bureau, "")
	s1, s2 := e.token(t, auth.Station, "S1"), e.token(t, auth.Station, "S2")
	lab1, lab2 := e.token(t, auth.Lab, "lab-1"), e.token(t, auth.Lab, "lab-2")
	police, fleet := e.token(t, auth.Police, ""), e.token(t, auth.Fleet, "f1")
	admin := e.token(t, auth.Admin, "")
	seedSites(t, e, bureau)

	ok92 := smp("S1-SELF-1", "S1", "gasoline", "92", "2026-03-02T09:00:00+08:00", res("sulfur", 8, "ppm"), res("olefins", 14, "%"))
	r := e.do(t, "POST", "/v1/fuel/samples", s1, ok92)
	if r.status != http.StatusCreated || r.body["verdict"] != "pass" || r.body["source"] != "self_check" || r.body["month"] != "2026-03" {
		t.Fatalf("station upload: %d %s", r.status, r.raw)
	}

	t.Run("authorisation matrix", func(t *testing.T) {
		labSample := smp("LAB1-1", "S1", "gasoline", "95", "2026-03-03T10:00:00+08:00", res("research_octane", 95.2, ""))
		cases := []struct {
			name, method, path, token string
			body                      any
			want                      int
		}{
			{"station uploads for another site", "POST", "/v1/fuel/samples", s1, smp("X1", "S2", "gasoline", "92", "2026-03-02T09:00:00Z", res("sulfur", 5, "ppm")), 403},
			{"station uploads for an unregistered site", "POST", "/v1/fuel/samples", s1, smp("X1", "S9", "gasoline", "92", "2026-03-02T09:00:00Z", res("sulfur", 5, "ppm")), 403},
			{"lab uploads for a contracted site", "POST", "/v1/fuel/samples", lab1, labSample, 201},
			{"lab uploads for a site outside its contract", "POST", "/v1/fuel/samples", lab1, smp("X2", "S3", "gasoline", "92", "2026-03-02T09:00:00Z", res("sulfur", 5, "ppm")), 403},
			{"lab without contract", "POST", "/v1/fuel/samples", lab2, smp("X3", "S1", "gasoline", "92", "2026-03-02T09:00:00Z", res("sulfur", 5, "ppm")), 403},
			{"police may not upload", "POST", "/v1/fuel/samples", police, ok92, 403},
			{"no token", "POST", "/v1/fuel/samples", "", ok92, 401},
			{"station reads its sample", "GET", "/v1/fuel/samples/S1:S1-SELF-1", s1, nil, 200},
			{"another station cannot see it", "GET", "/v1/fuel/samples/S1:S1-SELF-1", s2, nil, 404},
			{"a contracted lab reads it", "GET", "/v1/fuel/samples/S1:S1-SELF-1", lab1, nil, 200},
			{"a lab without contract cannot see it", "GET", "/v1/fuel/samples/S1:S1-SELF-1", lab2, nil, 404},
			{"station lists another site's samples", "GET", "/v1/fuel/samples?site_id=S2", s1, nil, 403},
			{"station reads its site", "GET", "/v1/fuel/sites/S1", s1, nil, 200},
			{"station cannot see another site", "GET", "/v1/fuel/sites/S2", s1, nil, 404},
			{"lab reads its contract", "GET", "/v1/fuel/labs/lab-1", lab1, nil, 200},
			{"lab cannot read another contract", "GET", "/v1/fuel/labs/lab-1", lab2, nil, 404},
			{"station may not register sites", "POST", "/v1/fuel/sites", s1, mkSite("S9", "filling_station"), 403},
			{"lab may not record contracts", "PUT", "/v1/fuel/labs/lab-1", lab1, map[string]any{"name": "x", "site_ids": []string{"S3"}}, 403},
			{"lab may not correct a station's sample", "POST", "/v1/fuel/samples/S1:S1-SELF-1/corrections", lab1, map[string]any{"base_revision": 1, "reason": "x", "results": []result{res("sulfur", 1, "ppm")}}, 403},
			{"station may not correct", "POST", "/v1/fuel/samples/S1:S1-SELF-1/corrections", s1, map[string]any{"base_revision": 1, "reason": "x", "results": []result{res("sulfur", 1, "ppm")}}, 403},
			{"station may not read cases", "GET", "/v1/fuel/cases", s1, nil, 403},
			{"lab may not read coverage", "GET", "/v1/fuel/coverage", lab1, nil, 403},
			{"lab may not plan", "GET", "/v1/fuel/plans/proposal", lab1, nil, 403},
			{"station may not compile a disclosure", "GET", "/v1/fuel/disclosure?month=2026-03", s1, nil, 403},
			{"station may not print a rectification notice", "GET", "/v1/fuel/cases/x/notice", s1, nil, 403},
			{"lab may not compile a disclosure", "GET", "/v1/fuel/disclosure?month=2026-03", lab1, nil, 403},
			{"lab may not load limits", "PUT", "/v1/fuel/limits", lab1, map[string]any{"name": "x"}, 403},
			{"station reads the limits", "GET", "/v1/fuel/limits", s1, nil, 200},
			{"fleet may not read the limits", "GET", "/v1/fuel/limits", fleet, nil, 403},
			{"station may not trace", "GET", "/v1/fuel/sites/S1/chain", s1, nil, 403},
			{"admin reads a sample", "GET", "/v1/fuel/samples/S1:S1-SELF-1", admin, nil, 200},
			{"admin may not upload", "POST", "/v1/fuel/samples", admin, smp("X4", "S1", "gasoline", "92", "2026-03-02T09:00:00Z", res("sulfur", 5, "ppm")), 403},
			{"admin may not correct", "POST", "/v1/fuel/samples/S1:S1-SELF-1/corrections", admin, map[string]any{"base_revision": 1, "reason": "x", "results": []result{res("sulfur", 1, "ppm")}}, 403},
			{"admin may not load limits", "PUT", "/v1/fuel/limits", admin, map[string]any{"name": "x"}, 403},
			{"admin may not record lab contracts", "PUT", "/v1/fuel/labs/lab-9", admin, map[string]any{"name": "x", "site_ids": []string{"S1"}}, 403},
			// The import jobs (the uploader's, another lab's and the bureau's reads are in "CSV import is all or nothing").
			{"police may not read an import job", "GET", "/v1/fuel/samples/imports/imp-x", police, nil, 403},
			{"police may not read an import's errors", "GET", "/v1/fuel/samples/imports/imp-x/errors.csv", police, nil, 403},
			{"no token for an import job", "GET", "/v1/fuel/samples/imports/imp-x", "", nil, 401},
			{"a station asks for an unknown job", "GET", "/v1/fuel/samples/imports/imp-x", s1, nil, 404},
			{"a lab asks for an unknown job's errors", "GET", "/v1/fuel/samples/imports/imp-x/errors.csv", lab1, nil, 404},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got := e.do(t, tc.method, tc.path, tc.token, tc.body)
				if got.status != tc.want {
					t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, got.status, got.raw, tc.want)
				}
				if got.status >= 400 && got.ctype != "application/problem+json" {
					t.Fatalf("error content type = %q", got.ctype)
				}
			})
		}
		if n := count(t, e.db, "fuel_samples", bson.D{{Key: "_id", Value: bson.D{{Key: "$regex", Value: ":X[1-4]$"}}}}); n != 0 {
			t.Fatalf("%d refused uploads were written", n)
		}
		list := e.do(t, "GET", "/v1/fuel/samples", s2, nil)
		if items := list.body["items"].([]any); len(items) != 0 {
			t.Fatalf("station S2 lists %d samples of others", len(items))
		}
		list = e.do(t, "GET", "/v1/fuel/samples", lab1, nil)
		if items := list.body["items"].([]any); len(items) != 2 {
			t.Fatalf("lab-1 lists %d samples, want the 2 of S1", len(items))
		}
		// A sample number is the site's own: station S2 sending the number S1 used gets its own
		// sample. It used to get 409, which told it that S1's record existed.
		r := e.do(t, "POST", "/v1/fuel/samples", s2, smp("S1-SELF-1", "S2", "gasoline", "92", "2026-03-02T09:00:00+08:00", res("sulfur", 9, "ppm")))
		if r.status != http.StatusCreated || r.body["sample_id"] != "S2:S1-SELF-1" || r.body["site_id"] != "S2" {
			t.Fatalf("S2 uploading under S1's sample number = %d %s, want 201 S2:S1-SELF-1", r.status, r.raw)
		}
		if got := e.do(t, "GET", "/v1/fuel/samples/S1:S1-SELF-1", s2, nil); got.status != 404 {
			t.Fatalf("S2 reads S1's sample = %d, want 404", got.status)
		}
		if got := e.do(t, "GET", "/v1/fuel/samples/S1:S1-SELF-1", s1, nil); got.status != 200 || got.body["results"].([]any)[0].(map[string]any)["value"].(float64) != 8 {
			t.Fatalf("S1's sample after S2's upload = %d %s", got.status, got.raw)
		}
		list = e.do(t, "GET", "/v1/fuel/samples", s2, nil)
		if items := list.body["items"].([]any); len(items) != 1 {
			t.Fatalf("station S2 lists %d samples, want its own one", len(items))
		}
	})

	t.Run("a station's upload without site_id is for its own site", func(t *testing.T) {
		own := smp("S1-SELF-0", "", "gasoline", "", "2026-02-02T09:00:00+08:00", res("sulfur", 5, "mg/kg"))
		delete(own, "site_id")
		own["grade"] = 95 // a JSON number
		if r := e.do(t, "POST", "/v1/fuel/samples", s1, own); r.status != http.StatusCreated || r.body["site_id"] != "S1" || r.body["grade"] != "95" {
			t.Fatalf("upload without site_id = %d %s", r.status, r.raw)
		}
	})

	t.Run("uploads are idempotent on sample_id", func(t *testing.T) {
		again := e.do(t, "POST", "/v1/fuel/samples", s1, ok92)
		if again.status != http.StatusOK || again.body["verdict"] != "pass" || again.body["revision"].(float64) != 1 {
			t.Fatalf("replay = %d %s, want 200 with the stored sample", again.status, again.raw)
		}
		shifted := smp("S1-SELF-1", "S1", "gasoline", "92", "2026-03-02T01:00:00Z", res("sulfur", 8, "ppm"), res("olefins", 14, "%"))
		if again := e.do(t, "POST", "/v1/fuel/samples", s1, shifted); again.status != http.StatusOK {
			t.Fatalf("replay with the same instant in UTC = %d, want 200", again.status)
		}
		changed := smp("S1-SELF-1", "S1", "gasoline", "92", "2026-03-02T09:00:00+08:00", res("sulfur", 9, "ppm"), res("olefins", 14, "%"))
		conflict := e.do(t, "POST", "/v1/fuel/samples", s1, changed)
		if conflict.status != http.StatusConflict || !strings.Contains(conflict.raw, "corrections") {
			t.Fatalf("different content = %d %s, want 409 pointing at the corrections route", conflict.status, conflict.raw)
		}
	})

	t.Run("bad input is refused, names the field, and writes nothing", func(t *testing.T) {
		before := count(t, e.db, "fuel_samples", bson.D{})
		good := func() map[string]any {
			return smp("BAD-1", "S1", "gasoline", "92", "2026-03-04T09:00:00+08:00", res("sulfur", 8, "ppm"))
		}
		with := func(k string, v any) map[string]any { b := good(); b[k] = v; return b }
		cases := []struct {
			name  string
			body  any
			field string
		}{
			{"malformed JSON", `{"sample_id": `, "body"},
			{"unknown field", with("lab", "x"), "lab"},
			{"unknown parameter", with("results", []result{res("lead", 1, "mg/L")}), "results[0].parameter"},
			{"unit that does not fit", with("results", []result{res("sulfur", 8, "ppm"), res("olefins", 10, "%(m/m)")}), "results[1].unit"},
			{"unknown unit", with("results", []result{res("sulfur", 8, "furlongs")}), "results[0].unit"},
			{"value not a number", with("results", []any{map[string]any{"parameter": "sulfur", "value": "low", "unit": "ppm"}}), "results[0].value"},
			{"value missing", with("results", []any{map[string]any{"parameter": "sulfur", "unit": "ppm"}}), "results[0].value"},
			{"value NaN", with("results", []any{map[string]any{"parameter": "sulfur", "value": "NaN", "unit": "ppm"}}), "results[0].value"},
			{"value infinite", with("results", []any{map[string]any{"parameter": "sulfur", "value": "-Inf", "unit": "ppm"}}), "results[0].value"},
			{"value overflowing", with("results", []any{map[string]any{"parameter": "sulfur", "value": "1e999", "unit": "ppm"}}), "results[0].value"},
			{"value overflowing as a number", with("results", []any{map[string]any{"parameter": "sulfur", "value": json.RawMessage("1e999"), "unit": "ppm"}}), "results[0].value"},
			{"not an instant", with("sampled_at", "2026-03-04"), "sampled_at"},
			{"in the future", with("sampled_at", time.Now().Add(48*time.Hour).Format(time.RFC3339)), "sampled_at"},
			{"grade missing", with("grade", ""), "grade"},
			{"unknown grade", with("grade", "93"), "grade"},
			{"unknown product", with("product", "kerosene"), "product"},
			{"coal at a filling station", with("product", "coal"), "product"},
			{"bad sample id", with("sample_id", "a b"), "sample_id"},
			{"no results", with("results", []result{}), "results"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got := e.do(t, "POST", "/v1/fuel/samples", s1, tc.body)
				if got.status != http.StatusBadRequest || !slices.Contains(fields(got), tc.field) {
					t.Fatalf("POST = %d fields %v (%s), want 400 naming %s", got.status, fields(got), got.raw, tc.field)
				}
			})
		}
		if got := e.do(t, "POST", "/v1/fuel/samples", bureau, smp("BAD-2", "S9", "gasoline", "92", "2026-03-04T09:00:00Z", res("sulfur", 8, "ppm"))); got.status != 400 || fields(got)[0] != "site_id" {
			t.Fatalf("bureau upload for an unknown site = %d %v", got.status, fields(got))
		}
		if after := count(t, e.db, "fuel_samples", bson.D{}); after != before {
			t.Fatalf("samples = %d after bad input, want %d", after, before)
		}
		if r := e.do(t, "POST", "/v1/fuel/sites", bureau, mkSite("S9", "filling_station", "C1")); r.status != 400 || fields(r)[0] != "suppliers[0]" {
			t.Fatalf("a coal seller supplying a station = %d %v", r.status, fields(r))
		}
		if r := e.do(t, "POST", "/v1/fuel/sites", bureau, mkSite("S9", "filling_station", "D9")); r.status != 400 || fields(r)[0] != "suppliers[0]" {
			t.Fatalf("an unregistered supplier = %d %v", r.status, fields(r))
		}
		noLat := mkSite("S9", "filling_station")
		delete(noLat, "lat")
		if r := e.do(t, "POST", "/v1/fuel/sites", bureau, noLat); r.status != 400 || fields(r)[0] != "lat" {
			t.Fatalf("a site without latitude = %d %v", r.status, fields(r))
		}
		if r := e.do(t, "POST", "/v1/fuel/sites", bureau, mkSite("S1", "filling_station")); r.status != http.StatusConflict {
			t.Fatalf("another site under a taken id = %d, want 409", r.status)
		}
		if r := e.do(t, "POST", "/v1/fuel/sites", bureau, mkSite("S1", "filling_station", "D1")); r.status != http.StatusOK {
			t.Fatalf("the same site again = %d, want 200", r.status)
		}
		if n := count(t, e.db, "fuel_sites", bson.D{{Key: "_id", Value: "S9"}}); n != 0 {
			t.Fatal("a refused site was written")
		}
	})

	var caseID string
	t.Run("a failing sample opens a case traced up the chain", func(t *testing.T) {
		// 20:00 UTC on 2022-12-31 is 2023-01-01 in China: judged by VIB (olefins <= 15).
		fail := smp("LAB1-2", "S1", "gasoline", "92", "2022-12-31T20:00:00Z", res("olefins", 16.5, "vol%"), res("sulfur", 0.0009, "%(m/m)"))
		r := e.do(t, "POST", "/v1/fuel/samples", lab1, fail)
		if r.status != http.StatusCreated || r.body["verdict"] != "fail" || r.body["source"] != "supervisory" || r.body["lab_id"] != "lab-1" {
			t.Fatalf("upload = %d %s", r.status, r.raw)
		}
		results := r.body["results"].([]any)
		olefins, sulfur := results[0].(map[string]any), results[1].(map[string]any)
		limit := olefins["limit"].(map[string]any)
		if olefins["verdict"] != "fail" || limit["limit"].(float64) != 15 || limit["stage"] != "VIB" || limit["standard"] != "GB 17930-2016" ||
			limit["clause"] != "Table 4 (China VIB)" || !strings.Contains(olefins["message"].(string), "16.5 %(v/v) exceeds the maximum 15 %(v/v)") {
			t.Fatalf("olefins result = %v", olefins)
		}
		if sulfur["verdict"] != "pass" || sulfur["value_canonical"].(float64) != 9 || sulfur["unit_canonical"] != "mg/kg" {
			t.Fatalf("sulfur converted = %v", sulfur)
		}
		caseID, _ = r.body["case_id"].(string)
		if caseID != "nc-S1:LAB1-2" {
			t.Fatalf("case_id = %q", caseID)
		}
		c := e.do(t, "GET", "/v1/fuel/cases/"+caseID, bureau, nil)
		chain := c.body["chain"].(map[string]any)
		var up []string
		for _, l := range chain["upstream"].([]any) {
			up = append(up, l.(map[string]any)["site_id"].(string))
		}
		exposed := chain["exposed"].([]any)
		if !slices.Equal(up, []string{"D1", "R1", "I1"}) || len(exposed) != 1 || exposed[0].(map[string]any)["site_id"] != "S2" ||
			exposed[0].(map[string]any)["supplied_by"] != "D1" {
			t.Fatalf("chain = %v", chain)
		}
		fu := c.body["follow_ups"].([]any)
		if len(fu) != 3 || fu[0].(map[string]any)["site_id"] != "D1" || fu[0].(map[string]any)["priority"].(float64) != 1 || c.body["escalated"] != false {
			t.Fatalf("follow-ups = %v, escalated %v", fu, c.body["escalated"])
		}
	})

	t.Run("repeated failures at one site escalate", func(t *testing.T) {
		second := smp("LAB1-3", "S1", "gasoline", "92", "2023-06-01T10:00:00+08:00", res("benzene", 0.95, "%(v/v)"))
		r := e.do(t, "POST", "/v1/fuel/samples", lab1, second)
		if r.status != 201 || r.body["verdict"] != "fail" {
			t.Fatalf("second failure = %d %s", r.status, r.raw)
		}
		c := e.do(t, "GET", "/v1/fuel/cases/nc-S1:LAB1-3", bureau, nil)
		prior := c.body["prior_failures"].([]any)
		if c.body["escalated"] != true || len(prior) != 2 || !strings.Contains(c.body["escalation_reason"].(string), "2 failing samples") {
			t.Fatalf("case = %v", c.body)
		}
		list := e.do(t, "GET", "/v1/fuel/cases?escalated=true", bureau, nil)
		if items := list.body["items"].([]any); len(items) != 1 {
			t.Fatalf("escalated cases = %d", len(items))
		}
		far := smp("LAB1-4", "S1", "gasoline", "92", "2025-01-01T10:00:00+08:00", res("benzene", 0.95, "%(v/v)"))
		if r := e.do(t, "POST", "/v1/fuel/samples", lab1, far); r.status != 201 {
			t.Fatalf("third failure = %d %s", r.status, r.raw)
		}
		if c := e.do(t, "GET", "/v1/fuel/cases/nc-S1:LAB1-4", bureau, nil); c.body["escalated"] != false {
			t.Fatalf("a failure 19 months after the last escalated: %v", c.body)
		}
	})

	t.Run("corrections keep the history and re-judge", func(t *testing.T) {
		corr := map[string]any{"base_revision": 1, "reason": "transcription error: olefins 14.5, not 16.5", "results": []result{res("olefins", 14.5, "%(v/v)")}}
		r := e.do(t, "POST", "/v1/fuel/samples/S1:LAB1-2/corrections", lab1, corr)
		if r.status != http.StatusCreated || r.body["verdict"] != "pass" || r.body["revision"].(float64) != 2 || len(r.body["results"].([]any)) != 2 {
			t.Fatalf("correction = %d %s", r.status, r.raw)
		}
		if again := e.do(t, "POST", "/v1/fuel/samples/S1:LAB1-2/corrections", lab1, corr); again.status != http.StatusOK || again.body["revision"].(float64) != 2 {
			t.Fatalf("same correction again = %d %s, want 200", again.status, again.raw)
		}
		if stale := e.do(t, "POST", "/v1/fuel/samples/S1:LAB1-2/corrections", lab1, map[string]any{"base_revision": 1, "reason": "other", "results": []result{res("olefins", 17, "%")}}); stale.status != http.StatusConflict {
			t.Fatalf("correction of an old revision = %d, want 409", stale.status)
		}
		if bad := e.do(t, "POST", "/v1/fuel/samples/S1:LAB1-2/corrections", lab1, map[string]any{"base_revision": 2, "reason": "x", "results": []result{res("olefins", 14, "%(m/m)")}}); bad.status != 400 || fields(bad)[0] != "results[0].unit" {
			t.Fatalf("bad correction = %d %v", bad.status, fields(bad))
		}
		revs := e.do(t, "GET", "/v1/fuel/samples/S1:LAB1-2/revisions", lab1, nil)
		items := revs.body["items"].([]any)
		if len(items) != 2 || items[0].(map[string]any)["verdict"] != "fail" || items[1].(map[string]any)["verdict"] != "pass" ||
			!strings.Contains(items[1].(map[string]any)["reason"].(string), "transcription") {
			t.Fatalf("revisions = %s", revs.raw)
		}
		c := e.do(t, "GET", "/v1/fuel/cases/"+caseID, bureau, nil)
		if c.body["status"] != "closed" || c.body["sample_revision"].(float64) != 2 || !strings.Contains(c.body["resolution"].(string), "passes") {
			t.Fatalf("case after a passing correction = %v", c.body)
		}
		back := map[string]any{"base_revision": 2, "reason": "re-measured", "results": []result{res("olefins", 15.5, "%")}}
		if r := e.do(t, "POST", "/v1/fuel/samples/S1:LAB1-2/corrections", bureau, back); r.status != 201 || r.body["verdict"] != "fail" {
			t.Fatalf("bureau correction = %d %s", r.status, r.raw)
		}
		if c := e.do(t, "GET", "/v1/fuel/cases/"+caseID, bureau, nil); c.body["status"] != "open" || len(c.body["events"].([]any)) != 3 {
			t.Fatalf("case after a failing correction = %v", c.body)
		}
		closed := e.do(t, "POST", "/v1/fuel/cases/"+caseID+"/close", bureau, map[string]any{"resolution": "depot D1 sampled, station fined"})
		if closed.status != 200 || closed.body["status"] != "closed" {
			t.Fatalf("close = %d %s", closed.status, closed.raw)
		}
		if r := e.do(t, "POST", "/v1/fuel/cases/"+caseID+"/close", bureau, map[string]any{"resolution": "other"}); r.status != 409 {
			t.Fatalf("closing twice = %d", r.status)
		}
	})

	t.Run("prohibitions fail a sample by themselves", func(t *testing.T) {
		ordinary := smp("LAB1-5", "D1", "diesel", "0", "2026-03-10T10:00:00+08:00", res("sulfur", 6, "mg/kg"))
		ordinary["label"] = "0号普通柴油"
		r := e.do(t, "POST", "/v1/fuel/samples", lab1, ordinary)
		findings, _ := r.body["findings"].([]any)
		if r.status != 201 || r.body["verdict"] != "fail" || len(findings) != 1 || findings[0].(map[string]any)["code"] != "ordinary_diesel" || findings[0].(map[string]any)["clause"] != "task 14" {
			t.Fatalf("ordinary diesel = %d %s", r.status, r.raw)
		}
		v := smp("LAB1-6", "D1", "gasoline", "95", "2026-03-11T10:00:00+08:00", res("sulfur", 6, "mg/kg"))
		v["standard"] = "国五"
		if r := e.do(t, "POST", "/v1/fuel/samples", lab1, v); r.body["verdict"] != "fail" {
			t.Fatalf("China V petrol = %s", r.raw)
		}
		slurry := smp("LAB1-7", "C1", "coal", "煤泥", "2026-03-12T10:00:00+08:00")
		if r := e.do(t, "POST", "/v1/fuel/samples", lab1, slurry); r.status != 201 || r.body["verdict"] != "fail" || r.body["grade"] != "slurry" {
			t.Fatalf("coal slurry = %d %s", r.status, r.raw)
		}
		if r := e.do(t, "GET", "/v1/fuel/cases/nc-C1:LAB1-7", bureau, nil); r.status != 200 || len(r.body["chain"].(map[string]any)["upstream"].([]any)) != 0 {
			t.Fatalf("coal case = %d %s", r.status, r.raw)
		}
	})

	t.Run("CSV import is all or nothing", func(t *testing.T) {
		long := "sample_id,site_id,product,grade,sampled_at,parameter,value,unit\n" +
			"CSV-1,D2,diesel,-10,2026-03-15 10:00,cetane_number,52,\n" +
			"CSV-1,D2,diesel,-10,2026-03-15 10:00,density_20c,0.83,g/cm3\n" +
			"CSV-2,C2,coal,,2026-03-16T10:00:00+08:00,total_sulfur,1.3,%\n" +
			"CSV-2,C2,coal,,2026-03-16T10:00:00+08:00,ash,12,%\n"
		accepted := e.csv(t, lab1, long)
		if accepted.status != http.StatusAccepted || !strings.HasPrefix(accepted.body["import_id"].(string), "imp-") {
			t.Fatalf("an import is a job: %d %s", accepted.status, accepted.raw)
		}
		r := e.importJob(t, lab1, long)
		res := jobResult(r)
		if r.body["status"] != "succeeded" || res["failed"].(float64) != 1 || res["layout"] != "per_parameter" || res["samples"].(float64) != 2 {
			t.Fatalf("import = %d %s", r.status, r.raw)
		}
		if p := r.body["progress"].(map[string]any); p["total_rows"].(float64) != 4 || p["rows_checked"].(float64) != 4 || p["samples_stored"].(float64) != 2 || p["cases_opened"].(float64) != 1 {
			t.Fatalf("progress = %v", p)
		}
		if at := r.body["created_at"].(string); !strings.HasSuffix(at, "+08:00") {
			t.Fatalf("created_at = %s, want China time", at)
		}
		if got := e.do(t, "GET", "/v1/fuel/samples/C2:CSV-2", bureau, nil); got.body["case_id"] != "nc-C2:CSV-2" {
			t.Fatalf("the failing imported sample has no case: %s", got.raw)
		}
		if c := e.do(t, "GET", "/v1/fuel/cases/nc-C2:CSV-2", bureau, nil); c.status != 200 {
			t.Fatalf("the case of the imported sample = %d %s", c.status, c.raw)
		}
		again := e.importJob(t, lab1, long)
		if res := jobResult(again); again.body["status"] != "succeeded" || res["replayed"].(float64) != 2 || res["created"].(float64) != 0 {
			t.Fatalf("same file again = %d %s", again.status, again.raw)
		}
		if n := count(t, e.db, "fuel_cases", bson.D{{Key: "sample_id", Value: "C2:CSV-2"}}); n != 1 {
			t.Fatalf("cases of the re-sent sample = %d, want 1", n)
		}
		before := count(t, e.db, "fuel_samples", bson.D{})
		partly := "sample_id;site_id;product;grade;sampled_at;label;sulfur (mg/kg);olefins (%);cetane_number\n" +
			"CSV-3;D1;gasoline;92;2026-03-17T10:00:00+08:00;;7;12;\n" +
			"CSV-4;D1;gasoline;92;2026-03-17T11:00:00+08:00;=SUM(A1:A9);7;;51\n" +
			"CSV-5;D2;diesel;夏季;2026-03-17T12:00:00+08:00;;;;52\n"
		bad := e.importJob(t, lab1, partly)
		if bad.body["status"] != "failed" || bad.body["error"].(map[string]any)["status"].(float64) != 400 ||
			!slices.Equal(jobFields(bad), []string{"rows[3].cetane_number", "rows[4].grade"}) {
			t.Fatalf("partly invalid = %v %s", jobFields(bad), bad.raw)
		}
		csvErr := e.send(t, "GET", "/v1/fuel/samples/imports/"+bad.body["import_id"].(string)+"/errors.csv", lab1, "", nil)
		if csvErr.status != 200 || !strings.HasPrefix(csvErr.ctype, "text/csv") || !strings.HasPrefix(csvErr.raw, "\ufeff") ||
			!strings.Contains(csvErr.raw, "'=SUM(A1:A9)") || strings.Contains(csvErr.raw, ",=SUM") || !strings.Contains(csvErr.raw, "夏季") {
			t.Fatalf("errors.csv = %d %s %q", csvErr.status, csvErr.ctype, csvErr.raw)
		}
		notFinite := "sample_id,site_id,product,grade,sampled_at,parameter,value,unit\n" +
			"CSV-8,D1,gasoline,92,2026-03-18T10:00:00+08:00,sulfur,NaN,ppm\n" +
			"CSV-9,D1,gasoline,92,2026-03-18T10:00:00+08:00,sulfur,Infinity,ppm\n"
		if r := e.csv(t, lab1, notFinite); r.status != http.StatusBadRequest || !slices.Equal(fields(r), []string{"rows[2].value", "rows[3].value"}) {
			t.Fatalf("NaN and Infinity in a CSV file = %d %v %s, want 400 naming both cells", r.status, fields(r), r.raw)
		}
		stray := "sample_id,site_id,product,grade,sampled_at,parameter,value,unit\n" +
			"CSV-10\"a,D1,gasoline,92,2026-03-18T10:00:00+08:00,sulfur,5,ppm\n"
		if r := e.csv(t, lab1, stray); r.status != http.StatusBadRequest || r.ctype != "application/problem+json" || !slices.Equal(fields(r), []string{"rows[2].sample_id"}) {
			t.Fatalf("a stray quote = %d %v %s, want 400 naming rows[2].sample_id", r.status, fields(r), r.raw)
		}
		outside := "sample_id,site_id,product,grade,sampled_at,parameter,value,unit\n" +
			"CSV-6,D1,gasoline,92,2026-03-18T10:00:00+08:00,sulfur,5,ppm\n" +
			"CSV-7,S3,gasoline,92,2026-03-18T10:00:00+08:00,sulfur,5,ppm\n"
		if r := e.importJob(t, lab1, outside); r.body["status"] != "failed" || r.body["error"].(map[string]any)["status"].(float64) != 403 ||
			!slices.Equal(jobFields(r), []string{"rows[3]"}) {
			t.Fatalf("a row outside the contract = %d %s", r.status, r.raw)
		}
		conflicting := strings.Replace(long, "ash,12", "ash,13", 1)
		if r := e.importJob(t, lab1, conflicting); r.body["status"] != "failed" || r.body["error"].(map[string]any)["status"].(float64) != 409 ||
			!slices.Equal(jobFields(r), []string{"rows[4]"}) {
			t.Fatalf("a stored sample with other content = %d %s", r.status, r.raw)
		}
		if r := e.send(t, "POST", "/v1/fuel/samples/import", lab1, "application/json", strings.NewReader(long)); r.status != 400 || fields(r)[0] != "Content-Type" {
			t.Fatalf("wrong content type = %d %s", r.status, r.raw)
		}
		if after := count(t, e.db, "fuel_samples", bson.D{}); after != before {
			t.Fatalf("samples = %d after refused imports, want %d", after, before)
		}
		// Who sees the job: the uploading lab and the bureau (and the admin, reading); not another
		// lab, nor a station of a site in the file.
		job := "/v1/fuel/samples/imports/" + r.body["import_id"].(string)
		for _, tc := range []struct {
			name, path, token string
			want              int
		}{
			{"the uploading lab", job, lab1, 200}, {"the bureau", job, bureau, 200}, {"the admin", job, admin, 200},
			{"another lab", job, lab2, 404}, {"a station of a site in the file", job, s1, 404}, {"police", job, police, 403}, {"no token", job, "", 401},
			{"another lab's errors.csv", job + "/errors.csv", lab2, 404}, {"an unknown job", "/v1/fuel/samples/imports/imp-nope", bureau, 404},
		} {
			if got := e.do(t, "GET", tc.path, tc.token, nil); got.status != tc.want {
				t.Errorf("%s: GET %s = %d, want %d", tc.name, tc.path, got.status, tc.want)
			}
		}
	})

	t.Run("coverage and plan proposal on a seeded month and year", func(t *testing.T) {
		// March 2026 so far: lab-1 sampled D1 (twice), D2 (CSV-1); C1, C2 (coal). Self-checks do
		// not count, nor does a sample at the black station.
		r := e.do(t, "GET", "/v1/fuel/coverage?month=2026-03", bureau, nil)
		qs := r.body["quotas"].([]any)
		depot, coal := qs[0].(map[string]any), qs[1].(map[string]any)
		dm, cm := depot["month"].(map[string]any), coal["month"].(map[string]any)
		if depot["quota"].(map[string]any)["kind"] != "oil_depot" || dm["population"].(float64) != 3 || dm["sampled"].(float64) != 2 ||
			dm["required"].(float64) != 1 || dm["met"] != true {
			t.Fatalf("depot coverage March = %v", dm)
		}
		if cm["population"].(float64) != 3 || cm["sampled"].(float64) != 2 || cm["met"] != true {
			t.Fatalf("coal coverage March = %v", cm)
		}
		y := e.do(t, "GET", "/v1/fuel/coverage?year=2026", bureau, nil)
		dy := y.body["quotas"].([]any)[0].(map[string]any)
		year := dy["year"].(map[string]any)
		unsampled := dy["unsampled"].([]any)
		if year["population"].(float64) != 3 || year["sampled"].(float64) != 2 || year["met"] != false || len(unsampled) != 1 ||
			unsampled[0].(map[string]any)["site_id"] != "D3" || len(dy["months"].([]any)) < 3 {
			t.Fatalf("depot coverage 2026 = %s", y.raw)
		}
		p := e.do(t, "GET", "/v1/fuel/plans/proposal?month=2026-04&kind=oil_depot&size=3", bureau, nil)
		prop := p.body["proposals"].([]any)[0].(map[string]any)
		var order []string
		for _, s := range prop["sites"].([]any) {
			order = append(order, s.(map[string]any)["site_id"].(string))
		}
		// D1 failed in March (ordinary diesel, China V petrol): first; D3 never sampled; D2 last.
		if !slices.Equal(order, []string{"D1", "D3", "D2"}) || prop["population"].(float64) != 3 {
			t.Fatalf("proposal = %s", p.raw)
		}
		if r := e.do(t, "GET", "/v1/fuel/coverage?month=2026-13", bureau, nil); r.status != 400 || fields(r)[0] != "month" {
			t.Fatalf("bad month = %d %v", r.status, fields(r))
		}
		if r := e.do(t, "GET", "/v1/fuel/plans/proposal?kind=filling_station", bureau, nil); r.status != 400 || fields(r)[0] != "kind" {
			t.Fatalf("plan for a kind without quota = %d %v", r.status, fields(r))
		}
	})

	t.Run("the bureau loads a corrected limit table at runtime", func(t *testing.T) {
		cur := e.do(t, "GET", "/v1/fuel/limits", s1, nil)
		if cur.body["version"].(float64) != 1 || cur.body["source"] != "default" || len(cur.body["units"].([]any)) == 0 {
			t.Fatalf("limits = %.300s", cur.raw)
		}
		table := cur.body["table"].(map[string]any)
		for _, l := range table["limits"].([]any) {
			row := l.(map[string]any)
			if row["product"] == "gasoline" && row["parameter"] == "olefins" && row["stage"] == "VIB" {
				row["limit"] = 14
			}
		}
		table["name"] = "bureau correction 2026-11"
		r := e.do(t, "PUT", "/v1/fuel/limits", bureau, table)
		if r.status != http.StatusCreated || r.body["version"].(float64) != 2 || r.body["source"] != "bureau" {
			t.Fatalf("load = %d %.300s", r.status, r.raw)
		}
		if again := e.do(t, "PUT", "/v1/fuel/limits", bureau, table); again.status != http.StatusOK || again.body["version"].(float64) != 2 {
			t.Fatalf("same table again = %d", again.status)
		}
		up := e.do(t, "POST", "/v1/fuel/samples", s1, smp("S1-SELF-2", "S1", "gasoline", "92", "2026-03-20T09:00:00+08:00", res("olefins", 14.5, "%")))
		if up.body["verdict"] != "fail" || up.body["limits_version"].(float64) != 2 {
			t.Fatalf("judged after the load = %s", up.raw)
		}
		if old := e.do(t, "GET", "/v1/fuel/samples/S1:S1-SELF-1", s1, nil); old.body["limits_version"].(float64) != 1 {
			t.Fatalf("a stored verdict changed table: %s", old.raw)
		}
		if v1 := e.do(t, "GET", "/v1/fuel/limits?version=1", bureau, nil); v1.body["version"].(float64) != 1 {
			t.Fatalf("version 1 = %d", v1.status)
		}
		// A table with its products but no parameter and no limit row was put in force, after
		// which every upload was refused: it is refused itself, and nothing changes.
		empty := map[string]any{"name": "empty", "products": table["products"], "parameters": []any{}, "limits": []any{}, "prohibitions": []any{}}
		if bad := e.do(t, "PUT", "/v1/fuel/limits", bureau, empty); bad.status != 400 || !slices.Contains(fields(bad), "parameters") {
			t.Fatalf("empty table = %d %v", bad.status, fields(bad))
		}
		if cur := e.do(t, "GET", "/v1/fuel/limits", s1, nil); cur.body["version"].(float64) != 2 {
			t.Fatalf("after the empty table the version in force is %v, want 2", cur.body["version"])
		}
		table["limits"].([]any)[0].(map[string]any)["unit"] = "%(m/m)"
		if bad := e.do(t, "PUT", "/v1/fuel/limits", bureau, table); bad.status != 400 || fields(bad)[0] != "limits[0].unit" {
			t.Fatalf("invalid table = %d %v", bad.status, fields(bad))
		}
		if n := count(t, e.db, "fuel_limit_tables", bson.D{}); n != 2 {
			t.Fatalf("limit tables = %d, want 2", n)
		}
	})

	t.Run("lists page with a cursor", func(t *testing.T) {
		seen := map[string]bool{}
		path := "/v1/fuel/samples?limit=3"
		for path != "" {
			r := e.do(t, "GET", path, bureau, nil)
			for _, it := range r.body["items"].([]any) {
				id := it.(map[string]any)["sample_id"].(string)
				if seen[id] {
					t.Fatalf("%s listed twice", id)
				}
				seen[id] = true
			}
			path = ""
			if c, _ := r.body["next_cursor"].(string); c != "" {
				path = "/v1/fuel/samples?limit=3&cursor=" + c
			}
		}
		if want := count(t, e.db, "fuel_samples", bson.D{}); int64(len(seen)) != want {
			t.Fatalf("paged through %d samples, want %d", len(seen), want)
		}
		for _, bad := range []string{"cursor=!!!", "cursor=" + "bm9wZQ", "limit=0", "verdict=maybe", "month=March"} {
			if r := e.do(t, "GET", "/v1/fuel/samples?"+bad, bureau, nil); r.status != http.StatusBadRequest {
				t.Fatalf("GET /v1/fuel/samples?%s = %d, want 400", bad, r.status)
			}
		}
		sites := e.do(t, "GET", "/v1/fuel/sites?kind=oil_depot", bureau, nil)
		if items := sites.body["items"].([]any); len(items) != 3 {
			t.Fatalf("depots = %d", len(items))
		}
		black := e.do(t, "GET", "/v1/fuel/sites?unlicensed=true", bureau, nil)
		if items := black.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["site_id"] != "B1" {
			t.Fatalf("unlicensed sites = %s", black.raw)
		}
		if r := e.do(t, "GET", "/v1/fuel/sites/S1/chain?product=gasoline", bureau, nil); len(r.body["upstream"].([]any)) != 3 {
			t.Fatalf("chain = %s", r.raw)
		}
	})
}

// TestRedisDownAndPendingCases: with Redis unreachable, uploads still succeed, judged by the
// table in MongoDB; a case left pending (a crash between the sample write and the case) is
// opened by the background loop.
func TestRedisDownAndPendingCases(t *testing.T) {
	db := testenv.Mongo(t)
	_, prefix := testenv.Redis(t)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	e := newEnv(t, db, dead, prefix)
	bureau := e.token(t, auth.Bureau, "")
	seedSites(t, e, bureau)
	start := time.Now()
	r := e.do(t, "POST", "/v1/fuel/samples", bureau, smp("B-1", "D1", "gasoline", "92", "2026-03-02T09:00:00+08:00", res("olefins", 20, "%")))
	if r.status != http.StatusCreated || r.body["verdict"] != "fail" || r.body["case_id"] != "nc-D1:B-1" {
		t.Fatalf("upload with Redis down = %d %s", r.status, r.raw)
	}
	for i := range 5 {
		id := fmt.Sprintf("B-%d", i+2)
		if r := e.do(t, "POST", "/v1/fuel/samples", bureau, smp(id, "D1", "gasoline", "92", "2026-03-02T09:00:00+08:00", res("olefins", 10, "%"))); r.status != 201 {
			t.Fatalf("upload %s = %d", id, r.status)
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("6 uploads with Redis down took %s: the marker must back off", took)
	}
	if r := e.do(t, "GET", "/readyz", "", nil); r.body["status"] != "degraded" {
		t.Fatalf("/readyz = %v", r.body)
	}

	// A crash after the sample write: the case is missing and the sample still pending.
	ctx := context.Background()
	if _, err := db.Collection("fuel_cases").DeleteOne(ctx, bson.D{{Key: "_id", Value: "nc-D1:B-1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("fuel_samples").UpdateOne(ctx, bson.D{{Key: "_id", Value: "D1:B-1"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "case_pending", Value: true}}}, {Key: "$unset", Value: bson.D{{Key: "case_id", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.svc.Run(runCtx); close(done) }()
	// The repair opens the case, then links the sample to it: wait for both.
	deadline := time.Now().Add(10 * time.Second)
	for count(t, db, "fuel_cases", bson.D{{Key: "_id", Value: "nc-D1:B-1"}}) == 0 ||
		count(t, db, "fuel_samples", bson.D{{Key: "_id", Value: "D1:B-1"}, {Key: "case_id", Value: "nc-D1:B-1"}}) == 0 {
		if time.Now().After(deadline) {
			got := e.do(t, "GET", "/v1/fuel/samples/D1:B-1", bureau, nil)
			t.Fatalf("the pending case was not opened and linked within 10 s; sample = %s", got.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	if got := e.do(t, "GET", "/v1/fuel/samples/D1:B-1", bureau, nil); got.body["case_id"] != "nc-D1:B-1" {
		t.Fatalf("sample after the repair = %s", got.raw)
	}
}

// TestLimitVersionReachesOtherInstances: a table loaded on one instance is used by another at
// its next upload, through the Redis marker.
func TestLimitVersionReachesOtherInstances(t *testing.T) {
	db := testenv.Mongo(t)
	rdb, prefix := testenv.Redis(t)
	a, b := newEnv(t, db, rdb, prefix), newEnv(t, db, rdb, prefix)
	bureau := a.token(t, auth.Bureau, "")
	seedSites(t, a, bureau)
	cur := a.do(t, "GET", "/v1/fuel/limits", bureau, nil)
	table := cur.body["table"].(map[string]any)
	table["name"] = "stricter sulfur"
	for _, l := range table["limits"].([]any) {
		row := l.(map[string]any)
		if row["product"] == "gasoline" && row["parameter"] == "sulfur" {
			row["limit"] = 5
		}
	}
	if r := a.do(t, "PUT", "/v1/fuel/limits", bureau, table); r.status != http.StatusCreated {
		t.Fatalf("load on a = %d %.200s", r.status, r.raw)
	}
	if v, err := rdb.Get(context.Background(), prefix+"fuel:limits:version").Result(); err != nil || v != "2" {
		t.Fatalf("marker = %q, %v; want 2", v, err)
	}
	r := b.do(t, "POST", "/v1/fuel/samples", bureau, smp("V-1", "D1", "gasoline", "92", "2026-03-02T09:00:00+08:00", res("sulfur", 8, "ppm")))
	if r.body["verdict"] != "fail" || r.body["limits_version"].(float64) != 2 {
		t.Fatalf("instance b judged with = %s", r.raw)
	}
}

// TestMarkerAheadOfMongo: a marker naming a version MongoDB does not have (a database restored
// under a live Redis) falls back to MongoDB, and the background loop resets it.
func TestMarkerAheadOfMongo(t *testing.T) {
	db := testenv.Mongo(t)
	rdb, prefix := testenv.Redis(t)
	e := newEnv(t, db, rdb, prefix)
	bureau := e.token(t, auth.Bureau, "")
	seedSites(t, e, bureau)
	key := prefix + "fuel:limits:version"
	if err := rdb.Set(context.Background(), key, 99, 0).Err(); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "POST", "/v1/fuel/samples", bureau, smp("M-1", "D1", "gasoline", "92", "2026-03-02T09:00:00+08:00", res("sulfur", 8, "ppm")))
	if r.status != http.StatusCreated || r.body["limits_version"].(float64) != 1 {
		t.Fatalf("upload under a marker ahead of MongoDB = %d %s", r.status, r.raw)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v, _ := rdb.Get(context.Background(), key).Result(); v == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the marker was not reset within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}
