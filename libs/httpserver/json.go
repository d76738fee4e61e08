package httpserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	ginjson "github.com/gin-gonic/gin/codec/json"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/clearsky/clearsky/libs/localtime"
)

// Every answer writes an instant as RFC 3339 with the district's offset
// ("2026-12-03T16:21:55+08:00"), whatever zone the time.Time holds (MongoDB and Redis give
// them back in UTC). That is done here, once, in the JSON encoding every gin answer goes
// through: encoding/json's rules (encoding/json/v2's v1 options), except that a time.Time is
// written in localtime.CST. A day is written by its own type (a plain YYYY-MM-DD). Requests are
// decoded by encoding/json as before: clients may send any offset.
func init() { ginjson.API = answerJSON{} }

var answerOptions = jsonv2.JoinOptions(jsonv1.DefaultOptionsV1(), jsonv2.WithMarshalers(jsonv2.MarshalToFunc(
	func(enc *jsontext.Encoder, t time.Time) error {
		if y := t.Year(); y < 0 || y > 9999 {
			return fmt.Errorf("time %v: year outside [0,9999]", t)
		}
		if t.IsZero() {
			return enc.WriteToken(jsontext.String("0001-01-01T00:00:00Z")) // as encoding/json writes it
		}
		var b [40]byte
		v := append(b[:0], '"')
		v = localtime.AppendRFC3339(v, t)
		return enc.WriteValue(append(v, '"'))
	})))

// MarshalJSON encodes v as every answer is encoded: encoding/json's rules, instants in +08:00.
// Handlers that write a body themselves use it for what they do not write by hand.
func MarshalJSON(v any) ([]byte, error) { return jsonv2.Marshal(v, answerOptions) }

// answerJSON is gin's JSON codec for answers.
type answerJSON struct{}

func (answerJSON) Marshal(v any) ([]byte, error) { return MarshalJSON(v) }

func (answerJSON) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func (answerJSON) MarshalIndent(v any, prefix, indent string) ([]byte, error) {
	b, err := MarshalJSON(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, prefix, indent); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (answerJSON) NewEncoder(w io.Writer) ginjson.Encoder {
	return &answerEncoder{w: w, escapeHTML: true}
}

func (answerJSON) NewDecoder(r io.Reader) ginjson.Decoder { return json.NewDecoder(r) }

// answerEncoder is json.Encoder's behaviour (a newline after each value) with MarshalJSON.
type answerEncoder struct {
	w          io.Writer
	escapeHTML bool
}

func (e *answerEncoder) SetEscapeHTML(on bool) { e.escapeHTML = on }

func (e *answerEncoder) Encode(v any) error {
	opts := answerOptions
	if !e.escapeHTML {
		opts = jsonv2.JoinOptions(answerOptions, jsontext.EscapeForHTML(false))
	}
	b, err := jsonv2.Marshal(v, opts)
	if err != nil {
		return err
	}
	_, err = e.w.Write(append(b, '\n'))
	return err
}
