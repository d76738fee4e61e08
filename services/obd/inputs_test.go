package obd_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/testenv"
)

// TestInputBounds: the bounds of docs/inputs.md on OBD uploads. A sample at +24:00, NUL or an override in a
// VIN, a key given twice, a position off the globe and more fault codes than a frame carries
// are each a 400 naming the field, and no frame is written.
func TestInputBounds(t *testing.T) {
	e := newEnv(t)
	e.register(1, "fleet-a")
	fleetA := e.token(auth.Fleet, "fleet-a")
	api := &testenv.API{URL: e.srv.URL}
	at := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	sample := func(field string, v any) map[string]any {
		s := map[string]any{"vin": vinOf(t, 1), "at": at.Format(time.RFC3339), "speed_kmh": 40.5, "lon": 112.43, "lat": 39.33, "mil": "off"}
		s[field] = v
		return map[string]any{"samples": []any{s}}
	}
	many := make([]int, 254)
	for _, tc := range []struct {
		field string
		body  any
	}{
		{"samples[0].at", sample("at", at.Format("2006-01-02T15:04:05")+"+24:00")},
		{"samples[0].at", sample("at", at.Format("2006-01-02T15:04:05")+"+14:30")},
		{"samples[0].vin", sample("vin", vinOf(t, 1)+"\x00")},
		{"samples[0].vin", sample("vin", "\u202e"+vinOf(t, 1))},
		{"samples[0].lat", sample("lat", 91.5)},
		{"samples[0].lon", sample("lon", -180.5)},
		{"samples[0].fault_codes", sample("fault_codes", many)},
		{"samples[0].speed_kmh", `{"samples":[{"vin":"` + vinOf(t, 1) + `","at":"` + at.Format(time.RFC3339) + `","speed_kmh":40,"speed_kmh":90}]}`},
	} {
		api.Do(t, "POST", "/v1/obd/samples", fleetA, tc.body).Refused(t, tc.field)
	}
	if n, _ := e.deps.DB.Collection("obd_frames").CountDocuments(context.Background(), bson.D{}); n != 0 {
		t.Fatalf("%d frames stored from refused bodies", n)
	}
	q := "?from=" + url.QueryEscape(at.Format("2006-01-02T15:04:05")+"+24:00") + "&to=" + url.QueryEscape(at.Format(time.RFC3339))
	api.Do(t, "GET", "/v1/obd/vehicles/"+vinOf(t, 1)+"/samples"+q, fleetA, nil).Refused(t, "from")
}
