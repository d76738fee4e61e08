package outbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/libs/testenv"
)

type doc struct {
	ID            string `bson:"_id"`
	Name          string `bson:"name"`
	Version       int64  `bson:"version"`
	outbox.Fields `bson:",inline"`
}

func insert(t *testing.T, coll *mongo.Collection, id string, now time.Time, rs ...outbox.Record) {
	t.Helper()
	if _, err := coll.InsertOne(context.Background(), doc{ID: id, Name: "a", Version: 1, Fields: outbox.New(now, rs...)}); err != nil {
		t.Fatal(err)
	}
}

// write changes a document and appends records in one update, bumping its version.
func write(t *testing.T, coll *mongo.Collection, id, name string, now time.Time, rs ...outbox.Record) {
	t.Helper()
	upd := outbox.Append(bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: name}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}}, now, rs...)
	if _, err := coll.UpdateOne(context.Background(), bson.D{{Key: "_id", Value: id}}, upd); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, coll *mongo.Collection, id string) bson.M {
	t.Helper()
	var m bson.M
	if err := coll.FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func records(t *testing.T, coll *mongo.Collection, id string) int {
	t.Helper()
	a, _ := get(t, coll, id)[outbox.FieldRecords].(bson.A)
	return len(a)
}

// collector is a Deliver that records what it was given and fails while failing is set.
type collector struct {
	mu      sync.Mutex
	got     []outbox.Record
	failing error
	during  func() // runs inside delivery, e.g. a concurrent write
}

func (c *collector) deliver(_ context.Context, due []outbox.Due) []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.during != nil {
		c.during()
	}
	if c.failing != nil {
		return outbox.ErrAll(len(due), c.failing)
	}
	for _, d := range due {
		c.got = append(c.got, d.Records...)
	}
	return nil
}

func TestRunnerDeliversInOrderAndCoalesces(t *testing.T) {
	coll := testenv.Mongo(t).Collection("things")
	now := time.Now()
	e1, _ := outbox.Event("opened", "k1", now, bson.M{"n": 1})
	insert(t, coll, "a", now, outbox.Part("P1"), e1)
	e2, _ := outbox.Event("closed", "k1", now, nil)
	write(t, coll, "a", "b", now, outbox.Part("P1"), e2) // the part record coalesces
	insert(t, coll, "quiet", now)

	c := &collector{}
	r := &outbox.Runner{Coll: coll, VersionField: "version", Deliver: c.deliver}
	n, err := r.Run(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Run = %d, %v; want 1 document delivered", n, err)
	}
	var ids []string
	for _, rec := range c.got {
		ids = append(ids, rec.ID)
	}
	if len(ids) != 3 || ids[0] != "part:P1" || ids[1] != e1.ID || ids[2] != e2.ID {
		t.Fatalf("delivered %v, want [part:P1 %s %s]", ids, e1.ID, e2.ID)
	}
	if k := records(t, coll, "a"); k != 0 {
		t.Fatalf("%d records left after delivery", k)
	}
	if _, ok := get(t, coll, "a")[outbox.FieldDue]; ok {
		t.Fatal("outbox_due left after delivery")
	}
	if n, err := r.Run(context.Background()); n != 0 || err != nil {
		t.Fatalf("second Run = %d, %v; want nothing due", n, err)
	}
}

func TestRunnerKeepsRecordsOfAWriteDuringDelivery(t *testing.T) {
	coll := testenv.Mongo(t).Collection("things")
	now := time.Now()
	insert(t, coll, "a", now, outbox.Part("P1"))
	e, _ := outbox.Event("changed", "a", now, nil)
	c := &collector{}
	c.during = func() { write(t, coll, "a", "newer", now, e); c.during = nil }
	r := &outbox.Runner{Coll: coll, VersionField: "version", Deliver: c.deliver}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if k := records(t, coll, "a"); k != 2 {
		t.Fatalf("%d records left, want the 2 of the newer write's document", k)
	}
	n, err := r.Run(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("next Run = %d, %v; want the newer write delivered", n, err)
	}
	if last := c.got[len(c.got)-1]; last.ID != e.ID {
		t.Fatalf("last delivered %s, want %s", last.ID, e.ID)
	}
	if k := records(t, coll, "a"); k != 0 {
		t.Fatalf("%d records left", k)
	}
}

func TestAckOnlyWhileVersionUnchanged(t *testing.T) {
	coll := testenv.Mongo(t).Collection("things")
	now := time.Now()
	insert(t, coll, "a", now, outbox.Part("P1"))
	write(t, coll, "a", "b", now, outbox.Part("P1")) // version 2
	if err := outbox.Ack(context.Background(), coll, "a", "version", 1); err != nil {
		t.Fatal(err)
	}
	if k := records(t, coll, "a"); k != 1 {
		t.Fatalf("an ack of version 1 cleared version 2's record (%d left)", k)
	}
	if err := outbox.Ack(context.Background(), coll, "a", "version", 2); err != nil {
		t.Fatal(err)
	}
	if k := records(t, coll, "a"); k != 0 {
		t.Fatalf("ack of the current version left %d records", k)
	}
}

