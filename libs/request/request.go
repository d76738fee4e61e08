// Package request decodes what clients send: strict JSON bodies (unknown fields refused, the
// field at fault named), and the query parameters ClearSky's list routes share (time ranges,
// limits, cursors). Every failure is an *apperr.ValidationError, so it becomes a 400
// problem+json naming the field.
package request

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/cursor"
	"github.com/clearsky/clearsky/libs/localtime"
)

// MaxBody bounds a JSON body.
const MaxBody = 8 << 20

// DecodeJSON reads c's body into v as Decode does, refusing bodies over MaxBody.
func DecodeJSON(c *gin.Context, v any) error {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, MaxBody)
	return Decode(body, v)
}

// Decode reads one JSON document from r into v, strictly: unknown fields, trailing data, a key
// given twice in one object (at any depth; encoding/json would keep the last) and text that is
// not UTF-8 are refused, and then every value is checked against the bounds of its field
// (Check: lengths, characters, list sizes, ranges, UTC offsets). Every failure names the field.
func Decode(r io.Reader, v any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return jsonError(err)
	}
	if err := scan(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return apperr.Invalid("body", "unexpected data after the JSON value")
	}
	var extra bytes.Buffer
	if _, err := io.Copy(&extra, dec.Buffered()); err == nil && strings.TrimSpace(extra.String()) != "" {
		return apperr.Invalid("body", "unexpected data after the JSON value")
	}
	return Check(v)
}

// scan reads the document once with a decoder that refuses duplicate object keys and invalid
// UTF-8 (jsontext's defaults), to name the key at fault. Other syntax errors are left to
// encoding/json, whose messages the API has always given.
func scan(b []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	for {
		_, err := dec.ReadToken()
		if err == nil {
			continue
		}
		var se *jsontext.SyntacticError
		if !errors.As(err, &se) {
			return nil // the end, or an I/O error encoding/json will meet again
		}
		switch {
		case errors.Is(se.Err, jsontext.ErrDuplicateName):
			return apperr.Invalid(pointerField(se.JSONPointer), "duplicate key: this key is given twice in one object; send each key once")
		case strings.Contains(se.Err.Error(), "invalid UTF-8"):
			field := pointerField(se.JSONPointer)
			return apperr.Invalid(field, "not valid UTF-8: send text encoded as UTF-8")
		}
		return nil
	}
}

// pointerField writes a JSON pointer ("/results/2/unit") as the dotted path fields are named by
// ("results[2].unit"); the root is "body".
func pointerField(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && tok != "" {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	if b.Len() == 0 {
		return "body"
	}
	return b.String()
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return apperr.Invalid("body", "the request body is empty; send a JSON document")
	case errors.As(err, &syn):
		return apperr.Invalid("body", fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, err))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		if apperr.Describes(typ.Type) {
			return apperr.Invalid(field, typ.Value) // a field's own refusal (ValueError)
		}
		return apperr.Invalid(field, fmt.Sprintf("must be %s, not JSON %s", typ.Type.String(), typ.Value))
	case errors.As(err, &tooBig):
		return apperr.Invalid("body", fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.Invalid(name, "unknown field")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Invalid("body", "the JSON document ends early")
	}
	// Errors from a field's own UnmarshalJSON (dates, enums) carry their own message.
	return apperr.Invalid("body", err.Error())
}

// ValueError is what a type's UnmarshalJSON returns to refuse a value with msg (apperr.ValueError):
// Decode names the field being decoded, not "body".
func ValueError(v any, msg string) error { return apperr.ValueError(v, msg) }

// Date is a calendar day ("2006-01-02") that decodes strictly from JSON.
type Date struct{ time.Time }

// UnmarshalJSON parses "YYYY-MM-DD", refusing impossible dates such as 2023-02-30.
func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return ValueError(Date{}, "a date is a string \"YYYY-MM-DD\"")
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return ValueError(Date{}, fmt.Sprintf("date %q is not a real YYYY-MM-DD day", s))
	}
	d.Time = t
	return nil
}

// MarshalJSON writes "YYYY-MM-DD".
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.Format(time.DateOnly))
}

