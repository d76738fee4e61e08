// Package httpserver builds the gin engine every ClearSky service is served by, with the same
// edge for all: panic recovery as problem+json, request ids, OpenTelemetry spans (otelgin),
// JSON access logs carrying trace ids, Prometheus metrics, bearer-token authentication, the
// /healthz, /readyz and /metrics routes, and a graceful shutdown.
package httpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/problem"
	"github.com/clearsky/clearsky/libs/telemetry"
)

// Check is one dependency /readyz asks about. A failing critical check makes the service not
// ready (503); a failing non-critical one (the Redis cache) makes it "degraded" but ready.
type Check struct {
	Name     string
	Critical bool
	Ping     func(context.Context) error
}

// Readiness holds the checks a service adds once it is built, after the engine (the OBD
// gateway's accept loop, say). The zero value is ready to use.
type Readiness struct {
	mu     sync.Mutex
	checks []Check
}

// Add adds a check /readyz asks from now on.
func (r *Readiness) Add(c Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, c)
}

func (r *Readiness) list() []Check {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Check(nil), r.checks...)
}

// Deps is what the engine needs.
type Deps struct {
	Service   string // the name in spans, logs and metrics
	Logger    *slog.Logger
	Telemetry *telemetry.Provider
	Keys      *auth.Keys
	Checks    []Check
	// Ready holds the checks services add later; nil for none.
	Ready *Readiness
	// Metrics is the registry /metrics serves; services register their own collectors in it.
	Metrics *prometheus.Registry
	// TrustedProxies are the addresses or CIDRs whose X-Forwarded-For / X-Real-IP name the
	// client (an ingress). None by default: the client is the connection's peer, and a header
	// anyone can send does not change what traces record as the client's address.
	TrustedProxies []string
}

// unsampledPaths are the routes that are neither traced nor logged at info.
var unsampledPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// NewEngine returns a gin engine with the common middleware and routes installed. Services add
// their routes to it (or to a group of it).
func NewEngine(d Deps) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(d.TrustedProxies); err != nil {
		panic(fmt.Sprintf("httpserver: trusted proxies %v: %v", d.TrustedProxies, err)) // platform.FromEnv checked them
	}
	onError := func(c *gin.Context, err error) { problem.Write(c, d.Logger, err) }
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "clearsky_http_requests_total", Help: "HTTP requests served, by route and status.",
	}, []string{"service", "method", "route", "status"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "clearsky_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"service", "method", "route"})
	if d.Metrics != nil {
		d.Metrics.MustRegister(reqs, dur)
	}
	e.Use(recovery(d.Logger), requestID())
	switch {
	case d.Telemetry == nil:
	case d.Telemetry.Exporting:
		e.Use(otelgin.Middleware(d.Service,
			otelgin.WithTracerProvider(d.Telemetry.Tracer),
			otelgin.WithPropagators(d.Telemetry.Propagator),
			otelgin.WithGinFilter(func(c *gin.Context) bool { return !unsampledPaths[c.Request.URL.Path] }),
		))
	default:
		e.Use(bareServerSpan(d.Telemetry))
	}
	e.Use(accessLog(d.Logger, d.Service, reqs, dur), boundedQuery(onError))
	if d.Keys != nil {
		e.Use(auth.Authenticate(d.Keys, onError))
	}
	// Unknown routes and methods are problems like every other error. A path with a trailing
	// slash is not redirected (gin would answer 301 with an HTML body): it is a 404 saying which
	// path exists.
	e.RedirectTrailingSlash = false
	e.NoRoute(func(c *gin.Context) {
		path := c.Request.URL.Path
		hint := ""
		if trimmed := strings.TrimRight(path, "/"); trimmed != path && trimmed != "" && len(allowedMethods(e, trimmed)) > 0 {
			hint = fmt.Sprintf(" (%s is one, without the trailing slash)", trimmed)
		}
		onError(c, fmt.Errorf("no route %s %s%s: %w", c.Request.Method, path, hint, apperr.ErrNotFound))
	})
	e.NoMethod(func(c *gin.Context) {
		allowed := allowedMethods(e, c.Request.URL.Path)
		if len(allowed) > 0 {
			c.Header("Allow", strings.Join(allowed, ", "))
		}
		onError(c, fmt.Errorf("method %s is not allowed on %s; it takes %s: %w", c.Request.Method, c.Request.URL.Path,
			strings.Join(allowed, ", "), apperr.ErrMethodNotAllowed))
	})
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok", "service": d.Service}) })
	e.GET("/readyz", readyz(d.Checks, d.Ready))
	if d.Metrics != nil {
		e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{})))
	}
	return e
}

