package httpserver

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func publicEngine(o PublicOptions, body func() string) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/p", Public(o, nil), func(c *gin.Context) { c.String(http.StatusOK, body()) })
	r.GET("/missing", Public(o, nil), func(c *gin.Context) { c.String(http.StatusNotFound, "no") })
	return r
}

func get(r http.Handler, path, addr string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = addr
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func TestPublicCachesByETag(t *testing.T) {
	body := "名单 v1"
	r := publicEngine(PublicOptions{PerSecond: 1000, Burst: 1000, MaxAge: 90 * time.Second}, func() string { return body })
	w := get(r, "/p", "192.0.2.1:1")
	etag := w.Header().Get("ETag")
	if w.Code != 200 || w.Body.String() != body || etag == "" || w.Header().Get("Cache-Control") != "public, max-age=90" {
		t.Fatalf("first answer: %d %q %v", w.Code, w.Body.String(), w.Header())
	}
	if w := get(r, "/p", "192.0.2.1:1", "If-None-Match", etag); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Fatalf("asked again with its ETag: %d %q", w.Code, w.Body.String())
	}
	body = "名单 v2"
	w = get(r, "/p", "192.0.2.1:1", "If-None-Match", etag)
	if w.Code != 200 || w.Body.String() != body || w.Header().Get("ETag") == etag {
		t.Fatalf("a changed answer must come whole with a new ETag: %d %q %s", w.Code, w.Body.String(), w.Header().Get("ETag"))
	}
	if w := get(r, "/missing", "192.0.2.1:1"); w.Code != 404 || w.Header().Get("ETag") != "" || w.Body.String() != "no" {
		t.Fatalf("a 404 is passed through uncached: %d %v %q", w.Code, w.Header(), w.Body.String())
	}
}

func TestPublicLimitsEachAddress(t *testing.T) {
	r := publicEngine(PublicOptions{PerSecond: 1, Burst: 5}, func() string { return "x" })
	codes := map[int]int{}
	for range 8 {
		codes[get(r, "/p", "192.0.2.7:1").Code]++
	}
	if codes[200] != 5 || codes[429] != 3 {
		t.Fatalf("8 requests at once with a burst of 5: %v", codes)
	}
	w := get(r, "/p", "192.0.2.7:1")
	if w.Code != 429 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Header().Get("Content-Type"), "problem+json") {
		t.Fatalf("over the rate: %d %v", w.Code, w.Header())
	}
	if w := get(r, "/p", "192.0.2.8:1"); w.Code != 200 {
		t.Fatalf("another address has its own rate: %d", w.Code)
	}
}

func TestPublicForgetsIdleAddresses(t *testing.T) {
	l := &limiters{opts: PublicOptions{PerSecond: 5, Burst: 20, MaxClients: 100}, m: map[string]*client{}}
	t0 := time.Now()
	for i := range 1000 {
		if _, ok := l.allow(fmt.Sprintf("198.51.100.%d", i), t0.Add(time.Duration(i)*time.Millisecond)); !ok {
			t.Fatal("a new address refused")
		}
		if len(l.m) > 100 {
			t.Fatalf("%d addresses tracked, MaxClients is 100", len(l.m))
		}
	}
}

func TestPublicLetsAPanicsProblemThrough(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(recovery(nil))
	r.GET("/boom", Public(PublicOptions{}, nil), func(c *gin.Context) { panic("bug") })
	w := get(r, "/boom", "192.0.2.9:1")
	if w.Code != 500 || !strings.Contains(w.Header().Get("Content-Type"), "problem+json") {
		t.Fatalf("a panic behind the public middleware answered %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
}
