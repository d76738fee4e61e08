package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/libs/telemetry"
)

// Secret is the token secret of test platforms.
const Secret = "test-secret-test-secret-test-secret"

// Platform returns the dependencies a service is tested on: the given database and Redis, keys
// from Secret, tracing without export, a discarding logger and a metrics registry. Vehicles is
// left for the test to set when the service needs the registry.
func Platform(t testing.TB, name string, db *mongo.Database, rdb redis.UniversalClient, prefix string) platform.Deps {
	t.Helper()
	keys, err := auth.NewKeys([]byte(Secret))
	if err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceName: name + "-test", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return platform.Deps{DB: db, Redis: rdb, RedisPrefix: prefix, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Telemetry: tel, Keys: keys, Metrics: httpserver.NewMetrics(), Ready: &httpserver.Readiness{}}
}

// API is a test client of a service served on loopback through the platform's HTTP edge.
type API struct {
	URL    string
	Keys   *auth.Keys
	Engine *gin.Engine
}

// Serve serves routes behind platform.Engine on a loopback server closed when the test ends.
func Serve(t testing.TB, name string, d platform.Deps, routes func(gin.IRouter)) *API {
	t.Helper()
	engine := platform.Engine(name, d)
	routes(engine)
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	return &API{URL: srv.URL, Keys: d.Keys, Engine: engine}
}

// Token signs a token for role (and tenant) valid for an hour.
func (a *API) Token(t testing.TB, role auth.Role, tenant string) string {
	t.Helper()
	tok, err := a.Keys.Issue(auth.Principal{Role: role, Tenant: tenant}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Response is an answer, its JSON body decoded when it is an object.
type Response struct {
	Status      int
	Body        map[string]any
	ContentType string
	Raw         string
}

// Field is the first field a problem document names, or "".
func (r Response) Field() string {
	errs, _ := r.Body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	f, _ := errs[0].(map[string]any)["field"].(string)
	return f
}

// Refused fails t unless r is a 400 problem document naming field among its errors: what every
// refused input answers (docs/inputs.md).
func (r Response) Refused(t testing.TB, field string) {
	t.Helper()
	if r.Status != http.StatusBadRequest || r.ContentType != "application/problem+json" {
		t.Fatalf("answer %d %s, want a 400 problem naming %q: %.300s", r.Status, r.ContentType, field, r.Raw)
	}
	errs, _ := r.Body["errors"].([]any)
	for _, e := range errs {
		if f, _ := e.(map[string]any)["field"].(string); f == field {
			return
		}
	}
	t.Fatalf("the 400 does not name %q: %.300s", field, r.Raw)
}

// Do sends body (nil, a string sent as is, or a value encoded as JSON) with a bearer token
// (none when token is empty).
func (a *API) Do(t testing.TB, method, path, token string, body any) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	return a.Send(t, method, path, token, "", rd)
}

// Send sends a body of the given content type (none when empty).
func (a *API) Send(t testing.TB, method, path, token, contentType string, body io.Reader) Response {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := Response{Status: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}
