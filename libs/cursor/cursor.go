// Package cursor is the position in a newest-first list: the time the list is sorted by and the
// id that breaks ties. Handlers hand it out (encoded by request.EncodeCursor) as next_cursor;
// stores page on it (mongodb.NewestFirst).
package cursor

import (
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
)

// Key is the sort key of a list item: its time, then its id.
type Key struct {
	At time.Time
	ID string
}

// String encodes the key for a cursor; the zero key is the empty string.
func (k Key) String() string {
	if k.ID == "" {
		return ""
	}
	return k.At.UTC().Format(time.RFC3339Nano) + "|" + k.ID
}

// Parse decodes a key made by String; the empty string is the start of the list.
func Parse(s string) (Key, error) {
	if s == "" {
		return Key{}, nil
	}
	at, id, ok := strings.Cut(s, "|")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || id == "" {
		return Key{}, apperr.Invalid("cursor", "not a cursor this API returned; start again without it")
	}
	return Key{At: t, ID: id}, nil
}
