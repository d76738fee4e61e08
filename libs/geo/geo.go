// Package geo is the little plane geometry ClearSky needs where MongoDB's geospatial queries are
// not available (FerretDB has no 2dsphere index and no $geoWithin): GeoJSON Polygon and
// MultiPolygon decoding with validation, bounding boxes for pre-filtering in a query, and a
// point-in-polygon test that honours holes.
//
// Coordinates are longitude and latitude in degrees (WGS 84 / GCJ-02 alike: the package does no
// datum conversion) treated as plane coordinates, which is exact enough for zones of a few
// kilometres. Out of scope: polygons that cross the antimeridian (±180°; a client must split such
// a zone into a MultiPolygon), self-intersecting rings (not detected), and distances.
//
// A point exactly on an edge or a vertex — of the outer ring or of a hole — counts as inside:
// a truck on the boundary road of its allowed zone is within it. "Exactly" means within
// EdgeTolerance degrees of the edge.
package geo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// EdgeTolerance is how close, in degrees, a point must be to an edge to count as on it (about
// 0.1 mm on the ground): it absorbs the rounding of decimal coordinates.
const EdgeTolerance = 1e-9

// Point is a position: longitude (x) and latitude (y) in degrees.
type Point struct {
	Lon float64
	Lat float64
}

// Valid reports whether p is a real position: longitude in [-180, 180], latitude in [-90, 90].
func (p Point) Valid() bool {
	return !math.IsNaN(p.Lon) && !math.IsNaN(p.Lat) && p.Lon >= -180 && p.Lon <= 180 && p.Lat >= -90 && p.Lat <= 90
}

// Ring is a closed line: its first and last positions are equal.
type Ring []Point

// Polygon is an outer ring followed by zero or more holes.
type Polygon []Ring

// Shape is an area: one polygon (GeoJSON Polygon) or several (GeoJSON MultiPolygon).
type Shape struct {
	// Multi records whether the shape came as a MultiPolygon, so it is written back the same way.
	Multi    bool
	Polygons []Polygon
}

// BBox is an axis-aligned bounding box.
type BBox struct {
	MinLon, MinLat, MaxLon, MaxLat float64
}

// Contains reports whether p lies in the box, boundary included.
func (b BBox) Contains(p Point) bool {
	return p.Lon >= b.MinLon && p.Lon <= b.MaxLon && p.Lat >= b.MinLat && p.Lat <= b.MaxLat
}

// Error is a validation failure; Path names the offending part of the GeoJSON value
// ("coordinates[0][3]"), relative to the geometry object.
type Error struct {
	Path    string
	Message string
}

// Error writes the path and the message.
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

func fail(path, format string, args ...any) error {
	return &Error{Path: path, Message: fmt.Sprintf(format, args...)}
}

// geometry is a GeoJSON geometry object as it arrives.
type geometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

// MaxPositions bounds the positions of one shape, over all its rings: a district's site, zone or
// alert area is drawn with tens or hundreds, and every position costs each point-in-polygon
// test (every checkpoint lookup and muck "allowed" question inside the box).
const MaxPositions = 10000

// Parse decodes and validates a GeoJSON Polygon or MultiPolygon geometry object, of at most
// MaxPositions positions. Every ring
// must have at least four positions, be closed and enclose an area; positions must be valid
// longitude/latitude pairs (a third number, altitude, is accepted and dropped). Ring
// orientation (the right-hand rule of RFC 7946) is not required. Errors are *Error.
func Parse(raw []byte) (Shape, error) {
	s, err := parse(raw)
	if err != nil {
		return Shape{}, err
	}
	n := 0
	for _, p := range s.Polygons {
		for _, r := range p {
			n += len(r)
		}
	}
	if n > MaxPositions {
		return Shape{}, fail("coordinates", "at most %d positions in all, has %d", MaxPositions, n)
	}
	return s, nil
}

