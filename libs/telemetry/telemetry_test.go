package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestLoggerCarriesTraceID(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p, err := Setup(context.Background(), Options{ServiceName: "t", Exporter: exp, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := NewLogger(&buf, 0)
	ctx, span := p.Tracer.Tracer("t").Start(context.Background(), "op")
	log.InfoContext(ctx, "hello")
	span.End()
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["trace_id"] != span.SpanContext().TraceID().String() {
		t.Fatalf("log record %v lacks the span's trace id", rec)
	}
	if len(exp.GetSpans()) != 1 {
		t.Fatalf("exported %d spans, want 1", len(exp.GetSpans()))
	}
}

func TestSetupWithoutEndpointDoesNotExport(t *testing.T) {
	p, err := Setup(context.Background(), Options{ServiceName: "t", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if p.Exporting {
		t.Fatal("Exporting without OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
	p, err = Setup(context.Background(), Options{ServiceName: "t", Getenv: func(k string) string { return env[k] }})
	if err != nil || !p.Exporting {
		t.Fatalf("with an endpoint: exporting=%v err=%v, want true nil", p.Exporting, err)
	}
	_ = p.Shutdown(context.Background())
}

func TestWithoutExporterSpansCarryIDsButAreNotRecorded(t *testing.T) {
	p, err := Setup(context.Background(), Options{ServiceName: "t", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	ctx, span := p.Tracer.Tracer("t").Start(context.Background(), "op")
	defer span.End()
	if span.IsRecording() || !span.SpanContext().IsValid() {
		t.Fatalf("recording=%v valid=%v; want a valid, unrecorded span", span.IsRecording(), span.SpanContext().IsValid())
	}
	NewLogger(&buf, 0).InfoContext(ctx, "hello")
	if !bytes.Contains(buf.Bytes(), []byte(span.SpanContext().TraceID().String())) {
		t.Fatalf("log %s lacks the trace id", buf.String())
	}
}
