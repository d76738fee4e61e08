package permitcache_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
	"github.com/clearsky/clearsky/services/muck/internal/permitcache"
)

// fakeOwners answers as the owners' status routes would, or fails when down.
type fakeOwners struct {
	parts map[string]string // part + "/" + plate → JSON
	down  bool
	asked []string
}

func (f *fakeOwners) Fetch(_ context.Context, p summary.Part, plate string, colour vehicleid.Colour) (json.RawMessage, error) {
	f.asked = append(f.asked, string(p)+"/"+plate)
	if f.down {
		return nil, errors.New("connection refused")
	}
	if s, ok := f.parts[string(p)+"/"+plate]; ok {
		return json.RawMessage(s), nil
	}
	return json.RawMessage(`{}`), nil
}

func TestSignals(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testenv.Redis(t)
	owners := &fakeOwners{parts: map[string]string{
		"remotesensing/D": `{"open_cases": [{"id": "c9", "pollutant": "no", "state": "notified"}]}`,
		"obd/E":           `{"open_alarms": [{"kind": "tamper"}]}`,
	}}
	c := permitcache.New(rdb, prefix, owners)
	put := func(plateKey string, p summary.Part, data string) {
		b, err := summary.Encode(p, time.Now(), json.RawMessage(data))
		if err != nil {
			t.Fatal(err)
		}
		rdb.Set(ctx, summary.Key(prefix, plateKey, p), b, time.Minute)
	}
	put("A:yellow", summary.RemoteSensing, `{"exceeding": true, "open_cases": [{"id": "c1", "pollutant": "no", "state": "notified"}]}`)
	put("A:yellow", summary.OBD, `{"vin": "V", "open_alarms": []}`)
	put("B:yellow", summary.RemoteSensing, `{"exceeding": false, "open_cases": []}`)
	put("B:yellow", summary.OBD, `{"vin": "V", "open_alarms": [{"kind": "nox_high"}]}`)
	put("C:yellow", summary.RemoteSensing, `{"open_cases": [{"id": "c2", "pollutant": "opacity", "state": "detected"}]}`)
	put("C:yellow", summary.OBD, `{"open_alarms": [{"kind": "reagent_empty"}]}`)
	put("E:yellow", summary.RemoteSensing, `{"open_cases": []}`)
	rdb.Set(ctx, summary.Key(prefix, "E:yellow", summary.OBD), "not json", time.Minute)
	// A part from a cache restored from an old copy is stale: unknown, asked of its owner.
	old, _ := summary.Encode(summary.RemoteSensing, time.Now().Add(-summary.MaxAge-time.Hour), json.RawMessage(`{"open_cases": []}`))
	rdb.Set(ctx, summary.Key(prefix, "F:yellow", summary.RemoteSensing), old, time.Minute)
	put("F:yellow", summary.OBD, `{"open_alarms": []}`)
	owners.parts["remotesensing/F"] = `{"open_cases": [{"id": "c8", "pollutant": "opacity", "state": "detected"}]}`
	tests := []struct {
		plate string
		want  permit.Signals
	}{
		{"A:yellow", permit.Signals{RemoteSensingOpen: true}},
		{"B:yellow", permit.Signals{OBDAlarm: true}},
		{"C:yellow", permit.Signals{RemoteSensingOpen: true, OBDAlarm: true}},
		// No parts in Redis: missing is unknown, so the owners are asked (D's has an open case;
		// this read as "nothing open" before).
		{"D:yellow", permit.Signals{RemoteSensingOpen: true}},
		{"E:yellow", permit.Signals{OBDAlarm: true}},          // unreadable OBD part: asked
		{"F:yellow", permit.Signals{RemoteSensingOpen: true}}, // stale part: asked
	}
	for _, tc := range tests {
		got, err := c.Signals(ctx, tc.plate)
		if err != nil || got != tc.want {
			t.Errorf("Signals(%s) = %+v, %v; want %+v", tc.plate, got, err, tc.want)
		}
	}
	if len(owners.asked) != 4 {
		t.Errorf("owners asked %v; want only the parts Redis did not know", owners.asked)
	}
	owners.down = true
	if _, err := c.Signals(ctx, "G:yellow"); !errors.Is(err, apperr.ErrUnavailable) {
		t.Errorf("Signals with parts unknown and owners down: error = %v, want ErrUnavailable (never read as clean)", err)
	}
}