func parse(raw []byte) (Shape, error) {
	var g geometry
	if err := json.Unmarshal(raw, &g); err != nil {
		return Shape{}, fail("", "not a GeoJSON geometry object: %v", err)
	}
	if len(g.Coordinates) == 0 || string(g.Coordinates) == "null" {
		if g.Type == "" {
			return Shape{}, fail("type", "required: Polygon or MultiPolygon")
		}
		return Shape{}, fail("coordinates", "required")
	}
	switch g.Type {
	case "Polygon":
		var c [][][]float64
		if err := json.Unmarshal(g.Coordinates, &c); err != nil {
			return Shape{}, fail("coordinates", "a Polygon's coordinates are an array of rings, each an array of [lon, lat] positions")
		}
		p, err := polygon(c, "coordinates")
		if err != nil {
			return Shape{}, err
		}
		return Shape{Polygons: []Polygon{p}}, nil
	case "MultiPolygon":
		var c [][][][]float64
		if err := json.Unmarshal(g.Coordinates, &c); err != nil {
			return Shape{}, fail("coordinates", "a MultiPolygon's coordinates are an array of polygons, each an array of rings of [lon, lat] positions")
		}
		if len(c) == 0 {
			return Shape{}, fail("coordinates", "a MultiPolygon needs at least one polygon")
		}
		s := Shape{Multi: true}
		for i, pc := range c {
			p, err := polygon(pc, fmt.Sprintf("coordinates[%d]", i))
			if err != nil {
				return Shape{}, err
			}
			s.Polygons = append(s.Polygons, p)
		}
		return s, nil
	case "":
		return Shape{}, fail("type", "required: Polygon or MultiPolygon")
	}
	return Shape{}, fail("type", "%q is not supported: use Polygon or MultiPolygon", g.Type)
}

