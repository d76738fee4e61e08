package registry_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/testenv"
)

// TestInputBounds: the bounds of docs/inputs.md. A fleet stored a 7 MB maker (the bureau's vehicle list
// grew to 7.3 MB); NUL and right-to-left override characters were stored; a key given twice
// kept the last; a +24:00 offset was taken. Each is now a 400 naming the field, and nothing is
// written.
func TestInputBounds(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix)
	fleet, bureau := e.token(t, auth.Fleet, "f1"), e.token(t, auth.Bureau, "")
	send := func(method, path, token string, body any) testenv.Response {
		return e.Do(t, method, path, token, body)
	}
	with := func(n, field string, v any) map[string]any {
		b := truck(t, n, "晋F3"+n+"45")
		b[field] = v
		return b
	}

	t.Run("create", func(t *testing.T) {
		for _, tc := range []struct {
			name, field string
			body        any
		}{
			{"a 7 MB maker", "maker", with("11", "maker", strings.Repeat("M", 7<<20))},
			{"201 Chinese characters", "maker", with("12", "maker", strings.Repeat("重", 201))},
			{"NUL in the maker", "maker", with("13", "maker", "Sino\x00truk")},
			{"right-to-left override in the owner", "owner", with("14", "owner", "Demo \u202eoC scitsigoL")},
			{"isolate in the place", "registered_place", with("15", "registered_place", "朔州\u2067市")},
			{"a line break in a name", "maker", with("16", "maker", "Sino\ntruk")},
			{"right-to-left mark in the fleet id", "fleet_id", with("17", "fleet_id", "f1\u200f")},
			{"C1 control in the status reason", "status_reason", with("18", "status_reason", "x\u009by")},
			{"a 65-character plate", "plate", with("19", "plate", strings.Repeat("A", 65))},
			{"duplicate key", "maker", fmt.Sprintf(`{"vin":%q,"plate":"晋F31045","plate_colour":"yellow","fuel_type":"diesel","emission_standard":"VIa","category":"N3","use":"operating","maker":"A","maker":"B","registered_on":"2022-03-15"}`, truck(t, "10", "x")["vin"])},
		} {
			t.Run(tc.name, func(t *testing.T) {
				token := fleet
				if tc.field == "fleet_id" {
					token = bureau
				}
				send("POST", "/v1/vehicles", token, tc.body).Refused(t, tc.field)
			})
		}
		if n := count(t, e.db, "vehicles", bson.D{}); n != 0 {
			t.Fatalf("%d vehicles stored from refused bodies", n)
		}
		// The bounds count characters, not bytes: 200 Chinese characters (600 bytes) are a name.
		b := with("20", "maker", strings.Repeat("重", 200))
		b["status_reason"] = "line one\nline two\ttabbed"
		if r := send("POST", "/v1/vehicles", bureau, b); r.Status != http.StatusCreated {
			t.Fatalf("a 200-character maker: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("patch", func(t *testing.T) {
		b := truck(t, "21", "晋F32145")
		vin := b["vin"].(string)
		if r := send("POST", "/v1/vehicles", fleet, b); r.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.Status, r.Raw)
		}
		before := send("GET", "/v1/vehicles/"+vin, bureau, nil)
		send("PATCH", "/v1/vehicles/"+vin, bureau, map[string]any{"maker": strings.Repeat("M", 1<<20)}).Refused(t, "maker")
		send("PATCH", "/v1/vehicles/"+vin, bureau, map[string]any{"owner": "\u202eevil"}).Refused(t, "owner")
		send("PATCH", "/v1/vehicles/"+vin, bureau, `{"maker":"Foton","maker":"Shacman"}`).Refused(t, "maker")
		send("PATCH", "/v1/vehicles/"+vin, bureau, map[string]any{"gross_mass_kg": 100001}).Refused(t, "gross_mass_kg")
		send("PATCH", "/v1/vehicles/"+vin, fleet, map[string]any{"maker": "Sino\x00"}).Refused(t, "maker")
		after := send("GET", "/v1/vehicles/"+vin, bureau, nil)
		if before.Body["maker"] != after.Body["maker"] || before.Body["version"] != after.Body["version"] || after.Body["owner"] != b["owner"] {
			t.Fatalf("a refused patch changed the vehicle: %v -> %v", before.Body, after.Body)
		}
		if n := count(t, e.db, "vehicle_proposals", bson.D{}); n != 0 {
			t.Fatalf("%d proposals stored from refused bodies", n)
		}
		send("PUT", "/v1/vehicles/"+vin+"/terminal", fleet, `{"iccid":"89860012345678901234","iccid":"89860012345678901235"}`).Refused(t, "iccid")
		send("POST", "/v1/screenings", bureau, map[string]any{"purpose": "inspection_mark", "vin": vin,
			"inspection_report": map[string]any{"report_id": "r\u202e1", "station_id": "s1", "result": "pass", "inspected_on": "2026-01-02"}}).Refused(t, "inspection_report.report_id")
		if n := count(t, e.db, "screenings", bson.D{}); n != 0 {
			t.Fatalf("%d screenings stored from refused bodies", n)
		}
	})
}
