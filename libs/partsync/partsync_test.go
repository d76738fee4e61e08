package partsync_test

import (
	"context"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/partsync"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/testenv"
)

// plates is an owner holding fixed parts.
type plates map[string]summary.Vehicle

func (p plates) Summarise(_ context.Context, keys []string) ([]summary.Entry, error) {
	out := make([]summary.Entry, 0, len(keys))
	for _, k := range keys {
		v, ok := p[k]
		if !ok {
			out = append(out, summary.Entry{PlateKey: k})
			continue
		}
		out = append(out, summary.Entry{PlateKey: k, Data: v})
	}
	return out, nil
}

func (p plates) EachPlate(_ context.Context, fn func([]string) error) error {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	return fn(keys)
}

// TestReconcileRepairsWhatNoCheckSaw: a part wrong in Redis while the synced marker and the
// generation say all is well (a write lost, a partial restore the generation did not catch) is
// rebuilt at the next reconciliation, by one replica.
func TestReconcileRepairsWhatNoCheckSaw(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	rdb, prefix := testenv.Redis(t)
	owner := plates{"晋F50001:yellow": {VIN: "V1", Status: "scrapped"}, "晋F50002:yellow": {VIN: "V2", Status: "active"}}
	src := partsync.Source{Coll: db.Collection("vehicles")}
	a := partsync.New(summary.NewWriter(rdb, prefix, summary.Registry), owner, nil, src)
	b := partsync.New(summary.NewWriter(rdb, prefix, summary.Registry), owner, nil, src)
	if n, err := a.Resync(ctx); err != nil || n != 2 {
		t.Fatalf("first resync = %d, %v; want both plates", n, err)
	}
	status := func() string {
		v, _, ok := summary.Read[summary.Vehicle](rdb.Get(ctx, summary.Key(prefix, "晋F50001:yellow", summary.Registry)).Val(), time.Now())
		if !ok {
			return "missing"
		}
		return v.Status
	}
	// The damage no check sees: an old part written over the current one.
	old, _ := summary.Encode(summary.Registry, time.Now().Add(-time.Hour), summary.Vehicle{VIN: "V1", Status: "active"})
	rdb.Set(ctx, summary.Key(prefix, "晋F50001:yellow", summary.Registry), old, summary.TTL)
	if n, err := a.Resync(ctx); err != nil || n != 0 || status() != "active" {
		t.Fatalf("resync before the reconciliation is due = %d, %v, %s; want nothing done", n, err, status())
	}
	a.SetReconcileEvery(time.Millisecond)
	b.SetReconcileEvery(time.Millisecond)
	time.Sleep(5 * time.Millisecond) // due on both replicas
	na, err := a.Resync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status() != "scrapped" || na != 2 {
		t.Fatalf("after the reconciliation: %s (%d plates rebuilt); want scrapped", status(), na)
	}
	time.Sleep(5 * time.Millisecond)
	if nb, err := b.Resync(ctx); err != nil || nb != 0 {
		t.Fatalf("the other replica rebuilt %d plates (%v) while the first held the claim; want 0", nb, err)
	}
}
