package allinone_test

import (
	"context"
	stdjson "encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/testenv"
)

// TestCheckpointInputBounds: the bounds of docs/inputs.md on the checkpoint's alerts. An alert starting at
// +24:00, a 1 MB reason, NUL, an override in a zone's name, a key given twice and a zone of
// more than 10000 positions are each a 400 naming the field, and no alert is stored.
func TestCheckpointInputBounds(t *testing.T) {
	s := newStack(t)
	bureau := s.token(auth.Bureau, "", "")
	api := &testenv.API{URL: s.srv.URL}
	alerts := s.deps.DB.Collection("alerts")
	before, err := alerts.CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	alert := func(change func(map[string]any)) map[string]any {
		a := map[string]any{"level": "red", "starts_at": now.Add(-time.Minute).Format(time.RFC3339), "ends_at": now.Add(time.Hour).Format(time.RFC3339),
			"reason": "PM2.5 forecast above 300", "restrictions": []any{map[string]any{"class": "heavy_diesel", "max_standard": "V", "zone_name": "城区"}}}
		change(a)
		return a
	}
	var ring strings.Builder
	ring.WriteString("[[112,39]")
	for i := 1; i < 10001; i++ {
		fmt.Fprintf(&ring, ",[%v,39.5]", 112+float64(i)/20000)
	}
	ring.WriteString(",[113,40],[112,39]]")
	for _, tc := range []struct {
		field string
		body  any
	}{
		{"starts_at", alert(func(a map[string]any) { a["starts_at"] = now.Format("2006-01-02T15:04:05") + "+24:00" })},
		{"ends_at", alert(func(a map[string]any) { a["ends_at"] = "2026-12-31T00:00:00-15:00" })},
		{"reason", alert(func(a map[string]any) { a["reason"] = strings.Repeat("霾", 1<<20) })},
		{"reason", alert(func(a map[string]any) { a["reason"] = "PM2.5\x00" })},
		{"restrictions[0].zone_name", alert(func(a map[string]any) {
			a["restrictions"] = []any{map[string]any{"class": "any", "zone_name": "城区\u202e"}}
		})},
		{"restrictions[0].zone", alert(func(a map[string]any) {
			a["restrictions"] = []any{map[string]any{"class": "any", "zone": map[string]any{"type": "Polygon", "coordinates": []any{stdjson.RawMessage(ring.String())}}}}
		})},
		{"level", `{"level":"yellow","level":"red","starts_at":"2026-12-01T00:00:00+08:00","ends_at":"2026-12-02T00:00:00+08:00"}`},
	} {
		api.Do(t, "POST", "/v1/alerts", bureau, tc.body).Refused(t, tc.field)
	}
	if after, _ := alerts.CountDocuments(context.Background(), bson.D{}); after != before {
		t.Fatalf("alerts went from %d to %d on refused bodies", before, after)
	}
}
