package redisdb

import (
	"context"
	"net"
	"testing"
	"time"
)

// A Redis that refuses connections (stopped) fails a command at once: go-redis would otherwise
// dial five times 100 ms apart, and every request that touches the cache would wait half a
// second, as long as the checkpoint waits for an owner (found by the stack test, tools/stack).
func TestStoppedRedisFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connections are refused
	c, err := Connect("redis://"+addr+"/0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		t0 := time.Now()
		err := c.Get(context.Background(), "k").Err()
		took := time.Since(t0)
		if err == nil {
			t.Fatal("GET on a stopped Redis succeeded")
		}
		if took > 150*time.Millisecond {
			t.Fatalf("GET on a stopped Redis took %v (%v), want it to fail at once", took, err)
		}
	}
}