// QueryTime reads an optional RFC 3339 query parameter, its offset within ±14:00.
func QueryTime(c *gin.Context, name string) (time.Time, bool, error) {
	s := c.Query(name)
	if s == "" {
		return time.Time{}, false, nil
	}
	t, err := localtime.ParseRFC3339(s)
	if err != nil {
		return time.Time{}, false, apperr.Invalid(name, err.Error())
	}
	return t.UTC(), true, nil
}

// QueryDate reads an optional YYYY-MM-DD query parameter.
func QueryDate(c *gin.Context, name string) (time.Time, bool, error) {
	s := c.Query(name)
	if s == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, false, apperr.Invalid(name, "must be a YYYY-MM-DD date")
	}
	return t, true, nil
}

// Period is the optional "from" and "to" days (YYYY-MM-DD) of a report or list route. A day the
// client did not give is zero, with HasFrom or HasTo false.
type Period struct {
	From, To       time.Time
	HasFrom, HasTo bool
}

// QueryPeriod reads "from" and "to" as QueryDate does, naming each one that is not a
// YYYY-MM-DD date (both, when both are wrong). It leaves the defaults, and whether to is
// inclusive, to the route.
func QueryPeriod(c *gin.Context) (Period, error) {
	var p Period
	var ve apperr.ValidationError
	var err error
	if p.From, p.HasFrom, err = QueryDate(c, "from"); err != nil {
		ve.Add("from", "must be a YYYY-MM-DD date")
	}
	if p.To, p.HasTo, err = QueryDate(c, "to"); err != nil {
		ve.Add("to", "must be a YYYY-MM-DD date")
	}
	if err := ve.Err(); err != nil {
		return Period{}, err
	}
	return p, nil
}

// Limit reads the "limit" query parameter: def when absent, 1..max otherwise.
func Limit(c *gin.Context, def, max int) (int, error) {
	s := c.Query("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, apperr.Invalid("limit", fmt.Sprintf("must be a whole number from 1 to %d", max))
	}
	return n, nil
}

// The page sizes of ClearSky's list routes: DefaultLimit items unless the client asks for up
// to MaxLimit.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Page reads the "limit" (DefaultLimit when absent, 1..MaxLimit) and "cursor" parameters of a
// list route whose cursor is a plain sort key (see Cursor).
func Page(c *gin.Context) (limit int, after string, err error) {
	if limit, err = Limit(c, DefaultLimit, MaxLimit); err != nil {
		return 0, "", err
	}
	after, err = Cursor(c)
	return limit, after, err
}

// EncodeCursor turns the sort key of the last item of a page into an opaque cursor.
func EncodeCursor(key string) string {
	if key == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// Cursor reads the "cursor" query parameter back into the sort key it was made from.
func Cursor(c *gin.Context) (string, error) {
	s := c.Query("cursor")
	if s == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", apperr.Invalid("cursor", "not a cursor this API returned; start again without it")
	}
	return string(b), nil
}

// NextCursor is the next_cursor of a newest-first page: the key of its last item when the page
// is full (there may be more), empty when it is not (the list ends here).
func NextCursor[T any](items []T, limit int, key func(T) cursor.Key) string {
	if len(items) < limit || len(items) == 0 {
		return ""
	}
	return EncodeCursor(key(items[len(items)-1]).String())
}

// OnlyQuery refuses a query parameter not in allowed, naming it: a misspelt parameter
// ("color" for "colour") would otherwise be ignored and the answer be for something else than
// the caller meant. It reads the raw query without allocating when every name is plain.
func OnlyQuery(c *gin.Context, allowed ...string) error {
	q := c.Request.URL.RawQuery
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		name, _, _ := strings.Cut(pair, "=")
		if name == "" {
			continue
		}
		if strings.ContainsAny(name, "%+") {
			if u, err := url.QueryUnescape(name); err == nil {
				name = u
			}
		}
		known := false
		for _, a := range allowed {
			if name == a {
				known = true
				break
			}
		}
		if !known {
			msg := "unknown query parameter"
			if len(allowed) > 0 {
				msg += "; this route takes " + strings.Join(allowed, ", ")
			}
			if name == "color" {
				msg += " (the parameter is spelt colour)"
			}
			return apperr.Invalid(name, msg)
		}
	}
	return nil
}
