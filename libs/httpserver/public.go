package httpserver

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/problem"
)

// PublicOptions shape the routes anyone may call without signing in (the public disclosure).
type PublicOptions struct {
	// PerSecond and Burst are each client address's rate (token bucket): 5 a second, bursts of
	// 20 by default. Each replica counts its own; the edge's limit_req covers the whole.
	PerSecond float64
	Burst     int
	// MaxAge is how long caches may keep an answer (Cache-Control: public, max-age); 5 minutes
	// by default.
	MaxAge time.Duration
	// MaxClients bounds the addresses tracked at once (10,000 by default); past it, the ones
	// idle longest are forgotten.
	MaxClients int
}

// Public returns the middleware of public routes: a rate limit per client address (a 429
// problem with Retry-After past it), and caching: every 200 answer gets Cache-Control public
// with max-age and a strong ETag of its body, and a request whose If-None-Match holds that ETag
// is answered 304 with no body.
func Public(o PublicOptions, logger *slog.Logger) gin.HandlerFunc {
	if o.PerSecond <= 0 {
		o.PerSecond = 5
	}
	if o.Burst <= 0 {
		o.Burst = 20
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 5 * time.Minute
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 10_000
	}
	l := &limiters{opts: o, m: map[string]*client{}}
	cacheControl := "public, max-age=" + strconv.Itoa(int(o.MaxAge/time.Second))
	return func(c *gin.Context) {
		if wait, ok := l.allow(c.ClientIP(), time.Now()); !ok {
			problem.Write(c, logger, apperr.RetryAfter(fmt.Errorf("more than %g requests a second from one address to the public pages: %w", o.PerSecond, apperr.ErrTooManyRequests), wait))
			c.Abort()
			return
		}
		w := &bufferedWriter{ResponseWriter: c.Writer}
		c.Writer = w
		// A panic unwinds to the real writer, so the recovery's problem document reaches the client.
		defer func() { c.Writer = w.ResponseWriter }()
		c.Next()
		c.Writer = w.ResponseWriter
		if w.status != 0 && w.status != http.StatusOK {
			c.Writer.WriteHeader(w.status)
			_, _ = c.Writer.Write(w.buf.Bytes())
			return
		}
		sum := sha256.Sum256(w.buf.Bytes())
		etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
		h := c.Writer.Header()
		h.Set("ETag", etag)
		h.Set("Cache-Control", cacheControl)
		h.Set("Vary", "Accept-Encoding")
		if matches(c.GetHeader("If-None-Match"), etag) {
			h.Del("Content-Type")
			c.Writer.WriteHeader(http.StatusNotModified)
			return
		}
		c.Writer.WriteHeader(http.StatusOK)
		_, _ = c.Writer.Write(w.buf.Bytes())
	}
}

func matches(ifNoneMatch, etag string) bool {
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// bufferedWriter keeps the answer until the handler is done, so that its ETag can be set.
type bufferedWriter struct {
	gin.ResponseWriter
	buf    bytes.Buffer
	status int
}

func (w *bufferedWriter) WriteHeader(code int) { w.status = code }
func (w *bufferedWriter) WriteHeaderNow()      {}
func (w *bufferedWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.buf.Write(b)
}
func (w *bufferedWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }
func (w *bufferedWriter) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
func (w *bufferedWriter) Written() bool { return w.status != 0 }
func (w *bufferedWriter) Size() int     { return w.buf.Len() }

type client struct {
	lim  *rate.Limiter
	seen time.Time
}

type limiters struct {
	opts PublicOptions
	mu   sync.Mutex
	m    map[string]*client
}

// allow takes a token of addr's bucket, or says how long until one is there.
func (l *limiters) allow(addr string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cl, ok := l.m[addr]
	if !ok {
		if len(l.m) >= l.opts.MaxClients {
			l.forget(now)
		}
		cl = &client{lim: rate.NewLimiter(rate.Limit(l.opts.PerSecond), l.opts.Burst)}
		l.m[addr] = cl
	}
	cl.seen = now
	r := cl.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return max(d, time.Second), false
	}
	return 0, true
}

// forget drops the addresses idle for longer than a full bucket takes to refill, or, when none
// are, the half idle longest.
func (l *limiters) forget(now time.Time) {
	full := time.Duration(float64(l.opts.Burst)/l.opts.PerSecond*float64(time.Second)) + time.Second
	for a, c := range l.m {
		if now.Sub(c.seen) > full {
			delete(l.m, a)
		}
	}
	if len(l.m) < l.opts.MaxClients {
		return
	}
	seen := make([]time.Time, 0, len(l.m))
	for _, c := range l.m {
		seen = append(seen, c.seen)
	}
	cut := median(seen)
	for a, c := range l.m {
		if !c.seen.After(cut) {
			delete(l.m, a)
		}
	}
}

// median sorts ts: it runs at most once per MaxClients/2 new addresses.
func median(ts []time.Time) time.Time {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	return ts[len(ts)/2]
}
