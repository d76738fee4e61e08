// Package redisdb connects ClearSky services to Redis, the shared cache in front of MongoDB,
// with every command traced. Redis is never the truth: a service must keep working (reads from
// MongoDB, writes succeeding) when Redis is down, and /readyz then reports "degraded".
package redisdb

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
)

// Connect parses a redis:// URL and returns a client traced with tp (when not nil). It does not
// fail when the server is down: callers degrade instead.
func Connect(url string, tp trace.TracerProvider) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL %q: %w", url, err)
	}
	// Fail fast: a cache that takes long to answer is worse than none.
	opts.DialTimeout = 500 * time.Millisecond
	opts.ReadTimeout = 500 * time.Millisecond
	opts.WriteTimeout = 500 * time.Millisecond
	opts.MaxRetries = 1
	// One dial per attempt: go-redis dials five times, 100 ms apart, by default, so a stopped
	// Redis (connection refused) held every command for half a second.
	opts.DialerRetries = 1
	// A caller's deadline bounds its command too (go-redis ignores it otherwise), so a lookup
	// with a 100 ms budget is not held for the 500 ms read timeout.
	opts.ContextTimeoutEnabled = true
	client := redis.NewClient(opts)
	if tp != nil {
		if err := redisotel.InstrumentTracing(client, redisotel.WithTracerProvider(tp), redisotel.WithDBStatement(false)); err != nil {
			return nil, fmt.Errorf("trace redis: %w", err)
		}
	}
	return client, nil
}

// Ping checks that Redis answers.
func Ping(ctx context.Context, c redis.UniversalClient) error {
	return c.Ping(ctx).Err()
}
