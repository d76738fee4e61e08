// Package testenv gives integration tests their real backing services: a fresh, randomly named
// MongoDB database (FerretDB in CI) and a Redis key prefix of their own, both cleaned up when
// the test ends.
//
// The servers come from TEST_MONGODB_URI and TEST_REDIS_URL, which `make test` and .ci/run set.
// When a variable is unset the test is skipped, unless CLEARSKY_REQUIRE_INTEGRATION=1 (CI),
// when it fails: CI must never pass by skipping.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/redisdb"
)

func need(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CLEARSKY_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("%s is not set but CLEARSKY_REQUIRE_INTEGRATION=1: run the tests with `make test`", name)
		}
		t.Skipf("%s not set: run `make test` to start FerretDB and use Redis", name)
	}
	return v
}

// RandomName returns prefix followed by 12 random hex digits.
func RandomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// MongoURI returns TEST_MONGODB_URI, skipping or failing the test when it is unset.
func MongoURI(t testing.TB) string { return need(t, "TEST_MONGODB_URI") }

// RedisURL returns TEST_REDIS_URL, skipping or failing the test when it is unset.
func RedisURL(t testing.TB) string { return need(t, "TEST_REDIS_URL") }

// Mongo returns a fresh database on the test server, dropped when the test ends.
func Mongo(t testing.TB) *mongo.Database {
	t.Helper()
	uri := MongoURI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client, db, err := mongodb.Connect(ctx, uri, RandomName("t_"), nil)
	if err != nil {
		t.Fatalf("connect test mongodb: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
		_ = client.Disconnect(ctx)
	})
	return db
}

// Redis returns a client to the test server and a key prefix of the test's own; keys under the
// prefix are deleted when the test ends.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	url := RedisURL(t)
	c, err := redisdb.Connect(url, nil)
	if err != nil {
		t.Fatalf("connect test redis: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping test redis at %s: %v", url, err)
	}
	prefix := RandomName("t") + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		_ = c.Close()
	})
	return c, prefix
}
