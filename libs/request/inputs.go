package request

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/localtime"
)

// Bounds on every input (docs/inputs.md). Decode checks every value it decodes against the
// rule of its field, read from the field's `input` struct tag:
//
//	Maker string   `json:"maker"`                      // a name: MaxName runes, one line
//	SiteID string  `json:"site_id" input:"id"`         // an identifier: MaxID runes
//	Note string    `json:"note" input:"text"`          // free text: MaxText runes, lines
//	Lane string    `json:"lane" input:"name,max=32"`   // a kind with its own maximum
//	Photos []string `json:"photos" input:"id,items=20"` // a list: at most 20 identifiers
//	Mass int       `json:"gross_mass_kg" input:"min=0,max=100000"` // a number's range
//
// A string field without a tag is a name. A list (or map) without items= holds at most
// MaxItems; a top-level array body is bounded by its route (the body size, then the core). On a
// list of strings the kind applies to each string. Every time.Time must carry an offset within
// ±14:00 (localtime.CheckInstant). Each fault is a field error naming the field by its JSON
// path ("results[2].unit"), so the answer is a 400 listing every field at fault.
const (
	MaxName  = 200  // runes of a name (a maker, a site, a station, a place)
	MaxID    = 64   // runes of an identifier (a site id, a fleet id, a reading id)
	MaxText  = 2000 // runes of free text (a note, a reason, a description)
	MaxItems = 1000 // items of a list without a bound of its own
)

// kind is what a string is: it decides its default maximum and the characters it may hold.
type kind uint8

const (
	kindName kind = iota // one line: no control characters, no bidirectional controls
	kindID               // as a name, and no left-to-right or right-to-left marks either
	kindText             // free text: tab and line breaks (LF, CR) allowed
)

// rule is a field's parsed `input` tag.
type rule struct {
	kind            kind
	max             int // runes; 0: the kind's default
	items           int // items of a list or map; 0: MaxItems
	min, maxNum     float64
	hasMin, hasMaxN bool
}

func (r rule) maxRunes() int {
	switch {
	case r.max > 0:
		return r.max
	case r.kind == kindID:
		return MaxID
	case r.kind == kindText:
		return MaxText
	}
	return MaxName
}

func parseRule(tag string) (rule, error) {
	var r rule
	for _, part := range strings.Split(tag, ",") {
		k, v, hasV := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case k == "":
		case k == "name" && !hasV:
			r.kind = kindName
		case k == "id" && !hasV:
			r.kind = kindID
		case k == "text" && !hasV:
			r.kind = kindText
		case k == "max" || k == "min":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return r, fmt.Errorf("input tag %q: %s=%q is not a number", tag, k, v)
			}
			if k == "min" {
				r.min, r.hasMin = f, true
			} else {
				r.maxNum, r.hasMaxN = f, true
				r.max = int(f) // on a string, max is its runes
			}
		case k == "items":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return r, fmt.Errorf("input tag %q: items=%q is not a positive whole number", tag, v)
			}
			r.items = n
		default:
			return r, fmt.Errorf("input tag %q: unknown rule %q", tag, part)
		}
	}
	return r, nil
}

// field is one JSON field of a struct type as Check walks it.
type field struct {
	index []int
	name  string // the JSON name; "" for an embedded struct whose fields are promoted
	rule  rule
}

var plans sync.Map // reflect.Type → []field

// plan lists the JSON fields of struct type t; a bad `input` tag is a programming error.
func plan(t reflect.Type) []field {
	if p, ok := plans.Load(t); ok {
		return p.([]field)
	}
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() && !sf.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" && !(sf.Anonymous && indirect(sf.Type).Kind() == reflect.Struct) {
			name = sf.Name
		}
		r, err := parseRule(sf.Tag.Get("input"))
		if err != nil {
			panic(fmt.Sprintf("request: %s.%s: %v", t, sf.Name, err))
		}
		out = append(out, field{index: sf.Index, name: name, rule: r})
	}
	plans.Store(t, out)
	return out
}

