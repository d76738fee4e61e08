package verdictstore

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"

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

// TestBadLookupDoesNotTakeItsBatch: a lookup that cannot be encoded (a NaN position got past
// every check) is logged and left out; the other lookups of its batch, another officer's among
// them, are stored and read back, and the officer's own trail keeps answering.
func TestBadLookupDoesNotTakeItsBatch(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	var logged strings.Builder
	s := New(db, 0, slog.New(slog.NewJSONHandler(&logged, nil)))
	at := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	nan := math.NaN()
	// Queued before the writer runs, so they land in one batch.
	if err := s.Record(ctx, verdict.Lookup{Officer: "officer-1", Role: auth.Police, Plate: "晋F00001", Colour: "yellow", At: at,
		Verdict: verdict.Pass, Position: &geo.Point{Lon: nan, Lat: nan}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		officer := "officer-2"
		if i%5 == 0 {
			officer = "officer-1"
		}
		if err := s.Record(ctx, verdict.Lookup{Officer: officer, Role: auth.Police, Plate: "晋F00002", Colour: "yellow",
			At: at.Add(time.Duration(i+1) * time.Second), Verdict: verdict.Pass, Position: &geo.Point{Lon: 112.4, Lat: 39.3}}); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.Run(runCtx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := s.Recent(ctx, "officer-2", 50)
		if err != nil {
			t.Fatalf("officer-2's trail after a bad lookup in the batch: %v", err)
		}
		if len(got) == 16 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("officer-2's lookups = %d, want 16", len(got))
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	<-done
	got, err := s.Recent(ctx, "officer-1", 50)
	if err != nil || len(got) != 4 {
		t.Fatalf("officer-1's lookups = %d, %v; want the 4 good ones", len(got), err)
	}
	if !strings.Contains(logged.String(), "checkpoint_lookup_not_recorded") || !strings.Contains(logged.String(), "晋F00001") {
		t.Fatalf("the skipped lookup was not logged with what is known: %s", logged.String())
	}
}

// TestUnreadableBatchIsPassedOver: a batch written before the fix (an unencodable lookup packed
// as nothing) is logged and passed over; the officer's other lookups are still read.
func TestUnreadableBatchIsPassedOver(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	var logged strings.Builder
	s := New(db, 0, slog.New(slog.NewJSONHandler(&logged, nil)))
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	good := lookupDoc{Officer: "officer-1", Role: "police", Plate: "晋F00001", Colour: "blue", At: at, Verdict: "pass", Reasons: []string{}}
	packed, _ := pack([]lookupDoc{good}, func(lookupDoc, error) {})
	for _, b := range []batchDoc{
		{ID: "poisoned", First: at, Last: at.Add(time.Minute), Officers: []string{"officer-1"}, Plates: []string{"晋F00002"},
			Packing: packing, Packed: s2.Encode(nil, nil)},
		{ID: "good", First: at, Last: at, Officers: []string{"officer-1"}, Plates: []string{"晋F00001"}, Packing: packing, Packed: packed},
	} {
		if _, err := db.Collection(Lookups).InsertOne(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Recent(ctx, "officer-1", 10)
	if err != nil || len(got) != 1 || got[0].Plate != "晋F00001" {
		t.Fatalf("Recent = %+v, %v; want the one readable lookup", got, err)
	}
	if !strings.Contains(logged.String(), "checkpoint_lookup_batch_unreadable") {
		t.Fatalf("the unreadable batch was not logged: %s", logged.String())
	}
}

// TestRecordDoesNotWaitLongOnAFullQueue: with the writer stopped (MongoDB not answering) and
// the queue full, Record fails after MaxQueueWait instead of holding the lookup, and the lookup
// is never answered unaudited.
func TestRecordDoesNotWaitLongOnAFullQueue(t *testing.T) {
	s := New(nil, 1, slog.New(slog.NewTextHandler(io.Discard, nil))) // no Run: nothing drains it
	l := verdict.Lookup{Officer: "o", Plate: "晋F12345", At: time.Now()}
	if err := s.Record(context.Background(), l); err != nil {
		t.Fatalf("the first lookup, with room: %v", err)
	}
	t0 := time.Now()
	err := s.Record(context.Background(), l)
	if took := time.Since(t0); err == nil || took < MaxQueueWait || took > MaxQueueWait+500*time.Millisecond {
		t.Fatalf("Record on a full queue: %v after %v; want a failure after about %v", err, took, MaxQueueWait)
	}
}
