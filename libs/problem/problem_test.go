package problem

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
)

func TestFrom(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantDetail string
	}{
		{"validation", apperr.Invalid("vin", "bad"), 400, "invalid input: vin: bad"},
		{"wrapped not found", fmt.Errorf("vehicle %w", apperr.ErrNotFound), 404, "vehicle not found"},
		{"conflict", fmt.Errorf("dup: %w", apperr.ErrConflict), 409, "dup: conflict"},
		{"forbidden", apperr.ErrForbidden, 403, "forbidden"},
		{"unauthenticated", apperr.ErrUnauthenticated, 401, "unauthenticated"},
		{"rate limited", apperr.ErrTooManyRequests, 429, "too many requests"},
		{"unavailable hides detail", fmt.Errorf("mongo at 10.0.0.1 down: %w", apperr.ErrUnavailable), 503, "a backing service did not answer; try again shortly"},
		{"unknown hides detail", errors.New("secret internals"), 500, "the server failed; the error is logged with this request's id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := From(tc.err)
			if got.Status != tc.wantStatus || got.Detail != tc.wantDetail {
				t.Fatalf("From(%v) = %d %q, want %d %q", tc.err, got.Status, got.Detail, tc.wantStatus, tc.wantDetail)
			}
		})
	}
	if got := From(apperr.Invalid("plate", "bad")); len(got.Errors) != 1 || got.Errors[0].Field != "plate" {
		t.Fatalf("validation errors = %+v, want the plate field", got.Errors)
	}
}

func TestWrite(t *testing.T) {
	gin.SetMode(gin.TestMode)
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest("GET", "/v1/x", nil)
	Write(c, nil, apperr.ErrUnauthenticated)
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("Content-Type") != ContentType ||
		!strings.Contains(rec.Header().Get("WWW-Authenticate"), "Bearer") || !strings.Contains(rec.Body.String(), `"instance":"/v1/x"`) {
		t.Fatalf("Write = %d %v %s", rec.Code, rec.Header(), rec.Body.String())
	}
}

func TestRetryAfterHeader(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{apperr.RetryAfter(fmt.Errorf("over the limit: %w", apperr.ErrTooManyRequests), 2300*time.Millisecond), "3"},
		{apperr.RetryAfter(fmt.Errorf("shed: %w", apperr.ErrUnavailable), time.Millisecond), "1"},
		{fmt.Errorf("over the limit: %w", apperr.ErrTooManyRequests), ""},
	} {
		rec := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(rec)
		c.Request = httptest.NewRequest("GET", "/x", nil)
		Write(c, nil, tc.err)
		if got := rec.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("%v: Retry-After %q, want %q", tc.err, got, tc.want)
		}
	}
}
