package httpserver

import (
	"fmt"
	"net/url"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/request"
)

// Bounds on every query string, for every route (docs/inputs.md): the routes' filters are
// names, identifiers, times and numbers, each far shorter than these.
const (
	MaxQuery       = 4096 // bytes of the raw query
	MaxQueryParams = 32   // parameters
	// MaxQueryValue bounds one value in characters: the console's sign-in link carries a token
	// (a few hundred characters); each route bounds its own filters more tightly.
	MaxQueryValue = 1024
)

// checkQueryValue applies request's rule for a name of at most MaxQueryValue characters.
var checkQueryValue = request.StringChecker("name,max=1024")

// boundedQuery refuses, before any handler runs, a query string that is too long, malformed
// (bad percent-encoding, invalid UTF-8), has too many parameters, or a value that is not a
// name by request's rule (one line, no control or bidirectional control characters) of at most
// MaxQueryValue characters, naming the parameter.
func boundedQuery(onError func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw := c.Request.URL.RawQuery
		if raw == "" {
			c.Next()
			return
		}
		if len(raw) > MaxQuery {
			onError(c, apperr.Invalid("query", fmt.Sprintf("the query string is at most %d bytes (got %d)", MaxQuery, len(raw))))
			return
		}
		q, err := url.ParseQuery(raw)
		if err != nil {
			onError(c, apperr.Invalid("query", "the query string is not well-formed: "+err.Error()))
			return
		}
		n := 0
		for name, values := range q {
			n += len(values)
			if !utf8.ValidString(name) {
				onError(c, apperr.Invalid("query", "a parameter name is not valid UTF-8"))
				return
			}
			for _, v := range values {
				if !utf8.ValidString(v) {
					onError(c, apperr.Invalid(name, "not valid UTF-8"))
					return
				}
				if err := checkQueryValue(name, v); err != nil {
					onError(c, err)
					return
				}
			}
		}
		if n > MaxQueryParams {
			onError(c, apperr.Invalid("query", fmt.Sprintf("at most %d query parameters (got %d)", MaxQueryParams, n)))
			return
		}
		c.Next()
	}
}
