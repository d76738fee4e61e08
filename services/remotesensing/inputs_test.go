package remotesensing_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensingstore"
)

// TestInputBounds: the bounds of docs/inputs.md on remote sensing. 1 MB station and limit-table names were
// stored; so were NUL and right-to-left overrides; a key given twice kept the last; a reading
// measured at +24:00 was taken. Each is now a 400 naming the field, and nothing is written.
func TestInputBounds(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	reg := newFakeRegistry(t)
	reg.add(truck)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix, reg)
	e.cacheVehicle(t, truck)
	bureau, sensor := e.token(t, auth.Bureau, ""), e.token(t, auth.Sensor, "op-1")
	calibrated := time.Now().AddDate(0, 0, -10)
	send := func(method, path, token string, body any) testenv.Response { return e.Do(t, method, path, token, body) }
	with := func(field string, v any) map[string]any {
		s := station("RS-X", "op-1", calibrated)
		s[field] = v
		return s
	}

	t.Run("stations", func(t *testing.T) {
		send("POST", "/v1/remote-sensing/stations", bureau, with("name", strings.Repeat("N", 1<<20))).Refused(t, "name")
		send("POST", "/v1/remote-sensing/stations", bureau, with("name", "Kaifa\x00Road")).Refused(t, "name")
		send("POST", "/v1/remote-sensing/stations", bureau, with("site", "开发路\u202e口叉交")).Refused(t, "site")
		send("POST", "/v1/remote-sensing/stations", bureau, with("operator_id", "op-1\u200e")).Refused(t, "operator_id")
		send("POST", "/v1/remote-sensing/stations", bureau, `{"station_id":"RS-X","station_id":"RS-Y","name":"n","lat":39.3,"lon":112.4,"operator_id":"op-1","calibrated_on":"2026-01-01"}`).Refused(t, "station_id")
		if n := count(t, e.db, sensingstore.Stations, bson.D{}); n != 0 {
			t.Fatalf("%d stations stored from refused bodies", n)
		}
		// 200 Chinese characters are a name.
		if r := send("POST", "/v1/remote-sensing/stations", bureau, with("name", strings.Repeat("站", 200))); r.Status != http.StatusCreated {
			t.Fatalf("a 200-character name: %d %s", r.Status, r.Raw)
		}
		send("PATCH", "/v1/remote-sensing/stations/RS-X", bureau, map[string]any{"name": strings.Repeat("N", 1<<20)}).Refused(t, "name")
		send("PATCH", "/v1/remote-sensing/stations/RS-X", bureau, map[string]any{"device": "RSD\u2066-5000"}).Refused(t, "device")
		send("PATCH", "/v1/remote-sensing/stations/RS-X", bureau, `{"lane":"1","lane":"2"}`).Refused(t, "lane")
		if r := send("GET", "/v1/remote-sensing/stations/RS-X", bureau, nil); r.Body["name"] != strings.Repeat("站", 200) || r.Body["version"] != float64(1) {
			t.Fatalf("a refused patch changed the station: %s", r.Raw)
		}
	})

	t.Run("readings", func(t *testing.T) {
		for _, tc := range []struct {
			name, field string
			change      func(map[string]any)
		}{
			{"offset +24:00", "[0].measured_at", func(r map[string]any) {
				r["measured_at"] = time.Now().Add(-time.Minute).Format("2006-01-02T15:04:05") + "+24:00"
			}},
			{"offset -14:30", "[0].measured_at", func(r map[string]any) { r["measured_at"] = "2026-01-02T03:04:05-14:30" }},
			{"NUL in the plate", "[0].plate", func(r map[string]any) { r["plate"] = "晋F\x0012345" }},
			{"an override in a photo reference", "[0].photos[0]", func(r map[string]any) { r["photos"] = []string{"oss://\u202egpj.x"} }},
			{"a 65-character reading id", "[0].reading_id", func(r map[string]any) { r["reading_id"] = strings.Repeat("R", 65) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := rd("RS-X", truck.Plate, truck.PlateColour, time.Minute, 20)
				tc.change(r)
				send("POST", "/v1/remote-sensing/measurements", sensor, []any{r}).Refused(t, tc.field)
			})
		}
		send("POST", "/v1/remote-sensing/measurements", sensor, `[{"reading_id":"R1","reading_id":"R2"}]`).Refused(t, "[0].reading_id")
		if n := count(t, e.db, sensingstore.Readings, bson.D{}); n != 0 {
			t.Fatalf("%d readings stored from refused bodies", n)
		}
		// A time in a query is held to the same offsets.
		send("GET", "/v1/remote-sensing/measurements?from=2026-01-02T00:00:00%2B24:00", bureau, nil).Refused(t, "from")
	})

	t.Run("limit tables", func(t *testing.T) {
		r := send("GET", "/v1/remote-sensing/limits", bureau, nil)
		versions := r.Body["versions"].([]any)
		v := versions[len(versions)-1].(map[string]any)
		v["effective_from"] = time.Now().In(time.FixedZone("CST", 8*3600)).AddDate(0, 0, 1).Format(time.DateOnly)
		for _, tc := range []struct {
			field string
			value any
		}{
			{"version", strings.Repeat("v", 1<<20)},
			{"source", strings.Repeat("s", 1<<20)},
			{"version", "tighter\u202e"},
			{"source", "notice\x00"},
		} {
			c := map[string]any{}
			for k, x := range v {
				c[k] = x
			}
			c[tc.field] = tc.value
			send("POST", "/v1/remote-sensing/limits/versions", bureau, c).Refused(t, tc.field)
		}
		if n := count(t, e.db, sensingstore.LimitVersions, bson.D{}); n != 0 {
			t.Fatalf("%d limit versions stored from refused bodies", n)
		}
	})
}
