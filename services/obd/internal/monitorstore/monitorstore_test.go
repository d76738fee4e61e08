package monitorstore_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/services/obd/internal/detect"
	"github.com/clearsky/clearsky/services/obd/internal/monitor"
	"github.com/clearsky/clearsky/services/obd/internal/monitorstore"
	"github.com/clearsky/clearsky/services/obd/internal/protocol"
)

const vin = "LFWADRJF011002346"

func newStore(t *testing.T) *monitorstore.Store {
	t.Helper()
	s := monitorstore.New(testenv.Mongo(t))
	if err := s.EnsureIndexes(context.Background(), mongodb.AllIndexes); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFramesRoundTripOnceEach(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	frame := func(k int, layout protocol.Layout, signed bool) monitor.Frame {
		at := t0.Add(time.Duration(k) * 10 * time.Second)
		return monitor.Frame{ID: monitor.FrameID(vin, at, uint16(k)), VIN: vin, Source: monitor.SourceTCP, Command: protocol.CmdRealtime,
			From: at, To: at.Add(9 * time.Second), Samples: 10, Received: at.Add(11 * time.Second), Raw: []byte{byte(k)}, Layout: layout, Signed: signed}
	}
	res, err := s.InsertFrames(ctx, []monitor.Frame{frame(0, protocol.LayoutGB17691, false), frame(1, protocol.LayoutHJ1239, true)})
	if err != nil || res[0] != monitor.Inserted || res[1] != monitor.Inserted {
		t.Fatalf("InsertFrames = %v, %v", res, err)
	}
	res, err = s.InsertFrames(ctx, []monitor.Frame{frame(1, protocol.LayoutHJ1239, true), frame(2, protocol.LayoutHJ1239, false)})
	if err != nil || res[0] != monitor.Duplicate || res[1] != monitor.Inserted {
		t.Fatalf("InsertFrames with a repeat = %v, %v; want the repeat marked duplicate", res, err)
	}
	got, err := s.Frames(ctx, vin, t0, t0.Add(time.Minute), 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("Frames = %d, %v", len(got), err)
	}
	if got[0].Layout != protocol.LayoutGB17691 || got[0].Signed || got[1].Layout != protocol.LayoutHJ1239 || !got[1].Signed || got[1].Raw[0] != 1 {
		t.Fatalf("frames read back: %+v", got[:2])
	}
	last, ok, err := s.LastFrame(ctx, vin)
	if err != nil || !ok || last.ID != frame(2, 0, false).ID {
		t.Fatalf("LastFrame = %v, %v, %v", last.ID, ok, err)
	}
	if n, err := s.DeleteFramesBefore(ctx, t0.Add(25*time.Second)); err != nil || n != 2 {
		t.Fatalf("DeleteFramesBefore = %d, %v; want the two received before", n, err)
	}
}

func TestAlarmsKeepTheirUnsignedMark(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	a := monitor.Alarm{ID: "a1", VIN: vin, Plate: "晋F77777",
		Alarm: detect.Alarm{Kind: detect.KindTamperRemovalAlarm, OpenedAt: at, Message: "removed", Unsigned: true}}
	if err := s.InsertAlarm(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertAlarm(ctx, a); err != nil {
		t.Fatalf("inserting an alarm again: %v, want nil", err)
	}
	got, err := s.Alarms(ctx, vin, true, 10)
	if err != nil || len(got) != 1 || !got[0].Unsigned || got[0].Kind != detect.KindTamperRemovalAlarm {
		t.Fatalf("Alarms = %+v, %v", got, err)
	}
	a.ClosedAt, a.ClosedBy, a.Unsigned = at.Add(time.Hour), "bureau", false
	if err := s.UpdateAlarm(ctx, a); err != nil {
		t.Fatal(err)
	}
	if open, _ := s.Alarms(ctx, vin, true, 10); len(open) != 0 {
		t.Fatalf("closed alarm still open: %+v", open)
	}
	all, _ := s.Alarms(ctx, vin, false, 10)
	if len(all) != 1 || all[0].Unsigned || all[0].ClosedBy != "bureau" {
		t.Fatalf("after the update: %+v", all)
	}
}

// TestAlarmEventsLeaveThroughTheOutbox: an alarm's opening and closing events are written with
// the alarm and stored once each in the events collection by the runner, however often the
// opening is written.
func TestAlarmEventsLeaveThroughTheOutbox(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	s := monitorstore.New(db)
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	a := monitor.Alarm{ID: "a1", VIN: vin, Plate: "晋F77777", FleetID: "fleet-a",
		Alarm: detect.Alarm{Kind: detect.KindNOxExceedance, OpenedAt: at, Message: "NOx"}}
	opened := events.Draft{Type: events.OBDAlarmOpened, At: at, Subject: a.ID, Link: "/v1/obd/vehicles/" + vin + "/alarms", Organisations: []string{a.FleetID}}
	for range 2 {
		if err := s.InsertAlarm(ctx, a, opened); err != nil {
			t.Fatal(err)
		}
	}
	a.ClosedAt = at.Add(time.Hour)
	closed := opened
	closed.Type, closed.At = events.OBDAlarmClosed, a.ClosedAt
	if err := s.UpdateAlarm(ctx, a, closed); err != nil {
		t.Fatal(err)
	}
	run := events.Runners(s.EventsRunner(events.NewSink(db)))
	if n, err := run(ctx); err != nil || n != 1 {
		t.Fatalf("events runner = %d, %v; want the alarm's document", n, err)
	}
	cur, err := db.Collection(events.Collection).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "time", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []events.Doc
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Type != string(events.OBDAlarmOpened) || docs[1].Type != string(events.OBDAlarmClosed) || docs[0].Organisations[0] != "fleet-a" {
		t.Fatalf("events stored: %+v", docs)
	}
	if n, err := run(ctx); err != nil || n != 0 {
		t.Fatalf("second run = %d, %v; want nothing due", n, err)
	}
	if got, _ := s.Alarms(ctx, vin, false, 10); len(got) != 1 || got[0].FleetID != "fleet-a" || got[0].ClosedAt.IsZero() {
		t.Fatalf("alarm read back: %+v", got)
	}
}
