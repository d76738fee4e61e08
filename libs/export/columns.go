package export

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clearsky/clearsky/libs/localtime"
)

// column is one column of an export: its name (the JSON path) and how to read its cell from an
// item.
type column struct {
	name  string
	index []int // the field's path from the item's struct
	kind  cellKind
}

type columns []column

type cellKind int

const (
	kindText   cellKind = iota // a string
	kindNumber                 // ints, uints, floats
	kindBool
	kindTime   // time.Time, China time
	kindMarsh  // a type with its own JSON or text form (a date, an enum with MarshalText)
	kindList   // a slice of plain values, joined with "; "
	kindJSON   // anything else (lists of objects, maps): its JSON
	kindAnyVal // an interface: decided per value
)

var cache sync.Map // reflect.Type -> columns

// columnsOf returns the columns of T, a struct (or pointer to one) answered as JSON.
func columnsOf[T any]() columns {
	t := reflect.TypeFor[T]()
	if c, ok := cache.Load(t); ok {
		return c.(columns)
	}
	var cols columns
	st := t
	for st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() == reflect.Struct {
		cols = flatten(st, "", nil)
	} else {
		cols = columns{{name: "value", kind: kindOf(st)}}
	}
	cache.Store(t, cols)
	return cols
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
	textType      = reflect.TypeFor[encoding.TextMarshaler]()
)

// flatten lists the columns of struct t, its nested structs' fields under "prefix.name".
func flatten(t reflect.Type, prefix string, index []int) columns {
	var out columns
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		idx := append(append([]int{}, index...), i)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			out = append(out, flatten(ft, prefix, idx)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		k := kindOf(f.Type)
		if k == kindJSON && ft.Kind() == reflect.Struct {
			out = append(out, flatten(ft, prefix+name+".", idx)...)
			continue
		}
		out = append(out, column{name: prefix + name, index: idx, kind: k})
	}
	return out
}

func kindOf(t reflect.Type) cellKind {
	if t == timeType || (t.Kind() == reflect.Pointer && t.Elem() == timeType) {
		return kindTime
	}
	if t.Implements(marshalerType) || t.Implements(textType) ||
		reflect.PointerTo(t).Implements(marshalerType) || reflect.PointerTo(t).Implements(textType) {
		return kindMarsh
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return kindText
	case reflect.Bool:
		return kindBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return kindNumber
	case reflect.Interface:
		return kindAnyVal
	case reflect.Slice, reflect.Array:
		if k := kindOf(t.Elem()); k == kindText || k == kindNumber || k == kindBool || k == kindTime || k == kindMarsh {
			return kindList
		}
	}
	return kindJSON
}

func (cs columns) names() []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out
}

// cells fills out with item's cells: nil for a missing value, a string, a float64 or int64, or
// a bool.
func (cs columns) cells(item any, out []any) {
	v := reflect.ValueOf(item)
	for i, c := range cs {
		out[i] = cell(field(v, c.index), c.kind)
	}
}

// field follows index from v, nil pointers giving the invalid Value.
func field(v reflect.Value, index []int) reflect.Value {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	for _, i := range index {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v
}

// TimeLayout is how an export writes a time, in China time.
const TimeLayout = "2006-01-02 15:04:05"

func cell(v reflect.Value, k cellKind) any {
	if !v.IsValid() {
		return nil
	}
	if k != kindMarsh {
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				return nil
			}
			v = v.Elem()
		}
	}
	switch k {
	case kindText:
		return v.String()
	case kindBool:
		return v.Bool()
	case kindNumber:
		return number(v)
	case kindTime:
		t := v.Interface().(time.Time)
		if t.IsZero() {
			return nil
		}
		return t.In(localtime.Shanghai()).Format(TimeLayout)
	case kindMarsh:
		return marshalled(v)
	case kindList:
		parts := make([]string, 0, v.Len())
		for i := range v.Len() {
			c := cell(v.Index(i), kindOf(v.Type().Elem()))
			parts = append(parts, cellText(c))
		}
		return strings.Join(parts, "; ")
	case kindAnyVal:
		return cell(v, kindOf(v.Type()))
	}
	if (v.Kind() == reflect.Slice || v.Kind() == reflect.Map) && v.IsNil() {
		return nil
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return nil
	}
	return string(b)
}

func number(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(min(v.Uint(), math.MaxInt64))
	}
	return v.Int()
}

// marshalled is the cell of a value with its own JSON or text form: a JSON string unquoted, a
// JSON number as a number, anything else as its JSON.
func marshalled(v reflect.Value) any {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return nil
	}
	if tm, ok := v.Interface().(encoding.TextMarshaler); ok {
		if _, isJSON := v.Interface().(json.Marshaler); !isJSON {
			b, err := tm.MarshalText()
			if err != nil {
				return nil
			}
			return string(b)
		}
	}
	b, err := json.Marshal(v.Interface())
	if err != nil || string(b) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		return s
	}
	if f, err := strconv.ParseFloat(string(b), 64); err == nil {
		return f
	}
	return string(b)
}
