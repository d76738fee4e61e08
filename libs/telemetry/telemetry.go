// Package telemetry sets up one OpenTelemetry tracer provider per process from the standard
// OTEL_* environment variables, and a JSON slog logger that stamps every record logged with a
// context with its trace and span ids.
//
// With OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, spans are
// exported over OTLP/HTTP (the exporter reads OTEL_EXPORTER_OTLP_* itself: headers, protocol
// paths, timeouts); without it spans are still created, so logs carry trace ids and traces
// propagate across services, but nothing is exported.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Provider is the process's tracing setup, passed to everything that creates spans.
type Provider struct {
	// Tracer is the SDK tracer provider.
	Tracer *sdktrace.TracerProvider
	// Propagator carries trace context and baggage across HTTP calls (W3C TraceContext + Baggage).
	Propagator propagation.TextMapPropagator
	// Exporting reports whether spans leave the process.
	Exporting bool
}

// Options tunes Setup; the zero value reads everything from the environment.
type Options struct {
	// ServiceName is used when OTEL_SERVICE_NAME is unset.
	ServiceName string
	// Version is recorded as service.version.
	Version string
	// Exporter, when set, receives the spans instead of the OTLP exporter (tests use an
	// in-memory exporter).
	Exporter sdktrace.SpanExporter
	// Getenv reads the environment; os.Getenv when nil.
	Getenv func(string) string
}

// Setup builds the provider. Call Shutdown on the way out to flush buffered spans.
func Setup(ctx context.Context, o Options) (*Provider, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	name := getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = o.ServiceName
	}
	res, err := resource.New(ctx,
		resource.WithFromEnv(),
		resource.WithAttributes(semconv.ServiceName(name), semconv.ServiceVersion(o.Version)),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	p := &Provider{Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}
	switch {
	case o.Exporter != nil:
		opts = append(opts, sdktrace.WithSyncer(o.Exporter))
		p.Exporting = true
	case getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		if getenv("OTEL_TRACES_EXPORTER") == "none" {
			break
		}
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("otlp trace exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
		p.Exporting = true
	}
	// With an exporter the SDK's sampler applies (OTEL_TRACES_SAMPLER, default
	// parentbased_always_on). Without one, spans are not recorded — nobody would see them — but
	// they still carry trace and span ids, so logs have trace_id and traceparent propagates; a
	// request that arrives sampled by a caller is still recorded.
	if !p.Exporting && getenv("OTEL_TRACES_SAMPLER") == "" {
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	}
	p.Tracer = sdktrace.NewTracerProvider(opts...)
	return p, nil
}

// Shutdown flushes and stops the tracer provider.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.Tracer == nil {
		return nil
	}
	return p.Tracer.Shutdown(ctx)
}

// NewLogger returns a JSON logger writing to w at level that adds trace_id and span_id to
// records logged with a context that carries a span.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(traceHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

// ParseLevel reads a level name (debug, info, warn, error); empty means info.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
