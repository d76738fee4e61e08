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
	base       map[summary.Part]string
	http       *http.Client
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	timeout    time.Duration
	tokens     *auth.SystemTokens
}

// New returns a client for service (the subject of its tokens); base maps each part to its
// owner's base URL.
func New(service string, base map[summary.Part]string, hc *http.Client, keys *auth.Keys, tp trace.TracerProvider, prop propagation.TextMapPropagator, timeout time.Duration) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	if timeout <= 0 {
		timeout = 500 * time.Millisecond
	}
	return &Client{base: base, http: hc, tokens: auth.NewSystemTokens(keys, service), tracer: tp.Tracer("github.com/clearsky/clearsky/libs/owners"), propagator: prop, timeout: timeout}
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+paths[p]+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	tok, err := c.tokens.Token()
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	c.propagator.Inject(ctx, propagation.HeaderCarrier(req.Header))
	res, err := c.http.Do(req)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, fmt.Errorf("ask %s: %w", p, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s answer: %w", p, err)
	}
	span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
	switch {
	case res.StatusCode == http.StatusNotFound && p == summary.Registry:
		return nil, summary.ErrUnknownPlate
	case res.StatusCode != http.StatusOK:
		span.SetStatus(codes.Error, res.Status)
		return nil, fmt.Errorf("%s answered %s", p, res.Status)
	case !json.Valid(body):
		return nil, fmt.Errorf("%s answered invalid JSON", p)
	}
	return body, nil
}