func indirect(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	rawType         = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// Check applies the bounds of every input to v, a decoded request body (Decode calls it), and
// returns a *apperr.ValidationError naming every field at fault, or nil.
func Check(v any) error {
	var ve apperr.ValidationError
	walk(&ve, "", reflect.ValueOf(v), rule{}, true)
	return ve.Err()
}

// CheckString applies the rule of kind ("name", "id" or "text", with an optional ",max=N") to a
// string that does not come in a JSON body (a query or path parameter), naming it field.
func CheckString(field, s, tag string) error { return StringChecker(tag)(field, s) }

// StringChecker is CheckString with the tag parsed once, for a check on every request.
func StringChecker(tag string) func(field, s string) error {
	r, err := parseRule(tag)
	if err != nil {
		panic("request: " + err.Error())
	}
	return func(field, s string) error {
		if msg := checkString(s, r); msg != "" {
			return apperr.Invalid(field, msg)
		}
		return nil
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func walk(ve *apperr.ValidationError, path string, v reflect.Value, r rule, root bool) {
	if !v.IsValid() {
		return
	}
	t := v.Type()
	at := path
	if at == "" {
		at = "body"
	}
	switch {
	case t == timeType:
		if !v.CanInterface() {
			return
		}
		if msg := localtime.CheckInstant(v.Interface().(time.Time)); msg != "" {
			ve.Add(at, msg)
		}
		return
	case t == rawType:
		return // decoded later, by Decode again
	case t.Kind() == reflect.Struct && (reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textType)):
		return // a type that decodes itself (a day) has refused what it does not take
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walk(ve, path, v.Elem(), r, root)
		}
	case reflect.String:
		if msg := checkString(v.String(), r); msg != "" {
			ve.Add(at, msg)
		}
	case reflect.Struct:
		for _, f := range plan(t) {
			fv, err := v.FieldByIndexErr(f.index)
			if err != nil {
				continue // a nil embedded pointer
			}
			if f.name == "" {
				walk(ve, path, fv, f.rule, false)
			} else {
				walk(ve, join(path, f.name), fv, f.rule, false)
			}
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return // bytes (base64 in JSON): bounded by the body
		}
		if max := itemsOf(r); !root && v.Len() > max {
			ve.Add(at, fmt.Sprintf("at most %d items (got %d)", max, v.Len()))
			return
		}
		for i := range v.Len() {
			walk(ve, fmt.Sprintf("%s[%d]", path, i), v.Index(i), r, false)
		}
	case reflect.Map:
		if max := itemsOf(r); v.Len() > max {
			ve.Add(at, fmt.Sprintf("at most %d entries (got %d)", max, v.Len()))
			return
		}
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key()
			name := fmt.Sprint(k.Interface())
			if k.Kind() == reflect.String {
				if msg := checkString(k.String(), rule{kind: kindID}); msg != "" {
					ve.Add(join(path, name), "key: "+msg)
					continue
				}
			}
			walk(ve, join(path, name), iter.Value(), r, false)
		}
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			ve.Add(at, ErrNotFinite.Error())
			return
		}
		checkRange(ve, at, f, r)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		checkRange(ve, at, float64(v.Int()), r)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		checkRange(ve, at, float64(v.Uint()), r)
	}
}

func itemsOf(r rule) int {
	if r.items > 0 {
		return r.items
	}
	return MaxItems
}

func checkRange(ve *apperr.ValidationError, at string, f float64, r rule) {
	switch {
	case r.hasMin && r.hasMaxN && (f < r.min || f > r.maxNum):
		ve.Add(at, fmt.Sprintf("must be from %s to %s", num(r.min), num(r.maxNum)))
	case r.hasMin && f < r.min:
		ve.Add(at, fmt.Sprintf("must be at least %s", num(r.min)))
	case r.hasMaxN && f > r.maxNum:
		ve.Add(at, fmt.Sprintf("must be at most %s", num(r.maxNum)))
	}
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// checkString says what is wrong with s under rule r, or "".
func checkString(s string, r rule) string {
	if max := r.maxRunes(); len(s) > max { // a rune is at least one byte: count only when it may matter
		if n := utf8.RuneCountInString(s); n > max {
			return fmt.Sprintf("at most %d characters (got %d)", max, n)
		}
	}
	for _, c := range s {
		if msg := refused(c, r.kind); msg != "" {
			return msg
		}
	}
	return ""
}

// refused says why character c may not be in a string of kind k, or "".
//   - C0 and C1 control characters (U+0000-U+001F, U+007F-U+009F), NUL among them: they are not
//     text, and a NUL cuts the string short in C libraries, logs and terminals. Free text keeps
//     tab, line feed and carriage return.
//   - The bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they
//     make text display in another order than it is stored ("Trojan Source"), so a plate or a
//     name could read as another one in the console.
//   - In identifiers, the invisible direction marks too (U+200E, U+200F, U+061C): two ids that
//     look the same must be the same.
func refused(c rune, k kind) string {
	switch {
	case c < 0x20 || (c >= 0x7f && c <= 0x9f):
		if k == kindText && (c == '\t' || c == '\n' || c == '\r') {
			return ""
		}
		if k != kindText && (c == '\n' || c == '\r' || c == '\t') {
			return fmt.Sprintf("must be one line: a control character (U+%04X) is not allowed here", c)
		}
		return fmt.Sprintf("contains a control character (U+%04X), which is not text", c)
	case (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069):
		return fmt.Sprintf("contains a bidirectional control character (U+%04X), which makes text display in another order than it is stored", c)
	case k == kindID && (c == 0x200e || c == 0x200f || c == 0x061c):
		return fmt.Sprintf("contains an invisible direction mark (U+%04X), which an identifier may not hold", c)
	}
	return ""
}
