package verdict

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// shed is the state of a part that was not asked of its owner because MaxFallbacks lookups
// were already asking the owners: the lookup is refused (errShed), never answered from a guess.
const shed PartState = "shed"

// errShed refuses a lookup while the owners are saturated (Redis down, say): 503 with
// Retry-After, so the officer's device retries shortly instead of every lookup queueing.
var errShed = apperr.RetryAfter(fmt.Errorf("the checkpoint is asking the owning services for as many parts as it may at once (Redis is likely down); try again in a second: %w", apperr.ErrUnavailable), ShedRetryAfter)

func shedAny(states map[summary.Part]PartState) bool {
	for _, st := range states {
		if st == shed {
			return true
		}
	}
	return false
}

// fallbacks is what a lookup that asks the owners holds: the context of its deadline and its
// place among the MaxFallbacks.
type fallbacks struct {
	ctx    context.Context
	cancel context.CancelFunc
	adm    *admission
}

func (s *Service) startFallbacks(ctx context.Context, start time.Time) *fallbacks {
	c, cancel := context.WithDeadline(ctx, start.Add(s.cfg.Deadline))
	return &fallbacks{ctx: c, cancel: cancel, adm: &admission{slots: s.slots}}
}

// end gives the place back and stops the deadline's timer, once the lookup's asks have returned.
func (f *fallbacks) end() {
	f.adm.release()
	f.cancel()
}

// admission is a lookup's place among the MaxFallbacks that may ask the owners at once: taken
// by its first ask, without waiting, and given back when the lookup has its parts.
type admission struct {
	slots chan struct{}
	once  sync.Once
	ok    bool
}

func (a *admission) admit() bool {
	a.once.Do(func() {
		select {
		case a.slots <- struct{}{}:
			a.ok = true
		default:
		}
	})
	return a.ok
}

// release gives the place back; call it once, after the lookup's asks have returned.
func (a *admission) release() {
	a.once.Do(func() {}) // no ask after this takes a place
	if a.ok {
		a.ok = false
		<-a.slots
	}
}

// ask fetches a part from its owner, once the lookup is admitted. Concurrent asks for the same
// plate and part share one call (a plate looked up by many officers at once while Redis is down
// costs its owners one call), and the asker waits no longer than its ctx (the lookup's
// deadline): the shared call runs on without the caller's cancellation, bounded by the owners
// client's own timeout, so one caller giving up does not fail the others.
func (s *Service) ask(ctx context.Context, adm *admission, part summary.Part, key, plate string, c vehicleid.Colour) (json.RawMessage, error) {
	k := string(part) + "\x00" + key
	// Joining a call in flight adds nothing to the owners' load: only a lookup that starts one
	// needs a place (a race between the check and DoChan costs at most an unneeded place).
	if _, joining := s.inflight.Load(k); !joining && !adm.admit() {
		return nil, errShed
	}
	ch := s.flights.DoChan(k, func() (any, error) {
		s.inflight.Store(k, struct{}{})
		defer s.inflight.Delete(k)
		return s.owners.Fetch(context.WithoutCancel(ctx), part, plate, c)
	})
	select {
	case r := <-ch:
		raw, _ := r.Val.(json.RawMessage)
		return raw, r.Err
	case <-ctx.Done():
		return nil, fmt.Errorf("the %s service did not answer within the lookup's deadline: %w", part, ctx.Err())
	}
}

// hwKey names one plate's part.
type hwKey struct {
	plate string
	part  summary.Part
}

// hwMax bounds the parts remembered (about 100 bytes each); past it, everything is forgotten,
// which loses only the protection below until the parts are read again.
const hwMax = 400_000

// hwSkew is how much older than the newest seen a part may be before it counts as older: the
// owners' replicas' clocks differ by a little, a restored copy by minutes or hours.
const hwSkew = 2 * time.Second

// highWater remembers, per plate and part, when the newest part read from Redis was made, so
// the checkpoint never prefers a part older than one it has already seen: after Redis comes
// back from an older copy, and before the owners detect it and rebuild (libs/partsync), a part
// older than one this replica has served is asked of its owner instead.
type highWater struct {
	mu   sync.Mutex
	seen map[hwKey]int64 // UnixNano of the newest part's updated_at
}

// older records at for the plate's part and reports whether it is older than the newest seen.
func (h *highWater) older(plateKey string, p summary.Part, at time.Time) bool {
	k, t := hwKey{plateKey, p}, at.UnixNano()
	h.mu.Lock()
	defer h.mu.Unlock()
	newest, ok := h.seen[k]
	switch {
	case ok && t < newest-int64(hwSkew):
		return true
	case ok && t <= newest:
		return false
	}
	if len(h.seen) >= hwMax {
		clear(h.seen)
	}
	h.seen[k] = t
	return false
}
