package geo

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) Shape {
	t.Helper()
	sh, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return sh
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantPath string
	}{
		{"not an object", `[1,2]`, ""},
		{"no type", `{"coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}`, "type"},
		{"point is not an area", `{"type":"Point","coordinates":[1,2]}`, "type"},
		{"no coordinates", `{"type":"Polygon"}`, "coordinates"},
		{"coordinates of the wrong depth", `{"type":"Polygon","coordinates":[[0,0],[1,0]]}`, "coordinates"},
		{"no rings", `{"type":"Polygon","coordinates":[]}`, "coordinates"},
		{"ring of three positions", `{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}`, "coordinates[0]"},
		{"open ring", `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}`, "coordinates[0]"},
		{"longitude out of range", `{"type":"Polygon","coordinates":[[[0,0],[181,0],[1,1],[0,0]]]}`, "coordinates[0][1]"},
		{"latitude out of range", `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,-91],[0,0]]]}`, "coordinates[0][2]"},
		{"position with one number", `{"type":"Polygon","coordinates":[[[0,0],[1],[1,1],[0,0]]]}`, "coordinates[0][1]"},
		{"collinear ring", `{"type":"Polygon","coordinates":[[[0,0],[1,1],[2,2],[0,0]]]}`, "coordinates[0]"},
		{"bad hole", `{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,0]],[[1,1],[2,1],[1,1]]]}`, "coordinates[1]"},
		{"empty multipolygon", `{"type":"MultiPolygon","coordinates":[]}`, "coordinates"},
		{"bad second polygon", `{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,6]]]]}`, "coordinates[1][0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("Parse error = %v, want a *geo.Error", err)
			}
			if ge.Path != tc.wantPath {
				t.Fatalf("error path = %q (%v), want %q", ge.Path, err, tc.wantPath)
			}
		})
	}
}

func TestParseAcceptsEitherWindingAndAltitude(t *testing.T) {
	cw := mustParse(t, `{"type":"Polygon","coordinates":[[[0,0],[0,1],[1,1],[1,0],[0,0]]]}`)
	ccw := mustParse(t, `{"type":"Polygon","coordinates":[[[0,0,5],[1,0,5],[1,1,5],[0,1,5],[0,0,5]]]}`)
	for _, s := range []Shape{cw, ccw} {
		if !s.Contains(Point{0.5, 0.5}) || s.Contains(Point{2, 2}) {
			t.Fatalf("shape %+v: wrong containment", s)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, in := range []string{
		`{"type":"Polygon","coordinates":[[[112.4,39.3],[112.5,39.3],[112.5,39.4],[112.4,39.3]]]}`,
		`{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}`,
	} {
		s := mustParse(t, in)
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != in {
			t.Fatalf("Marshal = %s, want %s", out, in)
		}
	}
}

// square with a square hole: outer 0..10, hole 4..6.
const withHole = `{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[4,4],[6,4],[6,6],[4,6],[4,4]]]}`

// concave is a "U": the notch x in (3,7), y in (3,10) is outside.
const concave = `{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[7,10],[7,3],[3,3],[3,10],[0,10],[0,0]]]}`

// triangle has a slanted edge from (0,0) to (4,2).
const triangle = `{"type":"Polygon","coordinates":[[[0,0],[4,2],[0,2],[0,0]]]}`

const twoIslands = `{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,6],[5,5]]]]}`

func TestContains(t *testing.T) {
	tests := []struct {
		name  string
		shape string
		pt    Point
		want  bool
	}{
		{"interior", withHole, Point{2, 2}, true},
		{"outside", withHole, Point{11, 5}, false},
		{"far outside, same latitude as a vertex", withHole, Point{-5, 10}, false},
		{"on the bottom edge", withHole, Point{5, 0}, true},
		{"on the left edge", withHole, Point{0, 7}, true},
		{"on a vertex", withHole, Point{10, 10}, true},
		{"on the origin vertex", withHole, Point{0, 0}, true},
		{"inside the hole", withHole, Point{5, 5}, false},
		{"on the hole's edge", withHole, Point{6, 5}, true},
		{"on the hole's vertex", withHole, Point{4, 4}, true},
		{"between hole and outer ring", withHole, Point{5, 8}, true},
		{"just outside the edge", withHole, Point{10.000001, 5}, false},
		{"ray through a vertex, inside", withHole, Point{2, 10 - 1e-12}, true},
		{"concave: in the left arm", concave, Point{1, 8}, true},
		{"concave: in the notch", concave, Point{5, 8}, false},
		{"concave: under the notch", concave, Point{5, 2}, true},
		{"concave: on the notch floor", concave, Point{5, 3}, true},
		{"concave: on the notch wall", concave, Point{7, 6}, true},
		{"concave: ray through two notch vertices", concave, Point{-1, 3}, false},
		{"concave: right of the notch at its floor", concave, Point{8, 3}, true},
		{"slanted edge: on it", triangle, Point{2, 1}, true},
		{"slanted edge: just below it", triangle, Point{2, 0.999}, false},
		{"slanted edge: just above it", triangle, Point{2, 1.001}, true},
		{"multipolygon: first island", twoIslands, Point{0.5, 0.5}, true},
		{"multipolygon: second island", twoIslands, Point{5.5, 5.5}, true},
		{"multipolygon: between islands", twoIslands, Point{3, 3}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustParse(t, tc.shape).Contains(tc.pt); got != tc.want {
				t.Fatalf("Contains(%v) = %v, want %v", tc.pt, got, tc.want)
			}
		})
	}
}

func TestBBox(t *testing.T) {
	tests := []struct {
		name  string
		shape string
		want  BBox
	}{
		{"polygon with hole", withHole, BBox{0, 0, 10, 10}},
		{"triangle", triangle, BBox{0, 0, 4, 2}},
		{"two islands", twoIslands, BBox{0, 0, 6, 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustParse(t, tc.shape).BBox()
			if b != tc.want {
				t.Fatalf("BBox = %+v, want %+v", b, tc.want)
			}
			if !b.Contains(Point{b.MinLon, b.MaxLat}) || b.Contains(Point{b.MaxLon + 1, b.MaxLat}) {
				t.Fatal("BBox.Contains is wrong at the corners")
			}
		})
	}
}

func TestPointValid(t *testing.T) {
	tests := []struct {
		pt   Point
		want bool
	}{
		{Point{112.43, 39.33}, true},
		{Point{180, 90}, true},
		{Point{-180.1, 0}, false},
		{Point{0, 90.5}, false},
	}
	for _, tc := range tests {
		if got := tc.pt.Valid(); got != tc.want {
			t.Errorf("Valid(%v) = %v, want %v", tc.pt, got, tc.want)
		}
	}
}

func TestParseBoundsPositions(t *testing.T) {
	ring := func(n int) string {
		var b strings.Builder
		b.WriteString("[[112,39]")
		for i := 1; i < n-2; i++ {
			fmt.Fprintf(&b, ",[%v,39.5]", 112+float64(i)/float64(n))
		}
		b.WriteString(",[113,40],[112,39]]")
		return b.String()
	}
	if _, err := Parse([]byte(`{"type":"Polygon","coordinates":[` + ring(MaxPositions) + `]}`)); err != nil {
		t.Fatalf("a ring of MaxPositions: %v", err)
	}
	_, err := Parse([]byte(`{"type":"MultiPolygon","coordinates":[[` + ring(MaxPositions/2+1) + `],[` + ring(MaxPositions/2) + `]]}`))
	var ge *Error
	if !errors.As(err, &ge) || ge.Path != "coordinates" {
		t.Fatalf("a shape of MaxPositions+1 positions: %v", err)
	}
}