func TestRunnerBacksOffThenDeadLetters(t *testing.T) {
	coll := testenv.Mongo(t).Collection("things")
	clock := time.Now().UTC()
	insert(t, coll, "a", clock.Add(-time.Second), outbox.Part("P1"))
	c := &collector{failing: errors.New("receiver down")}
	r := &outbox.Runner{Coll: coll, VersionField: "version", Deliver: c.deliver, MaxAttempts: 3,
		MinBackoff: time.Second, MaxBackoff: time.Minute, Now: func() time.Time { return clock }}
	for attempt := 1; attempt <= 2; attempt++ {
		if _, err := r.Run(context.Background()); err == nil {
			t.Fatalf("attempt %d: Run hid the delivery error", attempt)
		}
		m := get(t, coll, "a")
		if got := m[outbox.FieldAttempts]; got != int32(attempt) && got != int64(attempt) {
			t.Fatalf("attempts = %v, want %d", got, attempt)
		}
		if n, _ := r.Run(context.Background()); n != 0 {
			t.Fatal("delivered again before the back-off")
		}
		clock = clock.Add(r.Backoff(attempt) + time.Millisecond)
	}
	if _, err := r.Run(context.Background()); err == nil {
		t.Fatal("third failure not reported")
	}
	m := get(t, coll, "a")
	if dead, _ := m[outbox.FieldDead].(bson.A); len(dead) != 1 {
		t.Fatalf("outbox_dead = %v, want the record", m[outbox.FieldDead])
	}
	if k := records(t, coll, "a"); k != 0 {
		t.Fatal("dead-lettered record still due")
	}
	dead, err := outbox.Dead(context.Background(), coll, 10)
	if err != nil || len(dead) != 1 {
		t.Fatalf("Dead = %v, %v", dead, err)
	}
}

func TestBackoffDoublesToItsBound(t *testing.T) {
	r := &outbox.Runner{MinBackoff: time.Second, MaxBackoff: 10 * time.Second}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		if got := r.Backoff(i + 1); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, want)
		}
	}
}

func TestTwoRunnersNeverShareADocument(t *testing.T) {
	coll := testenv.Mongo(t).Collection("things")
	now := time.Now()
	const docs = 30
	for i := range docs {
		insert(t, coll, string(rune('a'+i)), now, outbox.Part(string(rune('A'+i))))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	deliver := func(_ context.Context, due []outbox.Due) []error {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range due {
			seen[d.ID.(bson.RawValue).StringValue()]++
		}
		return nil
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &outbox.Runner{Coll: coll, VersionField: "version", Deliver: deliver, Batch: 7}
			for range 10 {
				if _, err := r.Run(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != docs {
		t.Fatalf("%d documents delivered, want %d", len(seen), docs)
	}
	for id := range seen {
		if k := records(t, coll, id); k != 0 {
			t.Errorf("document %s still has %d records", id, k)
		}
	}
	// FerretDB v1's conditional updates are not atomic (two UpdateOne calls guarded by the same
	// version both succeed most of the time), so exclusivity holds on MongoDB only; at least
	// once, checked above, holds on both.
	if ferret, err := mongodb.IsFerretDB(context.Background(), coll.Database()); err != nil || ferret {
		return
	}
	if len(seen) != docs {
		t.Fatalf("%d documents delivered, want %d", len(seen), docs)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("document %s delivered %d times", id, n)
		}
	}
}

func TestExpiredClaimComesDueAgain(t *testing.T) {
	coll := testenv.Mongo(t).Collection("things")
	clock := time.Now().UTC()
	insert(t, coll, "a", clock.Add(-time.Second), outbox.Part("P1"))
	// A runner that claims and then dies: its delivery never returns to settle.
	ctx, cancel := context.WithCancel(context.Background())
	dead := &outbox.Runner{Coll: coll, VersionField: "version", Lease: time.Minute, Now: func() time.Time { return clock },
		Deliver: func(context.Context, []outbox.Due) []error { cancel(); return outbox.ErrAll(1, context.Canceled) }}
	_, _ = dead.Run(ctx)
	// Simulate the dead runner's claim still standing (its release failed with the cancelled ctx).
	if _, err := coll.UpdateOne(context.Background(), bson.D{{Key: "_id", Value: "a"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: outbox.FieldClaim, Value: clock.Add(time.Minute)}, {Key: outbox.FieldDue, Value: clock}}}}); err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	r := &outbox.Runner{Coll: coll, VersionField: "version", Deliver: c.deliver, Now: func() time.Time { return clock }}
	if n, _ := r.Run(context.Background()); n != 0 {
		t.Fatal("took a document another runner holds")
	}
	clock = clock.Add(time.Minute + time.Second)
	if n, err := r.Run(context.Background()); n != 1 || err != nil {
		t.Fatalf("after the lease: Run = %d, %v; want the document", n, err)
	}
}

// TestRunnerSettlesABatchKeepingNewerWrites: several documents delivered in one round are
// cleared together, except one written during the delivery, whose newer records stay due and
// whose claim is released (it goes out next round, not after the lease).
func TestRunnerSettlesABatchKeepingNewerWrites(t *testing.T) {
	coll := testenv.Mongo(t).Collection("things")
	now := time.Now()
	for _, id := range []string{"a", "b", "c"} {
		insert(t, coll, id, now, outbox.Part("P-"+id))
	}
	e, _ := outbox.Event("changed", "b", now, nil)
	c := &collector{}
	c.during = func() { write(t, coll, "b", "newer", now, e); c.during = nil }
	r := &outbox.Runner{Coll: coll, VersionField: "version", Deliver: c.deliver}
	if n, err := r.Run(context.Background()); err != nil || n != 3 {
		t.Fatalf("Run = %d, %v", n, err)
	}
	for id, want := range map[string]int{"a": 0, "b": 2, "c": 0} {
		if k := records(t, coll, id); k != want {
			t.Errorf("%s has %d records, want %d", id, k, want)
		}
	}
	if _, held := get(t, coll, "b")[outbox.FieldClaimBy]; held {
		t.Fatal("the newer write's document is still claimed")
	}
	if n, err := r.Run(context.Background()); err != nil || n != 1 {
		t.Fatalf("next Run = %d, %v; want b's newer records", n, err)
	}
}
