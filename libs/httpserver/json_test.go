package httpserver

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

type inner struct {
	At    time.Time  `json:"at"`
	When  *time.Time `json:"when,omitempty"`
	Never time.Time  `json:"never,omitzero"`
}

type day struct{ time.Time }

func (d day) MarshalJSON() ([]byte, error) { return json.Marshal(d.Format(time.DateOnly)) }

type sample struct {
	Name    string            `json:"name"`
	HTML    string            `json:"html"`
	Bad     string            `json:"bad"`
	N       float64           `json:"n"`
	Small   float64           `json:"small"`
	Big     float64           `json:"big"`
	I       int64             `json:"i,string"`
	Nil     []int             `json:"nil"`
	Empty   []string          `json:"empty"`
	Omit    string            `json:"omit,omitempty"`
	Map     map[string]int    `json:"map"`
	Raw     json.RawMessage   `json:"raw"`
	Any     any               `json:"any"`
	Ptr     *int              `json:"ptr"`
	Bytes   []byte            `json:"bytes"`
	Inner   inner             `json:"inner"`
	Day     day               `json:"day"`
	Embed                     // fields promoted
	private int               //nolint:unused
	Nested  map[string][]bool `json:"nested"`
}

type Embed struct {
	Promoted string `json:"promoted"`
}

// The answers' encoding is encoding/json's, but for instants, which it writes in +08:00.
func TestAnswerJSONIsEncodingJSONWithLocalTimes(t *testing.T) {
	at := time.Date(2026, 12, 3, 8, 21, 55, 120000000, time.UTC)
	v := sample{Name: "晋F89012", HTML: "<a href='x'>&</a>", Bad: "\u2028", N: 1.5, Small: 1e-7, Big: 1e21, I: 42,
		Empty: []string{}, Map: map[string]int{"b": 2, "a": 1}, Raw: json.RawMessage(`{"z":1,"a":[1,2]}`),
		Any: map[string]any{"y": []any{1.0, "x", nil}}, Bytes: []byte("hi"), Inner: inner{At: at, When: &at},
		Day: day{at}, Embed: Embed{"p"}, Nested: map[string][]bool{"k": {true}}}
	got, err := MarshalJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := json.Marshal(v)
	want := strings.ReplaceAll(string(ref), `"2026-12-03T08:21:55.12Z"`, `"2026-12-03T16:21:55.12+08:00"`)
	if string(got) != want {
		t.Fatalf("answer JSON\n%s\nencoding/json with local times\n%s", got, want)
	}
	if !strings.Contains(string(got), `"day":"2026-12-03"`) {
		t.Fatalf("a day type's own encoding was not kept: %s", got)
	}
	// Invalid UTF-8 becomes U+FFFD either way (encoding/json writes it escaped).
	if got, _ := MarshalJSON("a\xffb"); string(got) != "\"a\uFFFDb\"" {
		t.Fatalf("invalid UTF-8 = %s", got)
	}
	if _, err := MarshalJSON(math.NaN()); err == nil {
		t.Fatal("NaN encoded; encoding/json refuses it")
	}
	if _, err := MarshalJSON(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Fatal("year 10000 encoded; encoding/json refuses it")
	}
	if got, _ := MarshalJSON(time.Time{}); string(got) != `"0001-01-01T00:00:00Z"` {
		t.Fatalf("zero time = %s", got)
	}
}

// gin's answers (c.JSON, problems) go through it.
func TestGinAnswersWriteLocalTimes(t *testing.T) {
	gin.SetMode(gin.TestMode)
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.JSON(200, gin.H{"at": time.Date(2026, 12, 3, 8, 21, 55, 0, time.UTC)})
	if got := strings.TrimSpace(rec.Body.String()); got != `{"at":"2026-12-03T16:21:55+08:00"}` {
		t.Fatalf("c.JSON wrote %s", got)
	}
	var buf bytes.Buffer
	enc := answerJSON{}.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]string{"h": "<&>"}); err != nil || buf.String() != "{\"h\":\"<&>\"}\n" {
		t.Fatalf("encoder wrote %q, %v", buf.String(), err)
	}
}
