package allinone_test

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/clearsky/clearsky/libs/auth"
)

// BenchmarkCheckpointCached is one cached verdict through the whole HTTP edge (authentication,
// tracing, metrics, audit queue) in process, against real Redis, with the parts warmed first.
func BenchmarkCheckpointCached(b *testing.B) {
	s := newStack(b)
	// Many officers, so the per-officer rate limit does not trip.
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = s.token(auth.Police, "", fmt.Sprintf("bench-officer-%d", i))
	}
	path := "/v1/checkpoint/" + url.PathEscape("晋F23456") + "?colour=yellow"
	n := 0
	run := func() int {
		n++
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tokens[n%len(tokens)])
		rec := httptest.NewRecorder()
		s.engine.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := run(); code != 200 {
		b.Fatalf("warm-up lookup = %d", code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if code := run(); code != 200 {
			b.Fatalf("lookup = %d", code)
		}
	}
}
