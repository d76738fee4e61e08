package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// fleet is the many-plates scenario: n registered vehicles whose parts are in Redis, looked up
// Zipf-like (a few plates often, most rarely, as at a real checkpoint), with a share of plates
// the registry does not know.
type fleet struct {
	plates  []string // n registered plates, as path segments with their colour query
	draws   []uint32 // the Zipf draws, by request index
	unknown []bool   // whether request i looks up an unknown plate
	misses  []string // the unknown plates' lookups
}

// seedFleet writes n vehicles' parts to Redis, each a copy of one demo vehicle's parts (every
// kind the demo has: cars, heavy diesel trucks with OBD, muck trucks with permits, open
// remote-sensing cases), with its own plate and VIN and a fresh time, as Redis holds them in a
// district's steady state. Each demo vehicle is looked up once first, so that the parts its
// owners hold nothing about (no reading, no permit) are in Redis as the checkpoint's write-back
// leaves them. The owners' MongoDB is not involved in a cached lookup, so it is not filled.
func seedFleet(ctx context.Context, rdb *redis.Client, prefix string, n int, unknownShare, s float64, warm func(path string) error) (*fleet, error) {
	keys, err := demoPlates(ctx, rdb, prefix)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		plate, colour, _ := strings.Cut(k, ":")
		if err := warm(url.PathEscape(plate) + "?colour=" + colour); err != nil {
			return nil, fmt.Errorf("look up demo vehicle %s: %w", k, err)
		}
	}
	templates, err := demoParts(ctx, rdb, prefix, keys)
	if err != nil {
		return nil, err
	}
	if len(templates) == 0 {
		return nil, fmt.Errorf("no demo vehicle's parts under %q in Redis to copy: start the platform with its demo data first", prefix)
	}
	f := &fleet{plates: make([]string, n)}
	now := time.Now()
	pipe := rdb.Pipeline()
	for i := range n {
		t := templates[i%len(templates)]
		plate := fmt.Sprintf("晋K%05d", i)
		vin := fmt.Sprintf("LLOAD%012d", i)
		key := vehicleid.Key(plate, t.colour)
		for part, data := range t.parts {
			b, err := summary.Encode(part, now, retag(data, plate, vin))
			if err != nil {
				return nil, err
			}
			pipe.Set(ctx, summary.Key(prefix, key, part), b, summary.TTL)
		}
		f.plates[i] = url.PathEscape(plate) + "?colour=" + string(t.colour)
		if pipe.Len() >= 2000 || i == n-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				return nil, fmt.Errorf("write the fleet's parts: %w", err)
			}
			fmt.Fprintf(os.Stderr, "cpload: %d of %d vehicles' parts written\n", i+1, n)
		}
	}
	const draws = 1 << 20
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, s, 1, uint64(n-1))
	f.draws, f.unknown, f.misses = make([]uint32, draws), make([]bool, draws), make([]string, draws)
	for i := range draws {
		f.draws[i] = uint32(z.Uint64())
		if r.Float64() < unknownShare {
			f.unknown[i] = true
			f.misses[i] = url.PathEscape(fmt.Sprintf("晋Z%05d", r.IntN(100_000))) + "?colour=blue"
		}
	}
	return f, nil
}

// path is request i's lookup path (after /v1/checkpoint/).
func (f *fleet) path(i int64) string {
	j := int(i) % len(f.draws)
	if f.unknown[j] {
		return f.misses[j]
	}
	return f.plates[f.draws[j]]
}

type template struct {
	colour vehicleid.Colour
	parts  map[summary.Part]map[string]any
}

// demoPlates lists the plate keys whose registry part is under prefix (not the fleet's own).
func demoPlates(ctx context.Context, rdb *redis.Client, prefix string) ([]string, error) {
	var out []string
	iter := rdb.Scan(ctx, 0, prefix+"{*}:"+string(summary.Registry), 1000).Iterator()
	for iter.Next(ctx) {
		plateKey := strings.TrimSuffix(strings.TrimPrefix(iter.Val(), prefix+"{"), "}:"+string(summary.Registry))
		if _, _, ok := strings.Cut(plateKey, ":"); ok && !strings.HasPrefix(plateKey, "晋K") && !strings.HasPrefix(plateKey, "晋Z") {
			out = append(out, plateKey)
		}
	}
	return out, iter.Err()
}

// demoParts reads the plates' parts.
func demoParts(ctx context.Context, rdb *redis.Client, prefix string, plateKeys []string) ([]template, error) {
	var out []template
	for _, plateKey := range plateKeys {
		_, colour, _ := strings.Cut(plateKey, ":")
		t := template{colour: vehicleid.Colour(colour), parts: map[summary.Part]map[string]any{}}
		for _, p := range []summary.Part{summary.Registry, summary.RemoteSensing, summary.OBD, summary.Muck} {
			raw, err := rdb.Get(ctx, summary.Key(prefix, plateKey, p)).Bytes()
			if err != nil {
				continue
			}
			env, err := summary.Decode(raw)
			if err != nil {
				return nil, err
			}
			var data map[string]any
			if err := json.Unmarshal(env.Data, &data); err != nil {
				return nil, err
			}
			t.parts[p] = data
		}
		out = append(out, t)
	}
	return out, nil
}

// retag is a copy of a part's data with the plate and VIN replaced.
func retag(data map[string]any, plate, vin string) map[string]any {
	out := make(map[string]any, len(data))
	for k, v := range data {
		out[k] = v
	}
	if _, ok := out["plate"]; ok {
		out["plate"] = plate
	}
	if _, ok := out["vin"]; ok {
		out["vin"] = vin
	}
	return out
}
