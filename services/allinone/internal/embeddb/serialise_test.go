package embeddb

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestConcurrentUpdatesAreNotLost: FerretDB v1 alone loses updates when writers race on one
// document (each reads it, then writes back what it computed); through the serialiser every
// increment and every guarded update counts, as on MongoDB.
func TestConcurrentUpdatesAreNotLost(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := Start(ctx, "127.0.0.1:0", t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); srv.Wait() }()
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()).SetTimeout(30 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	coll := client.Database("race").Collection("docs")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 0}, {Key: "version", Value: 0}}); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0 // guarded updates that matched
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "a"}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}}); err != nil {
					t.Error(err)
					return
				}
				var d struct {
					Version int `bson:"version"`
				}
				if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&d); err != nil {
					t.Error(err)
					return
				}
				res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "version", Value: d.Version}}, bson.D{{Key: "$set", Value: bson.D{{Key: "version", Value: d.Version + 1}}}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				won += int(res.ModifiedCount)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var d struct {
		N       int `bson:"n"`
		Version int `bson:"version"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.N != writers*each {
		t.Errorf("%d increments stored of %d: updates were lost", d.N, writers*each)
	}
	if d.Version != won {
		t.Errorf("version %d after %d guarded updates that matched: two writers both won the same version", d.Version, won)
	}
}

func TestIsWrite(t *testing.T) {
	for cmd, want := range map[string]bool{"update": true, "findAndModify": true, "delete": true, "insert": true, "find": false, "aggregate": false, "hello": false} {
		doc, _ := bson.Marshal(bson.D{{Key: cmd, Value: "docs"}, {Key: "$db", Value: "x"}})
		msg := make([]byte, headerLen+4+1)
		msg[12], msg[13] = byte(opMsg&0xff), byte(opMsg>>8)
		msg = append(msg, doc...)
		if got := isWrite(msg); got != want {
			t.Errorf("isWrite(%s) = %v, want %v", cmd, got, want)
		}
	}
}

// TestAWriteWhoseServerDiesReleasesTheLock: a write sent to a FerretDB connection that closes
// before replying must not hold the other writers back.
func TestAWriteWhoseServerDiesReleasesTheLock(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	got := make(chan struct{}) // the request reached the server: the serialiser holds the lock
	go func() {
		c, err := backend.Accept()
		if err != nil {
			return
		}
		_, _ = readMessage(c)
		close(got)
		time.Sleep(50 * time.Millisecond)
		c.Close() // never replies
	}()
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	s := &serialiser{backend: backend.Addr().String(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go s.serve(front)
	doc, _ := bson.Marshal(bson.D{{Key: "update", Value: "docs"}})
	msg := make([]byte, headerLen+5, headerLen+5+len(doc))
	msg[4], msg[12], msg[13] = 7, byte(opMsg&0xff), byte(opMsg>>8)
	msg = append(msg, doc...)
	binary.LittleEndian.PutUint32(msg[:4], uint32(len(msg)))
	c, err := net.Dial("tcp", front.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	<-got
	done := make(chan struct{})
	go func() { s.writes.Lock(); s.writes.Unlock(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the write lock is still held after the server closed without replying")
	}
}
