package verdictstore

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/services/checkpoint/internal/verdict"
)

func TestLookupTrailPackedAndLegacy(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	s := New(db, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	at := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	// A batch written before packing: its lookups as subdocuments.
	legacy := lookupDoc{Officer: "officer-1", Role: "police", Plate: "晋F00001", Colour: "blue", At: at, Verdict: "pass", Reasons: []string{}}
	if _, err := db.Collection(Lookups).InsertOne(ctx, batchDoc{ID: "old", First: at, Last: at, Officers: []string{"officer-1"},
		Plates: []string{"晋F00001"}, Entries: []lookupDoc{legacy}}); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.Run(runCtx); close(done) }()
	for i, officer := range []string{"officer-1", "officer-2", "officer-1"} {
		l := verdict.Lookup{Officer: officer, Role: auth.Police, Plate: "晋F00002", Colour: "yellow", At: at.Add(time.Duration(i+1) * time.Minute),
			Verdict: verdict.Stop, Reasons: []string{"scrapped"}, Position: &geo.Point{Lon: 112.4, Lat: 39.3}}
		if err := s.Record(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	<-done // Run writes what is queued before it returns
	got, err := s.Recent(ctx, "officer-1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].At != at.Add(3*time.Minute) || got[2].Plate != "晋F00001" || got[0].Verdict != verdict.Stop ||
		got[0].Position == nil || got[0].Position.Lat != 39.3 || len(got[0].Reasons) != 1 {
		t.Fatalf("officer-1's lookups = %+v; want the two packed ones (newest first, with position and reasons) and the legacy one", got)
	}
	if got, _ := s.Recent(ctx, "officer-2", 10); len(got) != 1 {
		t.Fatalf("officer-2's lookups = %+v, want 1", got)
	}
}
