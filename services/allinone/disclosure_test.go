package allinone_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
)

// publicGet reads a public route with no credentials.
func publicGet(t *testing.T, url string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

var (
	vinPattern   = regexp.MustCompile(`\b[A-HJ-NPR-Z0-9]{17}\b`)
	phonePattern = regexp.MustCompile(`(?:\+?86[- ]?)?1[3-9]\d{9}\b|\b0\d{2,3}-\d{7,8}\b`)
)

// TestPublicDisclosure: the bureau compiles the demo months' lists, reviews and publishes them,
// withholding a row with a reason; the public sees only what is published, as JSON and Atom,
// cached and rate-limited, with no VIN, owner or phone number anywhere; a correction supersedes
// the published version and a withdrawn list is gone.
func TestPublicDisclosure(t *testing.T) {
	s := newStack(t)
	base := s.srv.URL
	bureau := s.token(auth.Bureau, "", "bureau-li")
	fleet := s.token(auth.Fleet, "fleet-shuozhou-logistics", "fleet-1")
	police := s.token(auth.Police, "", "officer-1")

	// Nothing is public before the bureau publishes.
	if st, _, body := publicGet(t, base+"/v1/public/lists"); st != 200 || strings.TrimSpace(body) != `{"items":[]}` {
		t.Fatalf("public lists before anything is published: %d %s", st, body)
	}

	t.Run("authorisation matrix", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, token string
			want                int
		}{
			{"POST", "/v1/disclosures", fleet, 403},
			{"POST", "/v1/disclosures", police, 403},
			{"POST", "/v1/disclosures", "", 401},
			{"GET", "/v1/disclosures", fleet, 403},
			{"GET", "/v1/disclosures", "", 401},
			{"GET", "/v1/disclosures/vehicle-exceedances:2026-11:1", police, 403},
			{"POST", "/v1/disclosures/vehicle-exceedances:2026-11:1/publish", fleet, 403},
			{"POST", "/v1/disclosures/vehicle-exceedances:2026-11:1/withdraw", police, 403},
			{"GET", "/v1/remote-sensing/disclosure?month=2026-11", police, 403},
			{"GET", "/v1/fuel/disclosure?month=2026-10", fleet, 403},
			{"GET", "/v1/muck/disclosure?month=2026-11", police, 403},
			{"GET", "/v1/public/lists", "", 200},
			{"GET", "/v1/public/feed.atom", "", 200},
			{"GET", "/v1/public/alert", "", 200},
			{"GET", "/v1/public/lists/vehicle-exceedances/2026-11", "", 404},
		} {
			var body any
			if tc.method == "POST" {
				body = map[string]any{}
			}
			if st, _ := call(t, base, tc.method, tc.path, tc.token, body); st != tc.want {
				t.Errorf("%s %s as %q: %d, want %d", tc.method, tc.path, tc.token, st, tc.want)
			}
		}
	})

	t.Run("bad input names the field and changes nothing", func(t *testing.T) {
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"kind": "owners", "month": "2026-11"}, "kind"},
			{map[string]any{"kind": "fuel-failures", "month": "2026-13"}, "month"},
			{map[string]any{"kind": "fuel-failures", "month": "2026-11", "extra": 1}, "extra"},
			{map[string]any{"kind": "fuel-failures", "month": "2999-01"}, "month"}, // not over
		} {
			st, body := call(t, base, "POST", "/v1/disclosures", bureau, tc.body)
			if st != 400 || fieldNamed(body) != tc.field {
				t.Errorf("%v: %d %v, want 400 naming %s", tc.body, st, body, tc.field)
			}
		}
		if n, _ := s.deps.DB.Collection("disclosure_lists").CountDocuments(t.Context(), bson.D{}); n != 0 {
			t.Fatalf("refused compilations stored %d lists", n)
		}
	})

	compile := func(kind, month string, want int) map[string]any {
		t.Helper()
		st, l := call(t, base, "POST", "/v1/disclosures", bureau, map[string]any{"kind": kind, "month": month})
		if st != want {
			t.Fatalf("compile %s %s: %d %v", kind, month, st, l)
		}
		return l
	}
	veh := compile("vehicle-exceedances", "2026-11", 201)
	fuel := compile("fuel-failures", "2026-10", 201)
	muck := compile("muck-violations", "2026-11", 201)
	for _, l := range []map[string]any{veh, fuel, muck} {
		if l["state"] != "draft" || l["count"].(float64) == 0 {
			t.Fatalf("a demo month's list is empty or not a draft: %v", l)
		}
	}
	plates := map[string]bool{}
	for _, r := range veh["rows"].([]any) {
		plates[r.(map[string]any)["data"].(map[string]any)["plate"].(string)] = true
	}
	if !plates["晋F34567"] || !plates["晋F56789"] {
		t.Fatalf("November's vehicles found exceeding are the demo's two open cases: %v", plates)
	}
	// Compiling the open draft again is the same draft, a revision on.
	again := compile("vehicle-exceedances", "2026-11", 200)
	if again["id"] != veh["id"] || again["revision"].(float64) <= veh["revision"].(float64) {
		t.Fatalf("recompiled draft: %v", again)
	}
	if st, _, _ := publicGet(t, base+"/v1/public/lists/vehicle-exceedances/2026-11"); st != 404 {
		t.Fatalf("a draft is public: %d", st)
	}

	// Publishing what was not reviewed (an older revision) is refused.
	if st, _ := call(t, base, "POST", "/v1/disclosures/"+veh["id"].(string)+"/publish", bureau, map[string]any{"revision": veh["revision"]}); st != 409 {
		t.Fatalf("publish of a stale revision: %d, want 409", st)
	}
	if st, body := call(t, base, "POST", "/v1/disclosures/"+veh["id"].(string)+"/publish", bureau, map[string]any{"revision": again["revision"], "withhold": []any{map[string]any{"row": 9, "reason": "x"}}}); st != 400 || fieldNamed(body) != "withhold[0].row" {
		t.Fatalf("withholding a row that is not there: %d %v", st, body)
	}
	withheldPlate := again["rows"].([]any)[0].(map[string]any)["data"].(map[string]any)["plate"].(string)
	st, pub := call(t, base, "POST", "/v1/disclosures/"+veh["id"].(string)+"/publish", bureau, map[string]any{"revision": again["revision"],
		"withhold": []any{map[string]any{"row": 1, "reason": "车主已申请复核，复核结束前不公开"}}, "note": "2026年11月遥感监测发现的超标车辆"})
	if st != 200 || pub["state"] != "published" || pub["withheld"].(float64) != 1 {
		t.Fatalf("publish: %d %v", st, pub)
	}
	for _, l := range []map[string]any{fuel, muck} {
		if st, p := call(t, base, "POST", "/v1/disclosures/"+l["id"].(string)+"/publish", bureau, map[string]any{"revision": l["revision"]}); st != 200 {
			t.Fatalf("publish %s: %d %v", l["id"], st, p)
		}
	}

	st, hdr, body := publicGet(t, base+"/v1/public/lists/vehicle-exceedances/2026-11")
	if st != 200 || !strings.Contains(hdr.Get("Cache-Control"), "public") || hdr.Get("ETag") == "" {
		t.Fatalf("the published list: %d %v %s", st, hdr, body)
	}
	if strings.Contains(body, withheldPlate) || strings.Contains(body, "复核") || strings.Contains(body, "bureau-li") {
		t.Fatalf("the public list shows a withheld row, its reason or who published it: %s", body)
	}
	if st, _, b := publicGet(t, base+"/v1/public/lists/vehicle-exceedances/2026-11", "If-None-Match", hdr.Get("ETag")); st != 304 || b != "" {
		t.Fatalf("a cached list asked again with its ETag: %d %q", st, b)
	}
	st, hdr, feed := publicGet(t, base+"/v1/public/feed.atom")
	if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/atom+xml") || strings.Count(feed, "<entry>") != 3 || !strings.Contains(feed, "2026-11 机动车排放超标名单") {
		t.Fatalf("the feed: %d %s %s", st, hdr.Get("Content-Type"), feed)
	}

	t.Run("no personal data in any public answer", func(t *testing.T) {
		var answers []string
		for _, p := range []string{"/v1/public/lists", "/v1/public/lists/vehicle-exceedances/2026-11", "/v1/public/lists/fuel-failures/2026-10",
			"/v1/public/lists/muck-violations/2026-11", "/v1/public/feed.atom", "/v1/public/alert"} {
			st, _, b := publicGet(t, base+p)
			if st != 200 {
				t.Fatalf("%s: %d %s", p, st, b)
			}
			answers = append(answers, p+"\n"+b)
		}
		owners := demoOwners(t, base, bureau)
		if len(owners) == 0 {
			t.Fatal("no demo owner to look for")
		}
		for _, a := range answers {
			if v := vinPattern.FindString(a); v != "" {
				t.Errorf("a VIN-like %s in %s", v, a[:strings.Index(a, "\n")])
			}
			if p := phonePattern.FindString(a); p != "" {
				t.Errorf("a phone number %s in %s", p, a[:strings.Index(a, "\n")])
			}
			for o := range owners {
				if strings.Contains(a, o) {
					t.Errorf("the owner %q in %s", o, a[:strings.Index(a, "\n")])
				}
			}
		}
	})

	// A correction: compiled again after publishing, it is version 2, and publishing it
	// supersedes version 1.
	v2 := compile("vehicle-exceedances", "2026-11", 201)
	if v2["version"].(float64) != 2 {
		t.Fatalf("a correction's version: %v", v2["version"])
	}
	if _, _, b := publicGet(t, base+"/v1/public/lists/vehicle-exceedances/2026-11"); !strings.Contains(b, `"version":1`) {
		t.Fatalf("the correction's draft replaced the published list before it was published: %s", b)
	}
	if st, _ := call(t, base, "POST", "/v1/disclosures/"+v2["id"].(string)+"/publish", bureau, map[string]any{"revision": v2["revision"]}); st != 200 {
		t.Fatalf("publish the correction: %d", st)
	}
	if _, _, b := publicGet(t, base+"/v1/public/lists/vehicle-exceedances/2026-11"); !strings.Contains(b, `"version":2`) || !strings.Contains(b, withheldPlate) {
		t.Fatalf("the correction is not what the public sees: %s", b)
	}
	if _, l := call(t, base, "GET", "/v1/disclosures/"+veh["id"].(string), bureau, nil); l["state"] != "superseded" {
		t.Fatalf("version 1 after the correction: %v", l["state"])
	}
	// Withdrawn: gone for the public, kept with its reason for the bureau.
	if st, body := call(t, base, "POST", "/v1/disclosures/"+v2["id"].(string)+"/withdraw", bureau, map[string]any{"reason": ""}); st != 400 || fieldNamed(body) != "reason" {
		t.Fatalf("withdraw without a reason: %d %v", st, body)
	}
	if st, _ := call(t, base, "POST", "/v1/disclosures/"+v2["id"].(string)+"/withdraw", bureau, map[string]any{"reason": "数据有误"}); st != 200 {
		t.Fatalf("withdraw: %d", st)
	}
	if st, _, _ := publicGet(t, base+"/v1/public/lists/vehicle-exceedances/2026-11"); st != 404 {
		t.Fatalf("a withdrawn list is still public: %d", st)
	}

	t.Run("a rate per address", func(t *testing.T) {
		limited := 0
		for range 40 {
			st, hdr, _ := publicGet(t, base+"/v1/public/lists")
			if st == 429 {
				limited++
				if hdr.Get("Retry-After") == "" {
					t.Fatal("a 429 without Retry-After")
				}
			}
		}
		if limited == 0 {
			t.Fatal("40 requests at once from one address were all answered")
		}
	})
}

// demoOwners are the registered owners' names of the demo vehicles.
func demoOwners(t *testing.T, base, bureau string) map[string]bool {
	t.Helper()
	_, list := call(t, base, "GET", "/v1/vehicles?limit=500", bureau, nil)
	out := map[string]bool{}
	for _, it := range list["items"].([]any) {
		vin := it.(map[string]any)["vin"].(string)
		_, v := call(t, base, "GET", "/v1/vehicles/"+vin, bureau, nil)
		if o, _ := v["owner"].(string); o != "" {
			out[o] = true
		}
	}
	return out
}

func fieldNamed(body map[string]any) string {
	errs, _ := body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	f, _ := errs[0].(map[string]any)["field"].(string)
	return f
}
