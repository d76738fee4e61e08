package samplingcache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clearsky/clearsky/libs/testenv"
)

func TestMarker(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testenv.Redis(t)
	m := New(rdb, prefix)
	if _, ok, err := m.Active(ctx); ok || err != nil {
		t.Fatalf("Active(empty) = %v, %v; want not published", ok, err)
	}
	for _, v := range []int{3, 2} {
		if err := m.Publish(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok, err := m.Active(ctx); v != 3 || !ok || err != nil {
		t.Fatalf("Active after publishing 3 then 2 = %d %v %v; the marker only rises", v, ok, err)
	}
	if err := m.Reset(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := m.Active(ctx); v != 2 {
		t.Fatalf("Active after Reset(2) = %d", v)
	}
	if err := rdb.Set(ctx, m.Key(), "garbage", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := m.Active(ctx); ok || err != nil {
		t.Fatalf("a garbled marker = %v, %v; want missing", ok, err)
	}
	if err := m.Publish(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := m.Active(ctx); v != 4 {
		t.Fatalf("Publish over a garbled marker = %d", v)
	}
}

func TestMarkerBacksOffWhenRedisIsDown(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	m := New(dead, "x:")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	if _, _, err := m.Active(context.Background()); err == nil {
		t.Fatal("Active on a dead Redis succeeded")
	}
	if _, _, err := m.Active(context.Background()); !errors.Is(err, errSkipped) {
		t.Fatalf("second call within the backoff = %v, want skipped", err)
	}
	now = now.Add(6 * time.Second)
	if _, _, err := m.Active(context.Background()); err == nil || errors.Is(err, errSkipped) {
		t.Fatalf("after the backoff = %v, want a real attempt", err)
	}
}
