// Command cpload measures the checkpoint (docs/performance.md), in one run on one machine:
// gin's plain 200-OK handler (the baseline, served by cpload itself on loopback), the checkpoint
// verdict with every part in Redis, and the verdict with every part but the registry's missing
// (each request first deletes the plate's other parts, so the checkpoint asks their owners). For each it reports the
// maximum requests/s a closed loop of -concurrency clients reaches, and the p50/p99 latency of
// an open loop at a fixed -rate (latency counted from each request's scheduled time).
//
// With -vehicles N (and -redis), a further scenario looks up N registered vehicles, drawn
// Zipf-like over them (-zipf), with a share of plates the registry does not know (-unknown):
// cpload first writes the N vehicles' parts to Redis, copies of the demo vehicles' parts with
// their own plates (fleet.go).
//
// The throughput runs are interleaved: -rounds rounds, each running every scenario for
// -duration/-rounds in turn, so that the machine's drift (other load, frequency) falls on the
// baseline and the verdict alike. A scenario's ratio is the median of its per-round ratios to
// the baseline of the same round.
//
//	cpload -url http://127.0.0.1:8080 -secret $CLEARSKY_JWT_SECRET -plate 晋F23456 -colour yellow -redis redis://127.0.0.1:6379/0
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cpload:", err)
		os.Exit(1)
	}
}

