// Package vehicleinfo is how a service asks the registry about a vehicle: it reads the
// registry's status from Redis (libs/summary), and when the entry is missing it asks the
// registry over HTTP (GET /v1/registry/status), which answers from MongoDB and rebuilds the
// entry. Remote sensing, OBD, muck and the checkpoint use it.
package vehicleinfo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// ErrUnknown: the registry has no such vehicle.
var ErrUnknown = fmt.Errorf("vehicle is not in the registry: %w", apperr.ErrNotFound)

// Config says where the registry is.
type Config struct {
	// RegistryURL is the registry's base URL (CLEARSKY_REGISTRY_URL), e.g. http://registry:8080.
	RegistryURL string
	// Timeout bounds one HTTP fallback; default 800 ms.
	Timeout time.Duration
}

// Deps are the client's collaborators.
type Deps struct {
	Redis      redis.UniversalClient
	Prefix     string
	HTTP       *http.Client // nil: a default client
	Keys       *auth.Keys   // signs the service's own (system) tokens
	Tracer     trace.TracerProvider
	Propagator propagation.TextMapPropagator
	Service    string // the calling service, the token's subject
}

// Client reads registry statuses.
type Client struct {
	cfg    Config
	d      Deps
	tracer trace.Tracer
	tokens *auth.SystemTokens
}

// New returns a client.
func New(cfg Config, d Deps) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 800 * time.Millisecond
	}
	if d.HTTP == nil {
		d.HTTP = &http.Client{}
	}
	cfg.RegistryURL = strings.TrimRight(cfg.RegistryURL, "/")
	return &Client{cfg: cfg, d: d, tracer: d.Tracer.Tracer("github.com/clearsky/clearsky/libs/vehicleinfo"), tokens: auth.NewSystemTokens(d.Keys, d.Service)}
}

// ByPlate returns the status of the vehicle carrying plate and colour (both normalised).
func (c *Client) ByPlate(ctx context.Context, plate string, colour vehicleid.Colour) (summary.Vehicle, error) {
	key := summary.Key(c.d.Prefix, vehicleid.Key(plate, colour), summary.Registry)
	return c.lookup(ctx, key, url.Values{"plate": {plate}, "colour": {string(colour)}})
}

// PlateRef names a vehicle by plate and colour (both normalised).
type PlateRef struct {
	Plate  string
	Colour vehicleid.Colour
}

// Result is the registry's answer about one vehicle: its status, or the error (ErrUnknown, or
// apperr.ErrUnavailable when neither Redis nor the registry answered).
type Result struct {
	Vehicle summary.Vehicle
	Err     error
}

// ByPlates returns the statuses of many vehicles, keyed by vehicleid.Key: one pipelined round
// trip of GETs for all of them (a pipeline, not an MGET: each plate's key has its own hash tag,
// so on Redis Cluster they lie in different slots), then the registry over HTTP for those Redis
// lacks, at most concurrency at a time.
func (c *Client) ByPlates(ctx context.Context, plates []PlateRef, concurrency int) map[string]Result {
	out := make(map[string]Result, len(plates))
	var keys []string
	var refs []PlateRef
	for _, p := range plates {
		k := vehicleid.Key(p.Plate, p.Colour)
		if _, ok := out[k]; !ok {
			out[k] = Result{}
			keys = append(keys, summary.Key(c.d.Prefix, k, summary.Registry))
			refs = append(refs, p)
		}
	}
	if len(refs) == 0 {
		return out
	}
	var missing []PlateRef
	cmds := make([]*redis.StringCmd, len(keys))
	pipe := c.d.Redis.Pipeline()
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for i, p := range refs {
		if raw, err := cmds[i].Result(); err == nil {
			if v, ok := decodeVehicle(raw); ok {
				out[vehicleid.Key(p.Plate, p.Colour)] = Result{Vehicle: v}
				continue
			}
		}
		missing = append(missing, p) // missing, unreadable, or Redis down: ask the registry
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan PlateRef)
	for range min(max(concurrency, 1), len(missing)) {
		wg.Go(func() {
			for p := range next {
				v, err := c.Fetch(ctx, url.Values{"plate": {p.Plate}, "colour": {string(p.Colour)}})
				mu.Lock()
				out[vehicleid.Key(p.Plate, p.Colour)] = Result{Vehicle: v, Err: err}
				mu.Unlock()
			}
		})
	}
	for _, p := range missing {
		next <- p
	}
	close(next)
	wg.Wait()
	return out
}

