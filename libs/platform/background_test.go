package platform

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ok, failing atomic.Int32
	done := make(chan struct{})
	go func() {
		Every(ctx, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)),
			Job{Name: "fails", Run: func(context.Context) (int, error) { failing.Add(1); return 0, errors.New("down") }},
			Job{Name: "works", Run: func(context.Context) (int, error) { ok.Add(1); return 1, nil }})
		close(done)
	}()
	// Wait (bounded) for both jobs to have run at least twice: a failing job must not stop the
	// rounds, nor the job after it.
	deadline := time.Now().Add(5 * time.Second)
	for ok.Load() < 2 || failing.Load() < 2 {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if ok.Load() < 2 || failing.Load() < 2 {
		t.Fatalf("rounds within 5 s: works %d, fails %d; want both run repeatedly despite the failure", ok.Load(), failing.Load())
	}
}

func TestReadInts(t *testing.T) {
	var a, b int
	env := map[string]string{"A": "12"}
	if err := ReadInts(func(k string) string { return env[k] }, EnvInt{"A", &a}, EnvInt{"B", &b}); err != nil || a != 12 || b != 0 {
		t.Fatalf("ReadInts = %v, a=%d b=%d", err, a, b)
	}
	for _, bad := range []string{"0", "-1", "x"} {
		env["B"] = bad
		if err := ReadInts(func(k string) string { return env[k] }, EnvInt{"B", &b}); err == nil {
			t.Errorf("ReadInts accepted %q", bad)
		}
	}
}