type target struct {
	name   string
	url    func(i int64) string
	token  func(i int64) string
	before func(ctx context.Context) // run before each request (not timed)
	check  func(body []byte) bool    // whether a 200 answer is what the scenario measures (nil: any)
	warm   time.Duration             // the warm-up before the measured runs (0: one second)
	// seq numbers the scenario's requests across all its runs, so that a run never replays the
	// plates an earlier one looked up (the many-plates scenario's draws follow it).
	seq *atomic.Int64
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("cpload", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "the checkpoint's (or the all-in-one's) base URL")
	secret := fs.String("secret", os.Getenv("CLEARSKY_JWT_SECRET"), "the token secret (to sign officers' tokens)")
	plate := fs.String("plate", "晋F23456", "a registered plate to look up")
	colour := fs.String("colour", "yellow", "its colour")
	redisURL := fs.String("redis", "", "Redis URL of the platform, for the fallback scenario (empty: skip it)")
	prefix := fs.String("prefix", "cs:", "the platform's Redis key prefix")
	duration := fs.Duration("duration", 10*time.Second, "length of each latency run, and of each scenario's throughput runs together")
	rounds := fs.Int("rounds", 5, "interleaved rounds of the throughput runs")
	rate := fs.Int("rate", 2000, "requests/s of the fixed-rate (latency) runs")
	conc := fs.Int("concurrency", 32, "clients of the closed-loop (throughput) runs")
	officers := fs.Int("officers", 2000, "distinct officers the lookups are spread over (the per-officer rate limit)")
	vehicles := fs.Int("vehicles", 0, "registered vehicles of the many-plates scenario (0: skip it; needs -redis)")
	unknownShare := fs.Float64("unknown", 0.05, "share of the many-plates scenario's lookups for plates the registry does not know")
	zipfS := fs.Float64("zipf", 1.1, "the Zipf exponent (> 1) of the many-plates scenario's draws")
	only := fs.String("only", "", "run only the scenarios whose name contains this (and the baseline), e.g. Zipf")
	sink := fs.String("otlp-sink", "", "serve an OTLP/HTTP trace collector stand-in on this address, which counts and discards the spans it is sent")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rounds < 1 {
		return fmt.Errorf("-rounds must be at least 1")
	}
	keys, err := auth.NewKeys([]byte(*secret))
	if err != nil {
		return fmt.Errorf("-secret: %w", err)
	}
	tokens := make([]string, *officers)
	for i := range tokens {
		if tokens[i], err = keys.Issue(auth.Principal{Role: auth.Police, Subject: fmt.Sprintf("load-officer-%d", i)}, time.Now(), time.Hour); err != nil {
			return err
		}
	}
	tok := func(i int64) string { return tokens[int(i)%len(tokens)] }
	if *sink != "" {
		spans, err := serveSink(*sink)
		if err != nil {
			return err
		}
		defer func() { fmt.Fprintf(out, "spans received by the collector stand-in: %d\n", spans.Load()) }()
	}
	// The baseline: gin's plain 200-OK handler on loopback, served by this process.
	gin.SetMode(gin.ReleaseMode)
	plain := gin.New()
	plain.GET("/ok", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = http.Serve(ln, plain) }()
	lookup := *base + "/v1/checkpoint/" + url.PathEscape(*plate) + "?colour=" + url.QueryEscape(*colour)
	targets := []target{
		{name: "gin plain 200-OK handler", url: func(int64) string { return "http://" + ln.Addr().String() + "/ok" }, token: tok},
		{name: "checkpoint, every part in Redis", url: func(int64) string { return lookup }, token: tok},
	}
	if *redisURL != "" {
		opts, err := redis.ParseURL(*redisURL)
		if err != nil {
			return err
		}
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		p, err := vehicleid.NormalisePlate(*plate)
		if err != nil {
			return err
		}
		key := vehicleid.Key(p, vehicleid.Colour(*colour))
		var parts []string
		// The registry's part stays: while the registry's copy in Redis is complete, a plate
		// without one is not registered (docs/checkpoint.md), which is not what this measures.
		for _, part := range []summary.Part{summary.RemoteSensing, summary.OBD, summary.Muck} {
			parts = append(parts, summary.Key(*prefix, key, part))
		}
		targets = append(targets, target{name: "checkpoint, every part but the registry's missing (fallback)", url: func(int64) string { return lookup }, token: tok,
			// Deleted and announced as an owner would, so that the checkpoint drops its copy too.
			before: func(ctx context.Context) {
				rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Del(ctx, parts...)
					p.Publish(ctx, summary.ChangedChannel(*prefix), key)
					return nil
				})
			},
			check: func(body []byte) bool { return bytes.Contains(body, []byte(`"state":"fetched"`)) }})
		if *vehicles > 0 {
			if *zipfS <= 1 || *unknownShare < 0 || *unknownShare >= 1 {
				return fmt.Errorf("-zipf must be above 1 and -unknown in [0, 1)")
			}
			warm := func(path string) error {
				req, _ := http.NewRequest("GET", *base+"/v1/checkpoint/"+path, nil)
				req.Header.Set("Authorization", "Bearer "+tok(0))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				res.Body.Close()
				if res.StatusCode != 200 {
					return fmt.Errorf("status %d", res.StatusCode)
				}
				return nil
			}
			f, err := seedFleet(context.Background(), rdb, *prefix, *vehicles, *unknownShare, *zipfS, warm)
			if err != nil {
				return err
			}
			name := fmt.Sprintf("checkpoint, %d vehicles, Zipf %.1f, %.0f %% unknown", *vehicles, *zipfS, *unknownShare*100)
			// A checkpoint runs for days: its steady state, not its first seconds, is measured. The
			// warm-up runs through the first draws, as the first minutes of a shift would.
			targets = append(targets, target{name: name, url: func(i int64) string { return *base + "/v1/checkpoint/" + f.path(i) }, token: tok,
				warm: 10 * time.Second})
		}
	} else if *vehicles > 0 {
		return fmt.Errorf("-vehicles needs -redis (the fleet's parts are written there)")
	}
	if *only != "" {
		targets = slices.DeleteFunc(targets, func(tg target) bool {
			return tg.name != targets[0].name && !strings.Contains(tg.name, *only)
		})
	}
	for i := range targets {
		targets[i].seq = new(atomic.Int64)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 4 * *conc, MaxIdleConnsPerHost: 4 * *conc, IdleConnTimeout: time.Minute}}
	fmt.Fprintf(out, "| scenario | max requests/s (%d clients, median of %d rounds) | ratio to plain (median; per round) | p50 at %d/s | p99 at %d/s | errors |\n|---|---|---|---|---|---|\n",
		*conc, *rounds, *rate, *rate)
	var notes []string
	defer func() {
		for _, n := range notes {
			fmt.Fprintln(out, n)
		}
	}()
	for _, tg := range targets {
		warm := tg.warm
		if warm == 0 {
			warm = time.Second
		}
		if r := do(client, tg, warm, *conc, 0); r.errors > 0 { // warm-up and a check that it answers
			return fmt.Errorf("%s: %d of %d warm-up requests failed (%s)", tg.name, r.errors, r.n, r.lastErr)
		}
	}
	tps := make([][]result, len(targets))
	for r := range *rounds {
		fmt.Fprintf(os.Stderr, "cpload: throughput round %d of %d\n", r+1, *rounds)
		for i, tg := range targets {
			tps[i] = append(tps[i], do(client, tg, *duration/time.Duration(*rounds), *conc, 0))
		}
	}
	for i, tg := range targets {
		fmt.Fprintf(os.Stderr, "cpload: latency of %s at %d/s\n", tg.name, *rate)
		lat := do(client, tg, *duration, 0, *rate)
		var rps, ratios []float64
		var errs, off, n int64
		for r, tp := range tps[i] {
			rps = append(rps, tp.rps())
			ratios = append(ratios, tp.rps()/tps[0][r].rps())
			errs, off, n = errs+tp.errors, off+tp.off, n+tp.n
		}
		perRound := ""
		for j, x := range ratios {
			if j > 0 {
				perRound += " "
			}
			perRound += fmt.Sprintf("%.2f", x)
		}
		fmt.Fprintf(out, "| %s | %.0f | %.2f (%s) | %s | %s | %d |\n", tg.name, median(rps), median(ratios), perRound,
			ms(lat.p(0.50)), ms(lat.p(0.99)), errs+lat.errors)
		if off += lat.off; off > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d of %d lookups found every part already back in Redis or memory "+
				"(another client's lookup of the same plate had fetched and written them back first)", tg.name, off, n+lat.n))
		}
	}
	return nil
}