func decodeVehicle(raw string) (summary.Vehicle, bool) {
	v, _, ok := summary.Read[summary.Vehicle](raw, time.Now())
	return v, ok
}

// ByVIN returns the status of the vehicle with vin (normalised).
func (c *Client) ByVIN(ctx context.Context, vin string) (summary.Vehicle, error) {
	return c.lookup(ctx, summary.VINKey(c.d.Prefix, vin), url.Values{"vin": {vin}})
}

func (c *Client) lookup(ctx context.Context, key string, q url.Values) (summary.Vehicle, error) {
	if raw, err := c.d.Redis.Get(ctx, key).Result(); err == nil {
		if v, ok := decodeVehicle(raw); ok {
			return v, nil
		}
	}
	// Missing, unreadable, or Redis down: ask the registry, which rebuilds the entry.
	return c.Fetch(ctx, q)
}

// Fetch asks the registry over HTTP, bypassing Redis.
func (c *Client) Fetch(ctx context.Context, q url.Values) (summary.Vehicle, error) {
	return c.call(ctx, http.MethodGet, "/v1/registry/status?"+q.Encode(), nil)
}

// FileTerminalKey files the SM2 public key (hex, X || Y) of the security chip chipID that
// activated vin's bound terminal (PUT /v1/vehicles/{vin}/terminal/key, the OBD gateway's call
// after checking the activation's signature). A 409 (another key on file, another chip bound)
// comes back as apperr.ErrConflict.
func (c *Client) FileTerminalKey(ctx context.Context, vin, chipID, publicKey string) error {
	body, _ := json.Marshal(map[string]string{"chip_id": chipID, "public_key": publicKey})
	_, err := c.call(ctx, http.MethodPut, "/v1/vehicles/"+url.PathEscape(vin)+"/terminal/key", body)
	return err
}

// call makes one request to the registry with the service's token and the trace context.
func (c *Client) call(ctx context.Context, method, path string, body []byte) (summary.Vehicle, error) {
	if c.cfg.RegistryURL == "" {
		return summary.Vehicle{}, fmt.Errorf("no registry URL configured (CLEARSKY_REGISTRY_URL): %w", apperr.ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ctx, span := c.tracer.Start(ctx, method+" "+strings.SplitN(path, "?", 2)[0], trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("peer.service", "registry")))
	defer span.End()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.RegistryURL+path, rd)
	if err != nil {
		return summary.Vehicle{}, err
	}
	tok, err := c.tokens.Token()
	if err != nil {
		return summary.Vehicle{}, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.d.Propagator != nil {
		c.d.Propagator.Inject(ctx, propagation.HeaderCarrier(req.Header))
	}
	res, err := c.d.HTTP.Do(req)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return summary.Vehicle{}, fmt.Errorf("ask the registry: %v: %w", err, apperr.ErrUnavailable)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
	switch {
	case res.StatusCode == http.StatusNotFound:
		return summary.Vehicle{}, ErrUnknown
	case res.StatusCode == http.StatusBadRequest:
		return summary.Vehicle{}, fmt.Errorf("registry refused the request: %s: %w", answer, apperr.ErrInvalid)
	case res.StatusCode == http.StatusConflict:
		return summary.Vehicle{}, fmt.Errorf("registry: %s: %w", answer, apperr.ErrConflict)
	case res.StatusCode != http.StatusOK:
		span.SetStatus(codes.Error, res.Status)
		return summary.Vehicle{}, fmt.Errorf("registry answered %s: %w", res.Status, apperr.ErrUnavailable)
	}
	var v summary.Vehicle
	if method == http.MethodGet {
		if err := json.Unmarshal(answer, &v); err != nil {
			return summary.Vehicle{}, fmt.Errorf("registry answer: %v: %w", err, apperr.ErrUnavailable)
		}
	}
	return v, nil
}

// IsUnknown reports whether err means the registry does not know the vehicle.
func IsUnknown(err error) bool { return errors.Is(err, ErrUnknown) }
