package cursor

import (
	"errors"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
)

func TestKeyRoundTrip(t *testing.T) {
	k := Key{At: time.Date(2026, 11, 29, 8, 30, 0, 123456789, time.FixedZone("CST", 8*3600)), ID: "alarm|1"}
	got, err := Parse(k.String())
	if err != nil || !got.At.Equal(k.At) || got.ID != k.ID {
		t.Fatalf("Parse(%q) = %+v, %v", k.String(), got, err)
	}
	if s := (Key{}).String(); s != "" {
		t.Fatalf("zero key = %q, want empty", s)
	}
	if got, err := Parse(""); err != nil || got.ID != "" {
		t.Fatalf(`Parse("") = %+v, %v; want the start`, got, err)
	}
	for _, bad := range []string{"x", "2026-11-29T08:30:00Z|", "yesterday|a1"} {
		if _, err := Parse(bad); !errors.Is(err, apperr.ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want invalid", bad, err)
		}
	}
}