// serveSink answers OTLP/HTTP trace exports (protobuf) on addr, counting their spans.
func serveSink(addr string) (*atomic.Int64, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-otlp-sink: %w", err)
	}
	var spans atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans.Add(int64(len(ss.Spans)))
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse: everything accepted
	})
	go func() { _ = http.Serve(ln, mux) }()
	return &spans, nil
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

type result struct {
	n, errors int64
	off       int64 // answers the scenario's check refused (not what it measures)
	elapsed   time.Duration
	lat       []time.Duration
	lastErr   string
}

func (r result) rps() float64 { return float64(r.n) / r.elapsed.Seconds() }

func (r result) p(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	slices.Sort(r.lat)
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*q))]
}

// do runs tg for d: closed loop with conc clients when rate is 0, else an open loop at rate/s.
func do(client *http.Client, tg target, d time.Duration, conc, rate int) result {
	ctx := context.Background()
	var n, errs, off atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var lastErr atomic.Value
	one := func(i int64, scheduled time.Time) {
		if tg.before != nil {
			tg.before(ctx)
			if rate == 0 {
				scheduled = time.Now()
			}
		}
		req, _ := http.NewRequest("GET", tg.url(i), nil)
		req.Header.Set("Authorization", "Bearer "+tg.token(i))
		res, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			switch {
			case res.StatusCode != 200:
				err = fmt.Errorf("status %d", res.StatusCode)
			case tg.check != nil && !tg.check(body):
				off.Add(1)
			}
		}
		el := time.Since(scheduled)
		n.Add(1)
		if err != nil {
			errs.Add(1)
			lastErr.Store(err.Error())
		}
		mu.Lock()
		lat = append(lat, el)
		mu.Unlock()
	}
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	if rate == 0 {
		seq := tg.seq
		for c := 0; c < conc; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					one(seq.Add(1), time.Now())
				}
			}()
		}
	} else {
		interval := time.Second / time.Duration(rate)
		sem := make(chan struct{}, 512)
		for n := int64(0); ; n++ {
			i := tg.seq.Add(1)
			at := start.Add(time.Duration(n) * interval)
			if !at.Before(deadline) {
				break
			}
			if w := time.Until(at); w > 0 {
				time.Sleep(w)
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				one(i, at)
			}()
		}
	}
	wg.Wait()
	r := result{n: n.Load(), errors: errs.Load(), off: off.Load(), elapsed: time.Since(start), lat: lat}
	if s, ok := lastErr.Load().(string); ok {
		r.lastErr = s
	}
	return r
}
