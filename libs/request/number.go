package request

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
)

// Numbers at the edge. strconv.ParseFloat reads "NaN", "Inf", "+Infinity" (any case) as
// numbers, and a value that overflows as an infinity: none of them is a measurement, a
// coordinate or a limit, and each poisons what it reaches (every comparison with NaN is false,
// so a NaN latitude passes a range check; encoding/json refuses to write it, so one NaN stored
// in a batch fails every later read of the batch). Every number a handler parses from text (a
// query parameter, a CSV cell, a JSON string holding a number) goes through Float.
//
// JSON bodies need no check: JSON has no NaN or infinity literal, and encoding/json refuses a
// number that overflows a float64 (1e999) as a type error naming the field (Decode turns it into
// a 400 on that field).

// ErrNotFinite is Float's error for NaN and infinities.
var ErrNotFinite = errors.New("NaN and infinities are not numbers: send a finite decimal number")

// Float parses a finite decimal number; NaN, infinities and values that overflow are refused.
func Float(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	var ne *strconv.NumError
	switch {
	case errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange):
		if math.IsInf(f, 0) {
			return 0, ErrNotFinite // overflow
		}
		return f, nil // underflow: the nearest float, 0 or a tiny one
	case err != nil:
		return 0, errors.New("not a decimal number")
	case !Finite(f):
		return 0, ErrNotFinite
	}
	return f, nil
}

// Finite reports whether f is neither NaN nor an infinity.
func Finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// QueryFloat reads an optional number query parameter: ok is false when it is absent; a value
// that is not a finite number is a validation error naming the parameter.
func QueryFloat(c *gin.Context, name string) (f float64, ok bool, err error) {
	s := c.Query(name)
	if s == "" {
		return 0, false, nil
	}
	f, err = Float(s)
	if err != nil {
		return 0, false, apperr.Invalid(name, err.Error())
	}
	return f, true, nil
}