// NewMetrics returns a registry with the Go runtime and process collectors.
func NewMetrics() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

func readyz(static []Check, later *Readiness) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		status, code := "ready", http.StatusOK
		results := map[string]string{}
		for _, ch := range append(append([]Check(nil), static...), later.list()...) {
			if err := ch.Ping(ctx); err != nil {
				results[ch.Name] = "down: " + err.Error()
				if ch.Critical {
					status, code = "not_ready", http.StatusServiceUnavailable
				} else if status == "ready" {
					status = "degraded"
				}
				continue
			}
			results[ch.Name] = "up"
		}
		c.JSON(code, gin.H{"status": status, "checks": results})
	}
}

func recovery(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(r)
				}
				problem.Write(c, logger, fmt.Errorf("panic: %v", r))
			}
		}()
		c.Next()
	}
}

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-ID"

func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !validID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set("request_id", id)
		c.Header(RequestIDHeader, id)
		c.Next()
	}
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func accessLog(logger *slog.Logger, service string, reqs *prometheus.CounterVec, dur *prometheus.HistogramVec) gin.HandlerFunc {
	series := &seriesCache{service: service, reqs: reqs, dur: dur}
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		status := c.Writer.Status()
		m := series.of(seriesKey{method: metricMethod(c.Request.Method), route: route, status: status})
		m.reqs.Inc()
		m.dur.Observe(elapsed.Seconds())
		if logger == nil {
			return
		}
		level := slog.LevelInfo
		switch {
		case unsampledPaths[c.Request.URL.Path]:
			level = slog.LevelDebug
		case status >= 500:
			level = slog.LevelError
		}
		if !logger.Enabled(c.Request.Context(), level) {
			return // before the arguments are boxed
		}
		logger.Log(c.Request.Context(), level, "http_request",
			"method", c.Request.Method, "route", route, "status", status,
			"duration_ms", float64(elapsed.Microseconds())/1000, "request_id", c.GetString("request_id"),
			"bytes", c.Writer.Size())
	}
}

// Run serves h on addr until ctx is cancelled, then shuts down gracefully, giving requests in
// flight up to grace to finish.
func Run(ctx context.Context, addr string, h http.Handler, logger *slog.Logger, grace time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (is another process using it? set the address variable): %w", addr, err)
	}
	return Serve(ctx, ln, h, logger, grace)
}

