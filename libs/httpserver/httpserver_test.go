package httpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/problem"
	"github.com/clearsky/clearsky/libs/telemetry"
)

func serve(t *testing.T, e *gin.Engine, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestReadyz(t *testing.T) {
	down := func(context.Context) error { return errors.New("refused") }
	up := func(context.Context) error { return nil }
	tests := []struct {
		name       string
		checks     []Check
		wantCode   int
		wantStatus string
	}{
		{"all up", []Check{{Name: "mongodb", Critical: true, Ping: up}, {Name: "redis", Ping: up}}, 200, "ready"},
		{"cache down is degraded", []Check{{Name: "mongodb", Critical: true, Ping: up}, {Name: "redis", Ping: down}}, 200, "degraded"},
		{"database down is not ready", []Check{{Name: "mongodb", Critical: true, Ping: down}, {Name: "redis", Ping: up}}, 503, "not_ready"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(Deps{Service: "t", Checks: tc.checks, Metrics: NewMetrics()})
			rec := serve(t, e, "GET", "/readyz", nil)
			var body struct{ Status string }
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.wantCode || body.Status != tc.wantStatus {
				t.Fatalf("/readyz = %d %s, want %d %s", rec.Code, rec.Body.String(), tc.wantCode, tc.wantStatus)
			}
		})
	}
}

func TestEdge(t *testing.T) {
	e := NewEngine(Deps{Service: "t", Metrics: NewMetrics()})
	e.GET("/panic", func(*gin.Context) { panic("boom") })
	e.GET("/ok", func(c *gin.Context) { c.String(200, "ok") })

	rec := serve(t, e, "GET", "/nowhere", nil)
	if rec.Code != 404 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown route = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	rec = serve(t, e, "POST", "/ok", nil)
	if rec.Code != 405 || rec.Header().Get("Content-Type") != "application/problem+json" || rec.Header().Get("Allow") != "GET" ||
		!strings.Contains(rec.Body.String(), `"type":"https://clearsky.example/problems/method-not-allowed"`) || !strings.Contains(rec.Body.String(), `"instance":"/ok"`) {
		t.Fatalf("wrong method = %d %v %s; want a problem like any other, with Allow", rec.Code, rec.Header(), rec.Body.String())
	}
	rec = serve(t, e, "GET", "/ok/", nil)
	if rec.Code != 404 || rec.Header().Get("Content-Type") != "application/problem+json" || !strings.Contains(rec.Body.String(), "/ok is one") {
		t.Fatalf("trailing slash = %d %v %s; want a 404 problem naming /ok", rec.Code, rec.Header(), rec.Body.String())
	}
	rec = serve(t, e, "GET", "/panic", nil)
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("panic = %d %s; want 500 without the panic text", rec.Code, rec.Body.String())
	}
	rec = serve(t, e, "GET", "/ok", map[string]string{RequestIDHeader: "abc-123"})
	if rec.Header().Get(RequestIDHeader) != "abc-123" {
		t.Fatalf("request id not echoed: %v", rec.Header())
	}
	rec = serve(t, e, "GET", "/ok", map[string]string{RequestIDHeader: "bad id with spaces"})
	if got := rec.Header().Get(RequestIDHeader); got == "" || strings.Contains(got, " ") {
		t.Fatalf("unsafe request id kept: %q", got)
	}
	rec = serve(t, e, "GET", "/metrics", nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `clearsky_http_requests_total{method="GET",route="/ok",service="t",status="200"}`) {
		t.Fatalf("/metrics lacks the request counter:\n%s", rec.Body.String())
	}
}

