// Command obdsim simulates heavy diesel trucks' on-board terminals against an OBD gateway (GB
// 17691-2018 annex Q over TCP), for trying a deployment, for the end-to-end tests' scenarios by
// hand, and for load: it can register and bind the simulated trucks through the registry's API,
// inject network and terminal faults, and measure how many frames per second the platform
// persists (from the service's /metrics), beside the raw write rate of the same frames into the
// same MongoDB as a baseline.
//
//	obdsim -addr 127.0.0.1:7700 -trucks 20 -frames 30 -api http://127.0.0.1:8080 -token $BUREAU -register
//	obdsim -addr 127.0.0.1:7700 -trucks 200 -frames 200 -api http://127.0.0.1:8080 -token $BUREAU -register -measure
//	obdsim -baseline -mongodb mongodb://127.0.0.1:27017/ -trucks 200 -frames 200
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/obd/internal/monitor"
	"github.com/clearsky/clearsky/services/obd/internal/monitorstore"
	"github.com/clearsky/clearsky/services/obd/internal/protocol"
	"github.com/clearsky/clearsky/services/obd/internal/sim"
	"github.com/clearsky/clearsky/services/obd/internal/sm2sig"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "obdsim:", err)
		os.Exit(1)
	}
}

type options struct {
	addr, api, token, mongo, prefix, fleet string
	trucks, frames, first, batch           int
	interval                               time.Duration
	register, measure, baseline, faults    bool
	sign                                   bool
	layout                                 string
	profiles                               string
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("obdsim", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:7700", "the OBD gateway's TCP address")
	fs.StringVar(&o.api, "api", "http://127.0.0.1:8080", "the platform's HTTP base (registry for -register, /metrics for -measure)")
	fs.StringVar(&o.token, "token", "", "a bureau token, for -register")
	fs.StringVar(&o.fleet, "fleet", "fleet-sim", "fleet id of the registered trucks")
	fs.StringVar(&o.mongo, "mongodb", "", "MongoDB URI, for -baseline")
	fs.StringVar(&o.prefix, "vin-prefix", "LSMTRKAB", "first 8 characters of the simulated VINs")
	fs.IntVar(&o.trucks, "trucks", 10, "simulated trucks (concurrent terminals)")
	fs.IntVar(&o.first, "first", 1, "number of the first truck")
	fs.IntVar(&o.batch, "batch", 500, "frames per write in -baseline (the pipeline's batch size)")
	fs.IntVar(&o.frames, "frames", 30, "real-time frames per truck (each carries ten 1 Hz samples)")
	fs.DurationVar(&o.interval, "interval", 0, "wall time between a truck's frames (0: as fast as the gateway takes them)")
	fs.BoolVar(&o.register, "register", false, "register the trucks and bind their terminals through the registry first")
	fs.BoolVar(&o.measure, "measure", false, "report the frames/s the platform persisted, from its /metrics")
	fs.BoolVar(&o.baseline, "baseline", false, "write the same frames straight into -mongodb (the storage baseline) instead of over TCP")
	fs.BoolVar(&o.faults, "faults", false, "inject split/joined frames, garbage, bad checksums, disconnects and reissues")
	fs.StringVar(&o.layout, "layout", "gb17691", "report layout: gb17691, or hj1239 (items with their own times)")
	fs.BoolVar(&o.sign, "sign", false, "with -layout hj1239: each terminal activates with an SM2 key of its own and signs every report")
	fs.StringVar(&o.profiles, "profiles", "nox_high,reagent_empty,mil_on,removal", "profiles of the first trucks (the rest drive clean)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if strings.ContainsAny(o.prefix, "IOQ") || len(o.prefix) != 8 {
		return fmt.Errorf("-vin-prefix must be 8 VIN characters (no I, O, Q)")
	}
	terms, err := terminals(o)
	if err != nil {
		return err
	}
	if o.baseline {
		return baseline(ctx, o, terms, out)
	}
	if o.register {
		if err := register(ctx, o, terms, out); err != nil {
			return err
		}
		if o.frames == 0 {
			return nil // registration only: no terminal connects
		}
	}
	var before float64
	if o.measure {
		if before, err = persisted(ctx, o.api); err != nil {
			return err
		}
	}
	opts := sim.Options{Addr: o.addr, Terminals: terms, Frames: o.frames, Interval: o.interval, Seed: uint64(time.Now().UnixNano())}
	if o.faults {
		opts.Faults = sim.Faults{Garbage: 0.05, BadChecksum: 0.05, Disconnect: 0.02, Reissue: 0.05, SplitJoin: true}
	}
	if o.sign {
		refused, err := sim.Activate(ctx, o.addr, terms)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "activated %d terminals (%d refused)\n", len(terms)-refused, refused)
		opts.Activated = true
		time.Sleep(500 * time.Millisecond) // the registry's parts carry the keys a moment after filing
	}
	if o.measure {
		if err := sim.Prepare(&opts); err != nil { // frames built and signed before the clock starts
			return err
		}
	}
	fmt.Fprintf(out, "sending %d frames from %d trucks to %s ...\n", o.trucks*o.frames, o.trucks, o.addr)
	start := time.Now()
	done := make(chan struct{})
	go progress(ctx, done, o, before, out)
	rep, err := sim.Run(ctx, opts)
	close(done)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sent %d frames (%d samples) in %.2fs: %.0f frames/s; %d corrupted copies, %d reissues, %d disconnects\n",
		rep.Frames, rep.Samples, rep.Elapsed.Seconds(), float64(rep.Frames)/rep.Elapsed.Seconds(), rep.Corrupted, rep.Reissued, rep.Disconnects)
	if !o.measure {
		return nil
	}
	want := before + float64(rep.Frames)
	for {
		n, err := persisted(ctx, o.api)
		if err != nil {
			return err
		}
		if n >= want {
			el := time.Since(start)
			fmt.Fprintf(out, "persisted %d frames in %.2fs: %.0f frames/s (%.0f samples/s) sustained through the platform\n",
				int64(n-before), el.Seconds(), (n-before)/el.Seconds(), 10*(n-before)/el.Seconds())
			return nil
		}
		if time.Since(start) > 10*time.Minute {
			return fmt.Errorf("only %d of %d frames persisted after 10 minutes", int64(n-before), rep.Frames)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func progress(ctx context.Context, done <-chan struct{}, o options, before float64, out io.Writer) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			if o.measure {
				if n, err := persisted(ctx, o.api); err == nil {
					fmt.Fprintf(out, "  ... %d of %d frames persisted\n", int64(n-before), o.trucks*o.frames)
				}
			}
		}
	}
}

