// Package problem writes errors as RFC 9457 problem details (application/problem+json) and is
// the one place where an error's kind (package apperr) becomes an HTTP status code. Details of
// server-side failures (5xx) are logged, never sent to the client.
package problem

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// Details is an RFC 9457 problem document. Errors lists the fields at fault for a 400.
type Details struct {
	Type     string              `json:"type"`
	Title    string              `json:"title"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail,omitempty"`
	Instance string              `json:"instance,omitempty"`
	Errors   []apperr.FieldError `json:"errors,omitempty"`
}

// typeBase is the URI prefix of ClearSky's problem types; each is documented in docs/errors.md.
const typeBase = "https://clearsky.example/problems/"

// kind pairs an apperr kind with its HTTP rendering.
type kind struct {
	err    error
	status int
	slug   string
	title  string
}

var kinds = []kind{
	{apperr.ErrInvalid, http.StatusBadRequest, "invalid-input", "Invalid input"},
	{apperr.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated", "Authentication required"},
	{apperr.ErrForbidden, http.StatusForbidden, "forbidden", "Forbidden"},
	{apperr.ErrNotFound, http.StatusNotFound, "not-found", "Not found"},
	{apperr.ErrMethodNotAllowed, http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed"},
	{apperr.ErrConflict, http.StatusConflict, "conflict", "Conflict"},
	{apperr.ErrTooManyRequests, http.StatusTooManyRequests, "rate-limited", "Too many requests"},
	{apperr.ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
}

// From builds the problem document for err. Unknown errors become a 500 whose detail is hidden.
func From(err error) Details {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			d := Details{Type: typeBase + k.slug, Title: k.title, Status: k.status, Detail: err.Error()}
			var ve *apperr.ValidationError
			if errors.As(err, &ve) {
				d.Errors = ve.Fields
			}
			if k.status >= 500 {
				d.Detail = "a backing service did not answer; try again shortly"
			}
			return d
		}
	}
	return Details{
		Type:   typeBase + "internal",
		Title:  "Internal server error",
		Status: http.StatusInternalServerError,
		Detail: "the server failed; the error is logged with this request's id",
	}
}

// Write renders err on c and aborts the handler chain. 5xx errors are logged with the
// request's context (trace id) by logger.
func Write(c *gin.Context, logger *slog.Logger, err error) {
	d := From(err)
	d.Instance = c.Request.URL.Path
	if d.Status >= 500 && logger != nil {
		logger.ErrorContext(c.Request.Context(), "request_failed", "error", err.Error(), "path", c.Request.URL.Path, "status", d.Status)
	}
	if d.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="clearsky"`)
	}
	if after, ok := RetryAfter(err); ok {
		c.Header("Retry-After", strconv.Itoa(after))
	}
	c.Header("Content-Type", ContentType)
	c.AbortWithStatusJSON(d.Status, d)
}

// Handler adapts a handler that returns an error to gin: a non-nil error is written as a
// problem document. Handlers write their own success responses.
func Handler(logger *slog.Logger, h func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			Write(c, logger, err)
		}
	}
}

// RetryAfter is the whole seconds (at least 1) after which a request that failed with err may
// be retried, when err says (apperr.RetryAfter).
func RetryAfter(err error) (int, bool) {
	var re *apperr.RetryError
	if !errors.As(err, &re) {
		return 0, false
	}
	return max(1, int((re.After+time.Second-1)/time.Second)), true
}
