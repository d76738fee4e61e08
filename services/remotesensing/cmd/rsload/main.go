// Command rsload is the remote-sensing load generator: it uploads synthetic readings in batches
// to a running service (standalone or the all-in-one) and reports readings judged and stored
// per second with the latency of each batch. With -baseline it instead inserts the very same
// reading documents straight into MongoDB with the service's store (an unordered InsertMany per
// batch), the raw write rate the service's figure is compared with.
//
//	rsload -url http://127.0.0.1:8090 -token $BUREAU_TOKEN -redis redis://127.0.0.1:6379/0 -prefix rsdev: \
//	       -readings 50000 -batch 1000 -concurrency 4
//	rsload -baseline mongodb://127.0.0.1:27017/ -readings 50000 -batch 1000 -concurrency 4
//
// The token must be the bureau's (it registers the load station, then uploads). With -redis the
// tool first writes the registry's summaries of its -plates synthetic diesel trucks into Redis,
// as the registry would, so every reading is judged without a registry.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensing"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensingstore"
)

type options struct {
	url, token, redisURL, prefix, baseline, database, station string
	readings, batch, concurrency, plates                      int
	exceed                                                    float64
	seed                                                      uint64
	indexes                                                   string
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "http://127.0.0.1:8080", "the service's base URL")
	flag.StringVar(&o.token, "token", "", "a bureau bearer token (registers the station and uploads)")
	flag.StringVar(&o.redisURL, "redis", "", "Redis URL: seed the registry summaries of the synthetic trucks first")
	flag.StringVar(&o.prefix, "prefix", "cs:", "the service's Redis key prefix (CLEARSKY_REDIS_PREFIX)")
	flag.StringVar(&o.baseline, "baseline", "", "MongoDB URI: insert the same documents directly instead (the baseline)")
	flag.StringVar(&o.database, "db", "rsload_baseline", "the baseline's database (dropped at the end)")
	flag.StringVar(&o.station, "station", "RSLOAD-1", "the load station's id")
	flag.IntVar(&o.readings, "readings", 20000, "readings to send")
	flag.IntVar(&o.batch, "batch", 1000, "readings per batch")
	flag.IntVar(&o.concurrency, "concurrency", 4, "batches in flight")
	flag.IntVar(&o.plates, "plates", 2000, "distinct synthetic trucks")
	flag.Float64Var(&o.exceed, "exceed", 0.03, "share of readings above the opacity limit")
	flag.Uint64Var(&o.seed, "seed", uint64(time.Now().UnixNano()), "random seed")
	flag.StringVar(&o.indexes, "indexes", "auto", "with -baseline: which of the store's indexes to create first (auto, all, unique; auto: as the service does)")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "rsload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.readings < 1 || o.batch < 1 || o.concurrency < 1 || o.plates < 1 {
		return errors.New("-readings, -batch, -concurrency and -plates must be positive")
	}
	batches := generate(o)
	if o.baseline != "" {
		return baseline(ctx, o, batches)
	}
	if o.token == "" {
		return errors.New("-token is required (a bureau token)")
	}
	if o.redisURL != "" {
		if err := seedRegistry(ctx, o); err != nil {
			return err
		}
	}
	if err := registerStation(ctx, o); err != nil {
		return err
	}
	return upload(ctx, o, batches)
}

var makers = []string{"Sinotruk", "FAW Jiefang", "Dongfeng", "Shaanxi Auto", "Foton"}

func plate(i int) string { return fmt.Sprintf("晋F%05d", i) }

func vehicle(i int) summary.Vehicle {
	return summary.Vehicle{VIN: fmt.Sprintf("LOAD%013d", i), Plate: plate(i), PlateColour: string(vehicleid.Yellow), Status: "active",
		FuelType: "diesel", EmissionStandard: "V", Category: "N3", Use: "operating", ServiceClass: "freight", Heavy: true,
		Maker: makers[i%len(makers)], FleetID: fmt.Sprintf("fleet-load-%d", i%20), InspectionStation: fmt.Sprintf("JC-%02d", i%8),
		RegisteredPlace: "朔州市"}
}

