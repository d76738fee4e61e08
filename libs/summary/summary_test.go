package summary_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/testenv"
)

func TestWriterPutDeleteAnnounceAndMarker(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testenv.Redis(t)
	sub := rdb.Subscribe(ctx, summary.ChangedChannel(prefix))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	w := summary.NewWriter(rdb, prefix, summary.Registry)
	v := summary.Vehicle{VIN: "LFWADRJF011002346", Plate: "晋F77777", PlateColour: "yellow"}
	if err := w.Put(ctx, summary.Entry{PlateKey: "晋F77777:yellow", Data: v, VIN: v.VIN}, summary.Entry{PlateKey: "晋F11111:yellow"}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{summary.Key(prefix, "晋F77777:yellow", summary.Registry), summary.VINKey(prefix, v.VIN)} {
		raw, err := rdb.Get(ctx, key).Result()
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		got, _, ok := summary.Read[summary.Vehicle](raw, time.Now())
		if !ok || got.VIN != v.VIN {
			t.Fatalf("%s holds %q", key, raw)
		}
		if ttl := rdb.TTL(ctx, key).Val(); ttl <= 0 || ttl > summary.TTL {
			t.Fatalf("%s TTL = %v", key, ttl)
		}
	}
	for _, want := range []string{"晋F77777:yellow", "晋F11111:yellow"} {
		msg, err := sub.ReceiveMessage(ctx)
		if err != nil || msg.Payload != want {
			t.Fatalf("announcement = %v, %v; want %s", msg, err, want)
		}
	}
	// A nil Data deletes.
	if err := w.Put(ctx, summary.Entry{PlateKey: "晋F77777:yellow"}); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, summary.Key(prefix, "晋F77777:yellow", summary.Registry)).Val(); n != 0 {
		t.Fatal("a nil entry did not delete the part")
	}
	if ok, _, err := w.Synced(ctx); err != nil || ok {
		t.Fatalf("Synced before marking = %v, %v", ok, err)
	}
	if err := w.MarkSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, at, _ := w.Synced(ctx); !ok || time.Since(at) > time.Minute {
		t.Fatalf("Synced after marking = %v at %v", ok, at)
	}
}

func TestReadUnknownWhenMissingUnreadableOrStale(t *testing.T) {
	now := time.Now()
	fresh, _ := summary.Encode(summary.OBD, now.Add(-time.Minute), summary.Truck{VIN: "V"})
	stale, _ := summary.Encode(summary.OBD, now.Add(-summary.MaxAge-time.Second), summary.Truck{VIN: "V"})
	noTime, _ := json.Marshal(map[string]any{"part": "obd", "data": map[string]string{"vin": "V"}})
	tests := []struct {
		name string
		v    any
		ok   bool
	}{
		{"fresh", string(fresh), true},
		{"fresh bytes", fresh, true},
		{"missing", nil, false},
		{"unreadable", "not json", false},
		{"stale", string(stale), false},
		{"no time", string(noTime), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, ok := summary.Read[summary.Truck](tc.v, now)
			if ok != tc.ok || (ok && got.VIN != "V") {
				t.Fatalf("Read = %+v, %v; want ok %v", got, ok, tc.ok)
			}
		})
	}
}
