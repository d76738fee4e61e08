package fuel_test

import (
	"net/http"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/services/fuel/internal/samplingstore"
)

// TestInputBounds: the bounds of docs/inputs.md on fuel's JSON bodies. 1 MB site and lab names were stored,
// NUL and right-to-left overrides too, a key given twice kept the last, and a sample taken at
// +24:00 was judged. Each is now a 400 naming the field, and nothing is written.
func TestInputBounds(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	db := testenv.Mongo(t)
	e := newEnv(t, db, rdb, prefix)
	bureau, s1 := e.token(t, auth.Bureau, ""), e.token(t, auth.Station, "S1")
	send := func(method, path, token string, body any) testenv.Response { return e.Do(t, method, path, token, body) }
	with := func(field string, v any) site {
		s := mkSite("S1", "filling_station")
		s[field] = v
		return s
	}

	t.Run("sites", func(t *testing.T) {
		send("POST", "/v1/fuel/sites", bureau, with("name", strings.Repeat("站", 1<<20))).Refused(t, "name")
		send("POST", "/v1/fuel/sites", bureau, with("name", "Site\x00S1")).Refused(t, "name")
		send("POST", "/v1/fuel/sites", bureau, with("operator", "朔州\u202e油石")).Refused(t, "operator")
		send("POST", "/v1/fuel/sites", bureau, with("note", strings.Repeat("注", 2001))).Refused(t, "note")
		send("POST", "/v1/fuel/sites", bureau, with("suppliers", []string{"D1\u200e"})).Refused(t, "suppliers[0]")
		send("POST", "/v1/fuel/sites", bureau, `{"site_id":"S1","kind":"filling_station","name":"a","name":"b","lat":39.3,"lon":112.4}`).Refused(t, "name")
		if n := count(t, db, samplingstore.Sites, bson.D{}); n != 0 {
			t.Fatalf("%d sites stored from refused bodies", n)
		}
		if r := send("POST", "/v1/fuel/sites", bureau, with("name", strings.Repeat("站", 200))); r.Status != http.StatusCreated {
			t.Fatalf("a 200-character site name: %d %s", r.Status, r.Raw)
		}
		before := send("GET", "/v1/fuel/sites/S1", bureau, nil)
		send("PUT", "/v1/fuel/sites/S1", bureau, with("name", strings.Repeat("N", 1<<20))).Refused(t, "name")
		if after := send("GET", "/v1/fuel/sites/S1", bureau, nil); after.Raw != before.Raw {
			t.Fatalf("a refused update changed the site:\n%s\n%s", before.Raw, after.Raw)
		}
	})

	t.Run("labs", func(t *testing.T) {
		send("PUT", "/v1/fuel/labs/lab-1", bureau, map[string]any{"name": strings.Repeat("L", 1<<20), "site_ids": []string{"S1"}}).Refused(t, "name")
		send("PUT", "/v1/fuel/labs/lab-1", bureau, map[string]any{"name": "Lab\u2067 1", "site_ids": []string{"S1"}}).Refused(t, "name")
		send("PUT", "/v1/fuel/labs/lab-1", bureau, `{"name":"Lab","site_ids":["S1"],"site_ids":[]}`).Refused(t, "site_ids")
		if n := count(t, db, samplingstore.Labs, bson.D{}); n != 0 {
			t.Fatalf("%d labs stored from refused bodies", n)
		}
	})

	t.Run("samples", func(t *testing.T) {
		for _, tc := range []struct {
			field string
			body  any
		}{
			{"sampled_at", smp("X1", "S1", "gasoline", "92", "2026-03-02T09:00:00+24:00", res("sulfur", 5, "mg/kg"))},
			{"sampled_at", smp("X1", "S1", "gasoline", "92", "2026-03-02T09:00:00-14:15", res("sulfur", 5, "mg/kg"))},
			{"label", func() any {
				s := smp("X1", "S1", "gasoline", "92", "2026-03-02T09:00:00+08:00", res("sulfur", 5, "mg/kg"))
				s["label"] = "92\x00"
				return s
			}()},
			{"grade", smp("X1", "S1", "gasoline", "9\u202e2", "2026-03-02T09:00:00+08:00", res("sulfur", 5, "mg/kg"))},
			{"results[0].value", smp("X1", "S1", "gasoline", "92", "2026-03-02T09:00:00+08:00", res("sulfur", 1e300, "mg/kg"))},
			{"results[0].unit", smp("X1", "S1", "gasoline", "92", "2026-03-02T09:00:00+08:00", res("sulfur", 5, "mg/kg\u202e"))},
			{"results[0].parameter", `{"sample_id":"X1","site_id":"S1","product":"gasoline","grade":"92","sampled_at":"2026-03-02T09:00:00+08:00","results":[{"parameter":"sulfur","parameter":"olefins","value":5}]}`},
		} {
			send("POST", "/v1/fuel/samples", s1, tc.body).Refused(t, tc.field)
		}
		if n := count(t, db, samplingstore.Samples, bson.D{}); n != 0 {
			t.Fatalf("%d samples stored from refused bodies", n)
		}
	})
}