// seedRegistry writes the trucks' registry summaries into Redis, as the registry does.
func seedRegistry(ctx context.Context, o options) error {
	opt, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return fmt.Errorf("-redis: %w", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	now := time.Now()
	for start := 0; start < o.plates; start += 1000 {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := start; i < min(start+1000, o.plates); i++ {
				b, err := summary.Encode(summary.Registry, now, vehicle(i))
				if err != nil {
					return err
				}
				p.Set(ctx, summary.Key(o.prefix, vehicleid.Key(plate(i), vehicleid.Yellow), summary.Registry), b, time.Hour)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed registry summaries: %w", err)
		}
	}
	fmt.Printf("seeded %d registry summaries under %s\n", o.plates, o.prefix)
	return nil
}

func (o options) call(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, o.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

func registerStation(ctx context.Context, o options) error {
	b, _ := json.Marshal(map[string]any{"station_id": o.station, "name": "rsload station", "lat": 39.33, "lon": 112.43,
		"operator_id": "op-rsload", "calibrated_on": time.Now().AddDate(0, 0, -1).Format(time.DateOnly)})
	code, body, err := o.call(ctx, http.MethodPost, "/v1/remote-sensing/stations", b)
	if err != nil {
		return fmt.Errorf("register station: %w", err)
	}
	if code != http.StatusCreated && code != http.StatusOK && code != http.StatusConflict {
		return fmt.Errorf("register station: %d %s", code, body)
	}
	return nil
}

type readingJSON struct {
	ReadingID   string   `json:"reading_id"`
	StationID   string   `json:"station_id"`
	Plate       string   `json:"plate"`
	PlateColour string   `json:"plate_colour"`
	MeasuredAt  string   `json:"measured_at"`
	Opacity     float64  `json:"opacity_pct"`
	NO          float64  `json:"no_ppm"`
	Ringelmann  float64  `json:"ringelmann"`
	SpeedKmh    float64  `json:"speed_kmh"`
	AccelMS2    float64  `json:"accel_ms2"`
	WindMS      float64  `json:"wind_ms"`
	Photos      []string `json:"photos"`
}

// generate makes the run's readings, in batches: unique ids, the trucks in random order,
// measured within the last hour, o.exceed of them above the opacity limit.
func generate(o options) [][]readingJSON {
	rng := rand.New(rand.NewPCG(o.seed, 42))
	run := fmt.Sprintf("L%x", o.seed&0xffffffff)
	now := time.Now()
	var out [][]readingJSON
	for start := 0; start < o.readings; start += o.batch {
		b := make([]readingJSON, 0, o.batch)
		for i := start; i < min(start+o.batch, o.readings); i++ {
			opacity := 3 + rng.Float64()*20
			if rng.Float64() < o.exceed {
				opacity = 31 + rng.Float64()*40
			}
			b = append(b, readingJSON{ReadingID: fmt.Sprintf("%s-%08d", run, i), StationID: o.station, Plate: plate(rng.IntN(o.plates)),
				PlateColour: "yellow", MeasuredAt: now.Add(-time.Duration(rng.IntN(3600)) * time.Second).Format(time.RFC3339),
				Opacity: float64(int(opacity*10)) / 10, NO: float64(200 + rng.IntN(900)), Ringelmann: 0, SpeedKmh: float64(20 + rng.IntN(60)),
				AccelMS2: float64(rng.IntN(15)) / 10, WindMS: float64(rng.IntN(30)) / 10, Photos: []string{"oss://rsload/" + run + ".jpg"}})
		}
		out = append(out, b)
	}
	return out
}

type stats struct {
	mu        sync.Mutex
	latencies []time.Duration
	sent      atomic.Int64
	counts    map[string]int
	failures  atomic.Int64
}

func (s *stats) add(d time.Duration, counts map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies = append(s.latencies, d)
	for k, v := range counts {
		s.counts[k] += v
	}
}

func (s *stats) report(what string, n int, elapsed time.Duration) {
	slices.Sort(s.latencies)
	pct := func(p float64) time.Duration {
		if len(s.latencies) == 0 {
			return 0
		}
		return s.latencies[min(len(s.latencies)-1, int(p*float64(len(s.latencies))))]
	}
	fmt.Printf("%s: %d readings in %d batches in %.2f s = %.0f readings/s\n", what, n, len(s.latencies), elapsed.Seconds(), float64(n)/elapsed.Seconds())
	fmt.Printf("batch latency: p50 %v  p95 %v  p99 %v  max %v\n", pct(0.5).Round(time.Millisecond), pct(0.95).Round(time.Millisecond),
		pct(0.99).Round(time.Millisecond), pct(1).Round(time.Millisecond))
	if len(s.counts) > 0 {
		keys := make([]string, 0, len(s.counts))
		for k := range s.counts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Print("outcomes:")
		for _, k := range keys {
			fmt.Printf(" %s=%d", k, s.counts[k])
		}
		fmt.Println()
	}
	if f := s.failures.Load(); f > 0 {
		fmt.Printf("FAILED batches: %d\n", f)
	}
}

// each runs fn on every batch, o.concurrency at a time, timing each call.
func each(o options, batches [][]readingJSON, st *stats, fn func(b []readingJSON) (map[string]int, error)) time.Duration {
	next := make(chan []readingJSON)
	var wg sync.WaitGroup
	start := time.Now()
	for range o.concurrency {
		wg.Go(func() {
			for b := range next {
				t := time.Now()
				counts, err := fn(b)
				if err != nil {
					st.failures.Add(1)
					fmt.Fprintln(os.Stderr, "batch failed:", err)
					continue
				}
				st.add(time.Since(t), counts)
				st.sent.Add(int64(len(b)))
			}
		})
	}
	for _, b := range batches {
		next <- b
	}
	close(next)
	wg.Wait()
	return time.Since(start)
}

func upload(ctx context.Context, o options, batches [][]readingJSON) error {
	st := &stats{counts: map[string]int{}}
	elapsed := each(o, batches, st, func(b []readingJSON) (map[string]int, error) {
		body, _ := json.Marshal(b)
		code, res, err := o.call(ctx, http.MethodPost, "/v1/remote-sensing/measurements", body)
		if err != nil {
			return nil, err
		}
		if code != http.StatusOK {
			return nil, fmt.Errorf("%d %s", code, res)
		}
		var out struct {
			Items []struct {
				Status  string `json:"status"`
				Verdict string `json:"verdict"`
			} `json:"items"`
		}
		if err := json.Unmarshal(res, &out); err != nil {
			return nil, err
		}
		counts := map[string]int{}
		for _, it := range out.Items {
			counts[it.Status+"/"+it.Verdict]++
		}
		return counts, nil
	})
	st.report("service (judged and stored)", int(st.sent.Load()), elapsed)
	return nil
}

// baseline inserts the same readings, judged as the service judges them, straight into
// MongoDB through the service's store.
func baseline(ctx context.Context, o options, batches [][]readingJSON) error {
	client, db, err := mongodb.Connect(ctx, o.baseline, o.database, nil)
	if err != nil {
		return err
	}
	defer func() {
		_ = db.Drop(context.Background())
		_ = client.Disconnect(context.Background())
	}()
	_ = db.Drop(ctx)
	store := sensingstore.New(db)
	policy, err := mongodb.ResolveIndexPolicy(ctx, db, o.indexes)
	if err != nil {
		return err
	}
	if err := store.EnsureIndexes(ctx, policy); err != nil {
		return err
	}
	table, now := limits.Default(), time.Now()
	station := sensing.Station{ID: o.station, OperatorID: "op-rsload", CalibratedOn: localtime.DayOf(now).AddDate(0, 0, -1)}
	docs := make([][]sensing.Reading, len(batches))
	for i, b := range batches {
		for _, r := range b {
			in := sensing.ReadingInput{ReadingID: r.ReadingID, StationID: r.StationID, Plate: r.Plate, PlateColour: r.PlateColour,
				MeasuredAt: r.MeasuredAt, Opacity: &r.Opacity, NO: &r.NO, Ringelmann: &r.Ringelmann, SpeedKmh: &r.SpeedKmh, AccelMS2: &r.AccelMS2,
				WindMS: &r.WindMS, Photos: r.Photos}
			rd, err := in.Normalise(now, "")
			if err != nil {
				return err
			}
			var n int
			_, _ = fmt.Sscanf(r.Plate[len("晋F"):], "%d", &n)
			v := vehicle(n)
			rd.OperatorID, rd.ReceivedAt, rd.UploadedBy, rd.JudgedAt = station.OperatorID, now, "rsload", now
			rd.Trace = sensing.Trace{VIN: v.VIN, FuelType: v.FuelType, Maker: v.Maker, FleetID: v.FleetID, InspectionStation: v.InspectionStation, RegisteredPlace: v.RegisteredPlace}
			rd.Judgement = limits.Judge(table, limits.Input{MeasuredAt: rd.MeasuredAt, Values: rd.Values, SpeedKmh: rd.SpeedKmh, AccelMS2: rd.AccelMS2,
				WindMS: rd.WindMS, Fuel: v.FuelType, CalibratedOn: station.CalibratedOn, CalibrationValidDays: 365})
			rd.Verdict = sensing.Verdict(rd.Judgement.Verdict)
			docs[i] = append(docs[i], rd)
		}
	}
	byFirst := map[string]int{}
	for i, b := range batches {
		byFirst[b[0].ReadingID] = i
	}
	st := &stats{counts: map[string]int{}}
	elapsed := each(o, batches, st, func(b []readingJSON) (map[string]int, error) {
		dups, err := store.InsertReadings(ctx, docs[byFirst[b[0].ReadingID]])
		if err != nil {
			return nil, err
		}
		return map[string]int{"inserted": len(b) - len(dups), "duplicate": len(dups)}, nil
	})
	st.report("baseline (InsertMany of the same documents)", int(st.sent.Load()), elapsed)
	return nil
}
