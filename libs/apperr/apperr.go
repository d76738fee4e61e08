// Package apperr holds the kinds of failure that every ClearSky service shares, with no
// knowledge of HTTP. Core packages wrap these kinds into their own sentinels
// (fmt.Errorf("vehicle %w", apperr.ErrNotFound)); the HTTP edge (package problem) maps the
// kind to a status code in one place.
package apperr

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"time"
)

// The kinds of failure. Wrap them; compare with errors.Is.
var (
	// ErrNotFound: the thing does not exist, or the caller may not know that it exists.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request clashes with the current state (a duplicate key, a step out of order).
	ErrConflict = errors.New("conflict")
	// ErrForbidden: the caller is known but its role or tenant may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthenticated: no valid credentials.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrInvalid: the input breaks a rule; use *ValidationError to name the fields.
	ErrInvalid = errors.New("invalid input")
	// ErrUnavailable: a backing service did not answer; try again later.
	ErrUnavailable = errors.New("unavailable")
	// ErrTooManyRequests: the caller is over its rate limit.
	ErrTooManyRequests = errors.New("too many requests")
	// ErrMethodNotAllowed: the route exists, but not with this HTTP method.
	ErrMethodNotAllowed = errors.New("method not allowed")
)

// FieldError names one field at fault and what is wrong with it. Field is a JSON pointer-like
// dotted path in the request body or the name of a query/path parameter ("vin",
// "results[2].unit").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every field at fault in one request. It is an ErrInvalid.
type ValidationError struct {
	Fields []FieldError
}

// Error joins the field errors into one line.
func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		parts = append(parts, f.Field+": "+f.Message)
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Is reports that a ValidationError is an ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Add appends a field error.
func (e *ValidationError) Add(field, message string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
}

// Err returns e as an error when it holds at least one field error, and nil otherwise.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Invalid returns a ValidationError for a single field.
func Invalid(field, message string) error {
	return &ValidationError{Fields: []FieldError{{Field: field, Message: message}}}
}

// describing holds the types whose UnmarshalJSON refuses a value with ValueError.
var describing sync.Map // reflect.Type → struct{}

// ValueError is what a type's UnmarshalJSON returns to refuse a value with msg: encoding/json
// adds the path of the field being decoded to it (it does so only for an UnmarshalTypeError),
// so the request decoder (libs/request) names that field, not "body". v is a value of the
// refusing type.
func ValueError(v any, msg string) error {
	t := reflect.TypeOf(v)
	describing.Store(t, struct{}{})
	return &json.UnmarshalTypeError{Value: msg, Type: t}
}

// Describes reports whether t refuses values with ValueError (its message is the whole story).
func Describes(t reflect.Type) bool {
	_, ok := describing.Load(t)
	return ok
}

// RetryError is a failure the caller may retry after a while (a rate limit, load shed): the
// HTTP edge sends After as Retry-After.
type RetryError struct {
	Err   error
	After time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfter wraps err (of a kind such as ErrTooManyRequests or ErrUnavailable) with when the
// caller may try again.
func RetryAfter(err error, after time.Duration) error {
	return &RetryError{Err: err, After: after}
}
