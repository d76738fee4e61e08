// Package sources asks the services that own the records for a month's rows, over their
// projection routes (libs/disclosure.Routes), with the disclosure service's own system token and
// the trace context propagated.
package sources

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/disclosure"
	"github.com/clearsky/clearsky/libs/owners"
	"github.com/clearsky/clearsky/services/disclosure/internal/publish"
)

// Client asks the owners.
type Client struct {
	base   map[disclosure.Kind]string
	caller *owners.Caller
	tracer trace.Tracer
}

// New returns a client; base maps each list to its owner's base URL.
func New(service string, base map[disclosure.Kind]string, hc *http.Client, keys *auth.Keys, tp trace.TracerProvider, prop propagation.TextMapPropagator) *Client {
	return &Client{base: base, caller: owners.NewCaller(service, hc, keys, prop), tracer: tp.Tracer("github.com/clearsky/clearsky/services/disclosure/internal/sources")}
}

// maxBody bounds an owner's answer (a month of a district's rows is far less).
const maxBody = 64 << 20

// Rows asks the owner of k for month m's rows.
func (c *Client) Rows(ctx context.Context, k disclosure.Kind, m disclosure.Month) ([]publish.Row, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	ctx, span := c.tracer.Start(ctx, "compile."+string(k), trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	u := strings.TrimRight(c.base[k], "/") + disclosure.Routes[k] + "?" + url.Values{"month": {string(m)}}.Encode()
	status, body, err := c.caller.Get(ctx, u, maxBody)
	if err != nil {
		return nil, fmt.Errorf("the service that owns the %s list did not answer (%v); try again: %w", k, err, apperr.ErrUnavailable)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("the service that owns the %s list answered %d; try again: %w", k, status, apperr.ErrUnavailable)
	}
	switch k {
	case disclosure.VehicleExceedances:
		return decode(body, func(r *disclosure.VehicleRow, row *publish.Row) { row.Vehicle = r })
	case disclosure.FuelFailures:
		return decode(body, func(r *disclosure.FuelRow, row *publish.Row) { row.Fuel = r })
	case disclosure.MuckViolations:
		return decode(body, func(r *disclosure.MuckRow, row *publish.Row) { row.Muck = r })
	}
	return nil, fmt.Errorf("no owner for list %q", k)
}

func decode[R any](body []byte, set func(*R, *publish.Row)) ([]publish.Row, error) {
	var p disclosure.Projection[R]
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("the owner's list is not what it should be: %w", err)
	}
	out := make([]publish.Row, len(p.Rows))
	for i := range p.Rows {
		out[i].N = i + 1
		set(&p.Rows[i], &out[i])
	}
	return out, nil
}