func polygon(c [][][]float64, path string) (Polygon, error) {
	if len(c) == 0 {
		return nil, fail(path, "a polygon needs an outer ring")
	}
	p := make(Polygon, 0, len(c))
	for i, rc := range c {
		r, err := ring(rc, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		p = append(p, r)
	}
	return p, nil
}

func ring(c [][]float64, path string) (Ring, error) {
	if len(c) < 4 {
		return nil, fail(path, "a ring needs at least 4 positions (the first repeated at the end), has %d", len(c))
	}
	r := make(Ring, 0, len(c))
	for i, pos := range c {
		if len(pos) < 2 || len(pos) > 3 {
			return nil, fail(fmt.Sprintf("%s[%d]", path, i), "a position is [lon, lat] (or [lon, lat, altitude])")
		}
		pt := Point{Lon: pos[0], Lat: pos[1]}
		if !(pt.Lon >= -180 && pt.Lon <= 180) { // written so that NaN fails too
			return nil, fail(fmt.Sprintf("%s[%d]", path, i), "longitude %v is outside [-180, 180]", pt.Lon)
		}
		if !(pt.Lat >= -90 && pt.Lat <= 90) {
			return nil, fail(fmt.Sprintf("%s[%d]", path, i), "latitude %v is outside [-90, 90]", pt.Lat)
		}
		r = append(r, pt)
	}
	if r[0] != r[len(r)-1] {
		return nil, fail(path, "the ring is not closed: its last position must repeat the first")
	}
	if r.area() == 0 {
		return nil, fail(path, "the ring encloses no area")
	}
	return r, nil
}

// area is the ring's signed area (shoelace); its sign gives the orientation.
func (r Ring) area() float64 {
	a := 0.0
	for i := 0; i+1 < len(r); i++ {
		a += r[i].Lon*r[i+1].Lat - r[i+1].Lon*r[i].Lat
	}
	return a / 2
}

// MarshalJSON writes the shape back as a GeoJSON Polygon or MultiPolygon.
func (s Shape) MarshalJSON() ([]byte, error) {
	coords := func(p Polygon) [][][]float64 {
		out := make([][][]float64, len(p))
		for i, r := range p {
			out[i] = make([][]float64, len(r))
			for j, pt := range r {
				out[i][j] = []float64{pt.Lon, pt.Lat}
			}
		}
		return out
	}
	if len(s.Polygons) == 0 {
		return nil, errors.New("geo: empty shape")
	}
	if !s.Multi && len(s.Polygons) == 1 {
		return json.Marshal(struct {
			Type        string        `json:"type"`
			Coordinates [][][]float64 `json:"coordinates"`
		}{"Polygon", coords(s.Polygons[0])})
	}
	all := make([][][][]float64, len(s.Polygons))
	for i, p := range s.Polygons {
		all[i] = coords(p)
	}
	return json.Marshal(struct {
		Type        string          `json:"type"`
		Coordinates [][][][]float64 `json:"coordinates"`
	}{"MultiPolygon", all})
}

// BBox returns the smallest box holding every position of the shape (the outer rings suffice:
// holes lie inside them).
func (s Shape) BBox() BBox {
	b := BBox{MinLon: math.Inf(1), MinLat: math.Inf(1), MaxLon: math.Inf(-1), MaxLat: math.Inf(-1)}
	for _, p := range s.Polygons {
		if len(p) == 0 {
			continue
		}
		for _, pt := range p[0] {
			b.MinLon, b.MaxLon = math.Min(b.MinLon, pt.Lon), math.Max(b.MaxLon, pt.Lon)
			b.MinLat, b.MaxLat = math.Min(b.MinLat, pt.Lat), math.Max(b.MaxLat, pt.Lat)
		}
	}
	return b
}

// Contains reports whether pt lies in the shape: inside (or on the boundary of) the outer ring of
// one of its polygons and not strictly inside one of that polygon's holes.
func (s Shape) Contains(pt Point) bool {
	for _, p := range s.Polygons {
		if p.Contains(pt) {
			return true
		}
	}
	return false
}

// Contains reports whether pt lies in the polygon; its boundary (hole edges included) is inside.
func (p Polygon) Contains(pt Point) bool {
	if len(p) == 0 {
		return false
	}
	in, on := p[0].locate(pt)
	if on {
		return true
	}
	if !in {
		return false
	}
	for _, hole := range p[1:] {
		in, on := hole.locate(pt)
		if on {
			return true
		}
		if in {
			return false
		}
	}
	return true
}

// locate tells whether pt is strictly inside the ring (ray casting, even-odd rule) or on one of
// its edges.
func (r Ring) locate(pt Point) (inside, onEdge bool) {
	for i, j := 0, len(r)-1; i < len(r); j, i = i, i+1 {
		a, b := r[j], r[i]
		if onSegment(a, b, pt) {
			return false, true
		}
		// The half-open test ((a.Lat > y) != (b.Lat > y)) counts a vertex the ray passes through
		// once, not twice, and skips horizontal edges.
		if (a.Lat > pt.Lat) != (b.Lat > pt.Lat) {
			x := a.Lon + (pt.Lat-a.Lat)*(b.Lon-a.Lon)/(b.Lat-a.Lat)
			if pt.Lon < x {
				inside = !inside
			}
		}
	}
	return inside, false
}

// onSegment reports whether p lies within EdgeTolerance of the segment ab.
func onSegment(a, b, p Point) bool {
	if p.Lon < math.Min(a.Lon, b.Lon)-EdgeTolerance || p.Lon > math.Max(a.Lon, b.Lon)+EdgeTolerance ||
		p.Lat < math.Min(a.Lat, b.Lat)-EdgeTolerance || p.Lat > math.Max(a.Lat, b.Lat)+EdgeTolerance {
		return false
	}
	dx, dy := b.Lon-a.Lon, b.Lat-a.Lat
	length := math.Hypot(dx, dy)
	if length == 0 {
		return math.Hypot(p.Lon-a.Lon, p.Lat-a.Lat) <= EdgeTolerance
	}
	// Distance from p to the line through a and b: |cross| / |ab|.
	cross := dx*(p.Lat-a.Lat) - dy*(p.Lon-a.Lon)
	return math.Abs(cross)/length <= EdgeTolerance
}
