package muck_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/services/muck/internal/permitstore"
)

// TestInputBounds: the bounds of docs/inputs.md on muck. 1 MB site names were stored, NUL and right-to-left
// overrides too, a key given twice kept the last, +24:00 was taken as an offset, and a NaN
// position once answered 500 in "allowed". Each is now a 400 naming the field, and nothing is
// written.
func TestInputBounds(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	seedRegistry(t, rdb, prefix)
	db := testenv.Mongo(t)
	e := newEnv(t, db, rdb, prefix, "")
	now := time.Now()
	zj, f1, police := e.token(t, auth.Construction, "zjj-shuocheng"), e.token(t, auth.Fleet, "f1"), e.token(t, auth.Police, "")
	send := func(method, path, token string, body any) testenv.Response { return e.Do(t, method, path, token, body) }
	site := func(field string, v any) map[string]any {
		s := constructionSite()
		s[field] = v
		return s
	}

	t.Run("sites", func(t *testing.T) {
		send("POST", "/v1/muck/sites", zj, site("name", strings.Repeat("工", 1<<20))).Refused(t, "name")
		send("POST", "/v1/muck/sites", zj, site("name", "民福街\x00项目")).Refused(t, "name")
		send("POST", "/v1/muck/sites", zj, site("developer", "朔州\u202e司公限有业置")).Refused(t, "developer")
		send("POST", "/v1/muck/sites", zj, site("address", strings.Repeat("路", 201))).Refused(t, "address")
		send("POST", "/v1/muck/sites", zj, site("site_id", "cs-01\u200f")).Refused(t, "site_id")
		send("POST", "/v1/muck/sites", zj, `{"site_id":"cs-1","kind":"construction","name":"a","name":"b"}`).Refused(t, "name")
		// A key twice inside the GeoJSON area is refused too, at its depth.
		send("POST", "/v1/muck/sites", zj, `{"site_id":"cs-1","kind":"construction","name":"a","area":{"type":"Polygon","type":"MultiPolygon","coordinates":[]}}`).Refused(t, "area.type")
		if n := count(t, db, permitstore.Sites); n != 0 {
			t.Fatalf("%d sites stored from refused bodies", n)
		}
	})

	t.Run("permits and violations", func(t *testing.T) {
		a := application("pmt-x", vinEV, now)
		a["valid_from"] = now.Add(-time.Hour).UTC().Format("2006-01-02T15:04:05") + "+24:00"
		send("POST", "/v1/muck/permits", f1, a).Refused(t, "valid_from")
		a = application("pmt-x", vinEV, now)
		a["valid_to"] = "2026-12-31T00:00:00-14:30"
		send("POST", "/v1/muck/permits", f1, a).Refused(t, "valid_to")
		if n := count(t, db, permitstore.Permits); n != 0 {
			t.Fatalf("%d permits stored from refused bodies", n)
		}
		v := func(field string, x any) map[string]any {
			b := map[string]any{"kind": "leaky_cover", "plate": "晋FD12345", "plate_colour": "yellow_green",
				"observed_at": now.Add(-10 * time.Minute).Format(time.RFC3339), "location": map[string]any{"lat": 39.33, "lon": 112.52},
				"place": "北环路与民福街路口", "photos": []string{"evidence://police/2026/0001.jpg"}}
			b[field] = x
			return b
		}
		send("POST", "/v1/muck/violations", police, v("note", "a\x00b")).Refused(t, "note")
		send("POST", "/v1/muck/violations", police, v("note", strings.Repeat("注", 2001))).Refused(t, "note")
		send("POST", "/v1/muck/violations", police, v("place", "路口\u2066")).Refused(t, "place")
		send("POST", "/v1/muck/violations", police, v("observed_at", now.Add(-10*time.Minute).UTC().Format("2006-01-02T15:04:05")+"+24:00")).Refused(t, "observed_at")
		send("POST", "/v1/muck/violations", police, v("photos", []string{"a", "b\u202e"})).Refused(t, "photos[1]")
		if n := count(t, db, permitstore.Violations); n != 0 {
			t.Fatalf("%d violations stored from refused bodies", n)
		}
	})

	t.Run("allowed", func(t *testing.T) {
		for _, tc := range []struct{ q, field string }{
			{"lat=NaN&lon=112", "lat"}, {"lat=39&lon=NaN", "lon"}, {"lat=Inf&lon=112", "lat"}, {"lat=39&lon=-Infinity", "lon"},
			{"lat=1e999&lon=112", "lat"}, {"lat=91&lon=112", "lat"}, {"lat=39&lon=180.5", "lon"}, {"lat=nan&lon=112", "lat"},
			{"lat=39&lon=112&at=" + url.QueryEscape("2026-12-01T23:30:00+24:00"), "at"},
			{"lat=39&lon=112&at=" + url.QueryEscape("2026-12-01T23:30:00-14:01"), "at"},
		} {
			r := send("GET", "/v1/muck/vehicles/"+vinEV+"/allowed?"+tc.q, police, nil)
			if r.Status >= 500 {
				t.Fatalf("%s answered %d", tc.q, r.Status)
			}
			r.Refused(t, tc.field)
		}
	})
}
