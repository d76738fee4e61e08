// Package owners asks the services that own a plate's parts for them over HTTP, through their
// status routes (each owner answers from MongoDB and rewrites its part in Redis), with the
// caller's own system token, a short timeout, and the trace context propagated, so one trace
// shows a whole lookup across the services. Readers use it when a part is unknown in Redis
// (summary.Read): the checkpoint, and muck for a permit's clean-record check.
package owners

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// paths are the owners' status routes.
var paths = map[summary.Part]string{
	summary.Registry:      "/v1/registry/status",
	summary.RemoteSensing: "/v1/remote-sensing/status",
	summary.OBD:           "/v1/obd/status",
	summary.Muck:          "/v1/muck/status",
}

// Client asks the owners.
type Client struct {
	base    map[summary.Part]string
	caller  *Caller
	tracer  trace.Tracer
	timeout time.Duration
}

// Caller makes a service's own calls to another: a GET with the caller's system token and the
// trace context propagated.
type Caller struct {
	http       *http.Client
	tokens     *auth.SystemTokens
	propagator propagation.TextMapPropagator
}

// NewCaller returns a caller for service (the subject of its tokens); hc nil is a default client.
func NewCaller(service string, hc *http.Client, keys *auth.Keys, prop propagation.TextMapPropagator) *Caller {
	if hc == nil {
		hc = &http.Client{}
	}
	return &Caller{http: hc, tokens: auth.NewSystemTokens(keys, service), propagator: prop}
}

// Get asks u and returns the status and at most maxBody bytes of the body.
func (c *Caller) Get(ctx context.Context, u string, maxBody int64) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	tok, err := c.tokens.Token()
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	c.propagator.Inject(ctx, propagation.HeaderCarrier(req.Header))
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return res.StatusCode, nil, fmt.Errorf("read the answer: %w", err)
	}
	return res.StatusCode, body, nil
}

// New returns a client for service (the subject of its tokens); base maps each part to its
// owner's base URL.
func New(service string, base map[summary.Part]string, hc *http.Client, keys *auth.Keys, tp trace.TracerProvider, prop propagation.TextMapPropagator, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = 500 * time.Millisecond
	}
	return &Client{base: base, caller: NewCaller(service, hc, keys, prop), tracer: tp.Tracer("github.com/clearsky/clearsky/libs/owners"), timeout: timeout}
}

// Fetch asks part's owner for the plate's part (its data, not an envelope);
// summary.ErrUnknownPlate when the registry does not know the plate.
func (c *Client) Fetch(ctx context.Context, p summary.Part, plate string, colour vehicleid.Colour) (json.RawMessage, error) {
	base, ok := c.base[p]
	if !ok || base == "" {
		return nil, fmt.Errorf("no URL for the %s service", p)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx, span := c.tracer.Start(ctx, "fallback."+string(p), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("peer.service", string(p))))
	defer span.End()
	q := url.Values{"plate": {plate}, "colour": {string(colour)}}
	status, body, err := c.caller.Get(ctx, strings.TrimRight(base, "/")+paths[p]+"?"+q.Encode(), 1<<20)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, fmt.Errorf("ask %s: %w", p, err)
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	switch {
	case status == http.StatusNotFound && p == summary.Registry:
		return nil, summary.ErrUnknownPlate
	case status != http.StatusOK:
		span.SetStatus(codes.Error, http.StatusText(status))
		return nil, fmt.Errorf("%s answered %d %s", p, status, http.StatusText(status))
	case !json.Valid(body):
		return nil, fmt.Errorf("%s answered invalid JSON", p)
	}
	return body, nil
}
