package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
)

// RevocationMemory is how long a revocation is remembered: longer than any access token lives
// (MaxAccessTokenLife and the verifier's leeway), so every token it refuses has expired by then.
const RevocationMemory = MaxAccessTokenLife + 5*time.Minute

// Revocations holds the subjects (people, API keys) and sessions revoked lately, and when: a
// token issued at or before its subject's or session's revocation is refused. MongoDB stays the
// truth (the accounts service refuses to exchange a revoked credential for a new token); this
// set only ends the tokens already handed out early. It is safe for concurrent use.
type Revocations struct {
	n  atomic.Int64 // entries held: the hot path skips the lock when there are none
	mu sync.RWMutex
	m  map[string]time.Time
}

// NewRevocations returns an empty set.
func NewRevocations() *Revocations { return &Revocations{m: map[string]time.Time{}} }

// Revoke records that id was revoked at at.
func (r *Revocations) Revoke(id string, at time.Time) {
	if id == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.m[id]; !ok || at.After(prev) {
		r.m[id] = at
	}
	cut := time.Now().Add(-RevocationMemory)
	for k, t := range r.m {
		if t.Before(cut) {
			delete(r.m, k)
		}
	}
	r.n.Store(int64(len(r.m)))
}

// Refuses reports whether a token of subject sub and session sid issued at iat was revoked (at or
// before the revocation; token times are in milliseconds, init below).
func (r *Revocations) Refuses(sub, sid string, iat time.Time) bool {
	if r == nil || r.n.Load() == 0 {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, id := range [2]string{sub, sid} {
		if at, ok := r.m[id]; ok && id != "" && !iat.After(at) {
			return true
		}
	}
	return false
}

// Tokens carry their times in milliseconds (RFC 7519 NumericDate may be fractional), so a token
// issued a moment after a revocation (a new session right after "sign out everywhere") is told
// from one issued a moment before it.
func init() { jwt.TimePrecision = time.Millisecond }

// The Redis names of revocations, under the key prefix: a channel announcing each, and a sorted
// set (score: the revocation time in ms) holding those of the last RevocationMemory, which a
// listener reads when it (re)subscribes and every catch-up period.
const (
	RevocationChannel = "auth:revoked"
	RevocationLog     = "auth:revocations"
)

// Announce tells every verifier listening on rdb that id (a person, session or API key) was
// revoked at at: it adds id to the log and publishes it, in one pipeline.
func Announce(ctx context.Context, rdb redis.UniversalClient, prefix, id string, at time.Time) error {
	ms := at.UnixMilli()
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, prefix+RevocationLog, redis.Z{Score: float64(ms), Member: id})
		p.ZRemRangeByScore(ctx, prefix+RevocationLog, "-inf", strconv.FormatInt(at.Add(-RevocationMemory).UnixMilli(), 10))
		p.Expire(ctx, prefix+RevocationLog, RevocationMemory)
		p.Publish(ctx, prefix+RevocationChannel, strconv.FormatInt(ms, 10)+" "+id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("announce revocation of %s: %w", id, err)
	}
	return nil
}

// CatchUpEvery is how often Listen reads the revocation log besides the channel, for what a
// broken subscription missed.
const CatchUpEvery = 10 * time.Second

// Listen feeds r from rdb until ctx ends: every announcement on the channel as it comes, and the
// log when it subscribes and every CatchUpEvery. A lost connection is retried every second.
func (r *Revocations) Listen(ctx context.Context, rdb redis.UniversalClient, prefix string, logger *slog.Logger) {
	for ctx.Err() == nil {
		err := r.listen(ctx, rdb, prefix)
		if ctx.Err() != nil {
			return
		}
		if logger != nil {
			logger.WarnContext(ctx, "revocations_unsubscribed", "error", err.Error(), "retry_s", 1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (r *Revocations) listen(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	ps := rdb.Subscribe(ctx, prefix+RevocationChannel)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		return err
	}
	if err := r.catchUp(ctx, rdb, prefix); err != nil {
		return err
	}
	msgs := ps.Channel()
	tick := time.NewTicker(CatchUpEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-msgs:
			if !ok {
				return fmt.Errorf("subscription closed")
			}
			ms, id, found := strings.Cut(m.Payload, " ")
			if n, err := strconv.ParseInt(ms, 10, 64); err == nil && found {
				r.Revoke(id, time.UnixMilli(n))
			}
		case <-tick.C:
			if err := r.catchUp(ctx, rdb, prefix); err != nil {
				return err
			}
		}
	}
}

func (r *Revocations) catchUp(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	min := strconv.FormatInt(time.Now().Add(-RevocationMemory).UnixMilli(), 10)
	zs, err := rdb.ZRangeByScoreWithScores(ctx, prefix+RevocationLog, &redis.ZRangeBy{Min: min, Max: "+inf"}).Result()
	if err != nil {
		return fmt.Errorf("read revocation log: %w", err)
	}
	for _, z := range zs {
		if id, ok := z.Member.(string); ok {
			r.Revoke(id, time.UnixMilli(int64(z.Score)))
		}
	}
	return nil
}