// Serve is Run on a listener the caller bound (tests bind port 0).
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, grace time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.InfoContext(ctx, "http_listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	// One line says why the server stops (a signal: "terminated signal received").
	logger.InfoContext(context.WithoutCancel(ctx), "shutting_down", "addr", ln.Addr().String(), "reason", context.Cause(ctx).Error(),
		"grace_s", grace.Seconds())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

// InProcess is an http.RoundTripper that serves requests with the handler h returns, without a
// network: the all-in-one's services call each other through it.
func InProcess(h func() http.Handler) http.RoundTripper { return inProcess(h) }

type inProcess func() http.Handler

func (f inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	f().ServeHTTP(rec, req)
	return rec.Result(), nil
}

// Guards returns the two per-route wrappers every service's handler uses, both answering with
// problem+json through logger: need admits only the given roles (admin always passes), and wrap
// turns a handler that returns an error into a gin handler.
func Guards(logger *slog.Logger) (need func(...auth.Role) gin.HandlerFunc, wrap func(func(*gin.Context) error) gin.HandlerFunc) {
	onErr := func(c *gin.Context, err error) { problem.Write(c, logger, err) }
	need = func(roles ...auth.Role) gin.HandlerFunc { return auth.Require(onErr, roles...) }
	wrap = func(f func(*gin.Context) error) gin.HandlerFunc { return problem.Handler(logger, f) }
	return need, wrap
}

// Created answers a create route: 201 with a Location header for a record it made, 200 without
// one for a retry that found the same record already stored (idempotent creates).
func Created(c *gin.Context, isNew bool, location string, body any) {
	if isNew {
		c.Header("Location", location)
		c.JSON(http.StatusCreated, body)
		return
	}
	c.JSON(http.StatusOK, body)
}

// seriesKey names one request series: a route answered with a status.
type seriesKey struct {
	method, route string
	status        int
}

type seriesMetrics struct {
	reqs prometheus.Counter
	dur  prometheus.Observer
}

// seriesCache keeps each series' counter and histogram once looked up, so a request does not
// hash its label values again (the vectors' own lookup costs more than the rest of the log).
type seriesCache struct {
	service string
	reqs    *prometheus.CounterVec
	dur     *prometheus.HistogramVec
	m       sync.Map // seriesKey → seriesMetrics
}

func (s *seriesCache) of(k seriesKey) seriesMetrics {
	if m, ok := s.m.Load(k); ok {
		return m.(seriesMetrics)
	}
	m := seriesMetrics{reqs: s.reqs.WithLabelValues(s.service, k.method, k.route, strconv.Itoa(k.status)),
		dur: s.dur.WithLabelValues(s.service, k.method, k.route)}
	s.m.Store(k, m)
	return m
}

// metricMethod is the method as a label: the standard ones, and _OTHER for whatever else a
// client sends, so that made-up methods cannot add series without bound.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// bareServerSpan stands in for otelgin when no spans leave the process (no exporter): it joins
// the caller's trace and starts the server span, so logs still carry trace_id and calls still
// propagate traceparent, but it skips what nobody would receive: otelgin's span attributes
// (built even for spans that are not recorded) and its metrics (recorded to the global meter
// provider, which ClearSky leaves a no-op; the edge's metrics are the Prometheus ones).
func bareServerSpan(tp *telemetry.Provider) gin.HandlerFunc {
	tracer := tp.Tracer.Tracer("github.com/clearsky/clearsky/libs/httpserver")
	return func(c *gin.Context) {
		if unsampledPaths[c.Request.URL.Path] {
			c.Next()
			return
		}
		name := metricMethod(c.Request.Method) // named as otelgin names it: "GET /v1/checkpoint/:plate"
		if name == "_OTHER" {
			name = "HTTP"
		}
		if route := c.FullPath(); route != "" {
			name += " " + route
		}
		ctx := tp.Propagator.Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
		ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// allowedMethods lists the methods e serves path with (for a 405's Allow header), matching the
// registered patterns segment by segment (":name" one segment, "*name" the rest).
func allowedMethods(e *gin.Engine, path string) []string {
	var out []string
	for _, r := range e.Routes() {
		if matchRoute(r.Path, path) && !slices.Contains(out, r.Method) {
			out = append(out, r.Method)
		}
	}
	slices.Sort(out)
	return out
}

func matchRoute(pattern, path string) bool {
	ps, qs := strings.Split(pattern, "/"), strings.Split(path, "/")
	for i, p := range ps {
		if strings.HasPrefix(p, "*") {
			return true
		}
		if i >= len(qs) || (!strings.HasPrefix(p, ":") && p != qs[i]) || (strings.HasPrefix(p, ":") && qs[i] == "") {
			return false
		}
	}
	return len(ps) == len(qs)
}
