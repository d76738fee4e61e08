package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/libs/testenv"
)

// TestCatalogueIsPublished holds docs/events.schema.json to the catalogue, both ways: every
// type an owner can emit (New refuses any other) is in the schema's enum and its catalogue
// table, with the same owning service.
func TestCatalogueIsPublished(t *testing.T) {
	b, err := os.ReadFile("../../docs/events.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties struct {
			Type struct {
				Enum []string `json:"enum"`
			} `json:"type"`
		} `json:"properties"`
		Catalogue []struct{ Type, Service string } `json:"x-clearsky-catalogue"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var code []string
	for _, e := range events.Catalogue {
		code = append(code, string(e.Type))
		i := slices.IndexFunc(s.Catalogue, func(c struct{ Type, Service string }) bool { return c.Type == string(e.Type) })
		if i < 0 || s.Catalogue[i].Service != e.Service {
			t.Errorf("%s (%s) missing from the schema's catalogue or with another service", e.Type, e.Service)
		}
	}
	if !slices.Equal(code, s.Properties.Type.Enum) {
		t.Errorf("schema enum %v, catalogue %v", s.Properties.Type.Enum, code)
	}
	if len(s.Catalogue) != len(events.Catalogue) {
		t.Errorf("schema catalogue has %d types, code %d", len(s.Catalogue), len(events.Catalogue))
	}
}

func TestNewRefusesUncataloguedTypes(t *testing.T) {
	_, err := events.New("obd.alarm.exploded", time.Now(), "x", "/v1/x", nil, nil, nil)
	if !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("New = %v, want ErrUnknownType", err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	r := events.Must(events.MuckPermitRevoked, at, "f1:p1", "/v1/muck/permits/f1:p1", []string{"f1", "", "f1", "c1"},
		[]auth.Role{auth.Police, auth.Bureau}, map[string]any{"plate": "晋F12345"})
	e, err := events.FromRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != r.ID || len(e.ID) != 32 || e.Type != events.MuckPermitRevoked || !e.Time.Equal(at) || e.Link != "/v1/muck/permits/f1:p1" {
		t.Fatalf("event %+v", e)
	}
	if !slices.Equal(e.Organisations, []string{"f1", "c1"}) || !slices.Equal(e.Roles, []auth.Role{auth.Police}) || e.Data["plate"] != "晋F12345" {
		t.Fatalf("audience or data %+v", e)
	}
	for _, tc := range []struct {
		p    auth.Principal
		want bool
	}{{auth.Principal{Role: auth.Fleet, Tenant: "f1"}, true}, {auth.Principal{Role: auth.Fleet, Tenant: "f2"}, false},
		{auth.Principal{Role: auth.Bureau}, true}, {auth.Principal{Role: auth.Police}, true}, {auth.Principal{Role: auth.Transport}, false},
		{auth.Principal{Role: auth.Construction, Tenant: "c1"}, true}, {auth.Principal{Role: auth.Admin}, true}, {auth.Principal{Role: auth.System}, false}} {
		k, _ := events.Key(tc.p)
		if got := e.Concerns(k); got != tc.want {
			t.Errorf("Concerns(%q) for %s = %v, want %v", k, tc.p.Role, got, tc.want)
		}
	}
	all := events.Event{Organisations: []string{events.Everyone}}
	if !all.Concerns("f9") || !all.Concerns("police") {
		t.Error("an event to everyone does not concern every organisation")
	}
}

// TestSinkStoresOnce: the same records delivered twice (at least once) are one event each.
func TestSinkStoresOnce(t *testing.T) {
	db := testenv.Mongo(t)
	sink := events.NewSink(db)
	r := events.Must(events.FuelSampleFailed, time.Now(), "s1:1", "/v1/fuel/samples/s1:1", []string{"s1"}, nil, nil)
	rs := []outbox.Record{outbox.Part("P:yellow"), r}
	ctx := context.Background()
	for range 2 {
		if err := sink.Put(ctx, "fuel_samples", rs); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.Collection(events.Collection).CountDocuments(ctx, bson.D{})
	if err != nil || n != 1 {
		t.Fatalf("%d events stored (%v), want 1", n, err)
	}
	e, err := events.Get(ctx, db, r.ID)
	if err != nil || e.Type != events.FuelSampleFailed || e.Organisations[0] != "s1" {
		t.Fatalf("stored %+v, %v", e, err)
	}
}

// TestRunnerDeliversEventsOfACollection: an owner's events go from its document's outbox to
// the events collection through the runner, and the document's outbox is cleared.
func TestRunnerDeliversEventsOfACollection(t *testing.T) {
	db := testenv.Mongo(t)
	coll := db.Collection("alarms")
	ctx := context.Background()
	r := events.Must(events.OBDAlarmOpened, time.Now(), "a1", "/v1/obd/alarms/a1", []string{"f1"}, nil, nil)
	type doc struct {
		ID            string `bson:"_id"`
		Version       int64  `bson:"version"`
		outbox.Fields `bson:",inline"`
	}
	if _, err := coll.InsertOne(ctx, doc{ID: "a1", Version: 1, Fields: outbox.New(time.Now(), r)}); err != nil {
		t.Fatal(err)
	}
	// The inline Ack of a part publisher must leave an event to the runner.
	if err := outbox.Ack(ctx, coll, "a1", "version", 1); err != nil {
		t.Fatal(err)
	}
	if p, _ := outbox.Pending(ctx, coll, "version", 10); len(p) != 1 {
		t.Fatalf("Ack cleared an event record: %d pending", len(p))
	}
	sink := events.NewSink(db)
	if n, err := events.Runners(sink.Runner(coll, "version"))(ctx); err != nil || n != 1 {
		t.Fatalf("runner = %d, %v", n, err)
	}
	if _, err := events.Get(ctx, db, r.ID); err != nil {
		t.Fatal(err)
	}
	if p, _ := outbox.Pending(ctx, coll, "version", 10); len(p) != 0 {
		t.Fatalf("%d documents still pending", len(p))
	}
}
