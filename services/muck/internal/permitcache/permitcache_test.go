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
	"github.com/clearsky/clearsky/services/muck/internal/permit"
	"github.com/clearsky/clearsky/services/muck/internal/permitcache"
)

func TestPutAndSynced(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testenv.Redis(t)
	c := permitcache.New(rdb, prefix)
	m := summary.MuckStatus{Plate: "晋FD12345", PlateColour: "yellow_green", PermitState: "approved", Permits: []summary.MuckPermit{}, Passes: []summary.MuckPass{},
		RecentViolations: []summary.MuckViolation{}, Timezone: "Asia/Shanghai"}
	if err := c.Put(ctx, "晋FD12345:yellow_green", m); err != nil {
		t.Fatal(err)
	}
	key := summary.Key(prefix, "晋FD12345:yellow_green", summary.Muck)
	raw, err := rdb.Get(ctx, key).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	env, err := summary.Decode(raw)
	if err != nil || env.Part != summary.Muck {
		t.Fatalf("envelope = %+v, %v", env, err)
	}
	var got summary.MuckStatus
	if err := json.Unmarshal(env.Data, &got); err != nil || got.PermitState != "approved" {
		t.Fatalf("stored summary = %+v, %v", got, err)
	}
	if ttl := rdb.TTL(ctx, key).Val(); ttl <= 0 || ttl > summary.TTL {
		t.Fatalf("TTL = %v, want up to %v", ttl, summary.TTL)
	}
	if ok, err := c.Synced(ctx); err != nil || ok {
		t.Fatalf("Synced before marking = %v, %v", ok, err)
	}
	if err := c.MarkSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Synced(ctx); !ok {
		t.Fatal("Synced after marking = false")
	}
}

func TestSignals(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testenv.Redis(t)
	c := permitcache.New(rdb, prefix)
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
	rdb.Set(ctx, summary.Key(prefix, "E:yellow", summary.OBD), "not json", time.Minute)
	tests := []struct {
		plate string
		want  permit.Signals
	}{
		{"A:yellow", permit.Signals{RemoteSensingOpen: true}},
		{"B:yellow", permit.Signals{OBDAlarm: true}},
		{"C:yellow", permit.Signals{RemoteSensingOpen: true, OBDAlarm: true}},
		{"D:yellow", permit.Signals{}}, // no parts at all
	}
	for _, tc := range tests {
		got, err := c.Signals(ctx, tc.plate)
		if err != nil || got != tc.want {
			t.Errorf("Signals(%s) = %+v, %v; want %+v", tc.plate, got, err, tc.want)
		}
	}
	if _, err := c.Signals(ctx, "E:yellow"); !errors.Is(err, apperr.ErrUnavailable) {
		t.Errorf("Signals of an unreadable part error = %v, want ErrUnavailable (never read as clean)", err)
	}
}