func terminals(o options) ([]sim.Terminal, error) {
	profiles := strings.Split(o.profiles, ",")
	var out []sim.Terminal
	for i := 0; i < o.trucks; i++ {
		n := o.first + i
		vin, err := vehicleid.WithCheckDigit(fmt.Sprintf("%s0%08d", o.prefix, n))
		if err != nil {
			return nil, err
		}
		p := sim.Clean
		if i < len(profiles) && profiles[i] != "" {
			p = sim.Profile(profiles[i])
		}
		t := sim.Terminal{VIN: vin, ICCID: fmt.Sprintf("898600%014d", n), Profile: p}
		switch o.layout {
		case "", "gb17691":
		case "hj1239":
			t.Layout = protocol.LayoutHJ1239
		default:
			return nil, fmt.Errorf("-layout must be gb17691 or hj1239")
		}
		if o.sign {
			if t.Layout != protocol.LayoutHJ1239 {
				return nil, fmt.Errorf("-sign needs -layout hj1239")
			}
			if t.Key, err = sm2sig.NewKey(); err != nil {
				return nil, err
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func register(ctx context.Context, o options, terms []sim.Terminal, out io.Writer) error {
	if o.token == "" {
		return fmt.Errorf("-register needs -token (a bureau token: clearsky token -role bureau)")
	}
	fmt.Fprintf(out, "registering %d trucks through %s ...\n", len(terms), o.api)
	for i, t := range terms {
		plate := fmt.Sprintf("晋S%05d", o.first+i)
		body := map[string]any{"vin": t.VIN, "plate": plate, "plate_colour": "yellow", "fuel_type": "diesel", "emission_standard": "VIb",
			"category": "N3", "use": "operating", "service_class": "freight", "maker": "Simulated", "registered_on": "2025-01-01",
			"gross_mass_kg": 31000, "fleet_id": o.fleet}
		if code, msg, err := post(ctx, o, "POST", "/v1/vehicles", body); err != nil || (code != 201 && code != 409) {
			return fmt.Errorf("register %s: %d %s %v", t.VIN, code, msg, err)
		}
		if code, msg, err := post(ctx, o, "PUT", "/v1/vehicles/"+t.VIN+"/terminal", map[string]any{"iccid": t.ICCID}); err != nil || code != 200 {
			return fmt.Errorf("bind %s: %d %s %v", t.VIN, code, msg, err)
		}
	}
	return nil
}

func post(ctx context.Context, o options, method, path string, body any) (int, string, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, method, o.api+path, bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 2000))
	return res.StatusCode, string(msg), nil
}

// persisted reads clearsky_obd_frames_persisted_total from the platform's /metrics.
func persisted(ctx context.Context, api string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", api+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read %s/metrics: %w", api, err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "clearsky_obd_frames_persisted_total "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("%s/metrics has no clearsky_obd_frames_persisted_total: is it the OBD service or the all-in-one?", api)
}

// baseline writes the same frames straight into MongoDB with the store's batched inserts, the
// same batch size and two writers as the pipeline: the storage write rate the platform's
// persisted rate is compared with.
func baseline(ctx context.Context, o options, terms []sim.Terminal, out io.Writer) error {
	if o.mongo == "" {
		return fmt.Errorf("-baseline needs -mongodb URI")
	}
	client, db, err := mongodb.Connect(ctx, o.mongo, fmt.Sprintf("obdsim_baseline_%d", time.Now().UnixNano()), nil)
	if err != nil {
		return err
	}
	defer func() { _ = db.Drop(context.Background()); _ = client.Disconnect(context.Background()) }()
	store := monitorstore.New(db)
	policy, err := mongodb.ResolveIndexPolicy(ctx, db, "auto") // as the service builds them
	if err != nil {
		return err
	}
	if err := store.EnsureIndexes(ctx, policy); err != nil {
		return err
	}
	start := time.Now().Add(-time.Duration(o.frames+1) * 10 * time.Second).Truncate(time.Second)
	var all []monitor.Frame
	var f protocol.Frame
	for _, t := range terms {
		for k := 0; k < o.frames; k++ {
			raw, err := sim.Frame(t, protocol.CmdRealtime, start.Add(time.Duration(k)*10*time.Second), k)
			if err != nil {
				return err
			}
			if err := (protocol.Decoder{Layout: t.Layout}).Decode(raw, &f); err != nil {
				return err
			}
			all = append(all, *monitor.FrameOf(&f, raw, time.Now(), monitor.SourceTCP))
		}
	}
	fmt.Fprintf(out, "writing %d frames straight into MongoDB in batches of %d from 2 writers ...\n", len(all), o.batch)
	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * o.batch; i < len(all); i += 2 * o.batch {
				if _, err := store.InsertFrames(ctx, all[i:min(i+o.batch, len(all))]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	el := time.Since(began)
	fmt.Fprintf(out, "baseline: %d frames in %.2fs: %.0f frames/s written to storage\n", len(all), el.Seconds(), float64(len(all))/el.Seconds())
	return nil
}