func TestClientAddressTrustsOnlyConfiguredProxies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []string
		want    string
	}{
		{"no proxy trusted: the peer", nil, "10.1.2.3"},
		{"the ingress's network trusted: the forwarded client", []string{"10.0.0.0/8"}, "203.0.113.7"},
		{"another network trusted: the peer", []string{"192.168.0.0/16"}, "10.1.2.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(Deps{Service: "t", TrustedProxies: tc.proxies})
			e.GET("/ip", func(c *gin.Context) { c.String(http.StatusOK, c.ClientIP()) })
			req := httptest.NewRequest("GET", "/ip", nil)
			req.RemoteAddr = "10.1.2.3:40000"
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Body.String() != tc.want {
				t.Fatalf("client address = %q, want %q", rec.Body.String(), tc.want)
			}
		})
	}
}

func TestRequestSeries(t *testing.T) {
	e := NewEngine(Deps{Service: "t", Metrics: NewMetrics()})
	e.Any("/x", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	for range 2 {
		serve(t, e, "GET", "/x", nil)
	}
	serve(t, e, "FROB", "/x", nil)
	serve(t, e, "BREW", "/x", nil)
	body := serve(t, e, "GET", "/metrics", nil).Body.String()
	for _, want := range []string{
		`clearsky_http_requests_total{method="GET",route="/x",service="t",status="204"} 2`,
		`clearsky_http_requests_total{method="_OTHER",route="unmatched",service="t",status="405"} 2`,
		`clearsky_http_request_duration_seconds_count{method="GET",route="/x",service="t"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "FROB") {
		t.Errorf("a made-up method became a series:\n%s", body)
	}
}

// Without an exporter the edge still joins the caller's trace and gives the handler a span
// context (for logs and onward calls); with one, otelgin records the server span.
func TestServerSpan(t *testing.T) {
	ctx := context.Background()
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
	spanOf := func(e *gin.Engine, hdr map[string]string) (trace.SpanContext, string) {
		var sc trace.SpanContext
		var onward string
		e.GET("/s", func(c *gin.Context) {
			sc = trace.SpanContextFromContext(c.Request.Context())
			h := http.Header{}
			propagation.TraceContext{}.Inject(c.Request.Context(), propagation.HeaderCarrier(h))
			onward = h.Get("traceparent")
			c.Status(http.StatusNoContent)
		})
		serve(t, e, "GET", "/s", hdr)
		return sc, onward
	}
	t.Run("no exporter", func(t *testing.T) {
		tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "t", Getenv: func(string) string { return "" }})
		if err != nil || tel.Exporting {
			t.Fatalf("setup: %v, exporting %v", err, tel.Exporting)
		}
		sc, onward := spanOf(NewEngine(Deps{Service: "t", Telemetry: tel}), map[string]string{"traceparent": parent})
		if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.SpanID().String() == "00f067aa0ba902b7" || !sc.IsValid() {
			t.Fatalf("handler's span context %v: want the caller's trace, a span of its own", sc)
		}
		if !strings.Contains(onward, "4bf92f3577b34da6a3ce929d0e0e4736") {
			t.Fatalf("onward traceparent %q does not carry the caller's trace", onward)
		}
		if sc, _ := spanOf(NewEngine(Deps{Service: "t", Telemetry: tel}), nil); !sc.IsValid() {
			t.Fatalf("a request without traceparent got no trace: %v", sc)
		}
	})
	t.Run("exporter", func(t *testing.T) {
		exp := tracetest.NewInMemoryExporter()
		tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "t", Exporter: exp, Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		sc, _ := spanOf(NewEngine(Deps{Service: "t", Telemetry: tel}), map[string]string{"traceparent": parent[:len(parent)-2] + "01"})
		spans := exp.GetSpans()
		if len(spans) != 1 || spans[0].SpanContext.SpanID() != sc.SpanID() || spans[0].Name != "GET /s" {
			t.Fatalf("exported %d spans (%v); want the server span GET /s", len(spans), spans)
		}
		route := ""
		for _, kv := range spans[0].Attributes {
			if kv.Key == "http.route" {
				route = kv.Value.AsString()
			}
		}
		if route != "/s" {
			t.Fatalf("server span attributes %v lack otelgin's http.route", spans[0].Attributes)
		}
	})
}

func TestCreated(t *testing.T) {
	for _, isNew := range []bool{true, false} {
		rec := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(rec)
		Created(c, isNew, "/v1/things/t-1", gin.H{"id": "t-1"})
		wantCode, wantLoc := http.StatusOK, ""
		if isNew {
			wantCode, wantLoc = http.StatusCreated, "/v1/things/t-1"
		}
		if rec.Code != wantCode || rec.Header().Get("Location") != wantLoc || !strings.Contains(rec.Body.String(), `"id":"t-1"`) {
			t.Errorf("Created(isNew=%v) = %d, Location %q, body %s; want %d, Location %q", isNew, rec.Code, rec.Header().Get("Location"),
				rec.Body.String(), wantCode, wantLoc)
		}
	}
}

// The Bearer scheme is case-insensitive (RFC 7235); another scheme is refused.
func TestBearerSchemeAnyCase(t *testing.T) {
	keys, err := auth.NewKeys([]byte("test-secret-test-secret-test-secret"))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(Deps{Service: "t", Keys: keys})
	e.GET("/who", auth.Require(func(c *gin.Context, err error) { problem.Write(c, nil, err) }, auth.Police), func(c *gin.Context) { c.String(200, "ok") })
	tok, _ := keys.Issue(auth.Principal{Role: auth.Police}, time.Now(), time.Hour)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		if rec := serve(t, e, "GET", "/who", map[string]string{"Authorization": scheme + " " + tok}); rec.Code != 200 {
			t.Errorf("%s scheme = %d %s, want 200", scheme, rec.Code, rec.Body.String())
		}
	}
	for _, h := range []string{"Basic " + tok, tok, "Bearer"} {
		if rec := serve(t, e, "GET", "/who", map[string]string{"Authorization": h}); rec.Code != 401 {
			t.Errorf("Authorization %.12q = %d, want 401", h, rec.Code)
		}
	}
}

// A stop logs one line saying why (a signal, from signal.NotifyContext).
func TestServeLogsOneShutdownLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, http.NotFoundHandler(), slog.New(slog.NewJSONHandler(&logs, nil)), time.Second)
	}()
	time.Sleep(50 * time.Millisecond)
	cancel(errors.New("terminated signal received"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), `"msg":"shutting_down"`); n != 1 || !strings.Contains(logs.String(), "terminated signal received") {
		t.Fatalf("logs:\n%s\nwant one shutting_down line naming the signal", logs.String())
	}
}

// TestQueryBounded: every route's query string is bounded before its handler runs: a 7 MB
// filter, NUL or a right-to-left override in a value, bad percent-encoding or too many
// parameters are a 400 naming the parameter; an ordinary filter passes.
func TestQueryBounded(t *testing.T) {
	e := NewEngine(Deps{Service: "t"})
	e.GET("/ok", func(c *gin.Context) { c.String(200, "ok") })
	long := strings.Repeat("字", 100) + strings.Repeat("a", MaxQueryValue-99) // counted in characters
	for _, tc := range []struct {
		query, field string
	}{
		{"maker=" + url.QueryEscape(long), "maker"},
		{"plate=%E6%99%8BF%00123", "plate"},
		{"maker=" + url.QueryEscape("BYD\u202Egnp.exe"), "maker"},
		{"plate=%zz", "query"},
		{"maker=%ff", "maker"},
		{strings.Repeat("a=1&", 33), "query"},
		{"x=" + strings.Repeat("a", MaxQuery), "query"},
		{"maker=" + strings.Repeat("a", MaxQueryValue+1), "maker"},
	} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", "/ok?"+tc.query, nil))
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"field":"`+tc.field+`"`) {
			t.Errorf("?%.40s: %d %s; want 400 naming %s", tc.query, rec.Code, rec.Body.String(), tc.field)
		}
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/ok?maker="+url.QueryEscape("比亚迪 BYD")+"&limit=20", nil))
	if rec.Code != 200 {
		t.Fatalf("an ordinary filter: %d %s", rec.Code, rec.Body.String())
	}
}
