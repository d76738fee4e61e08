// Package sampling is the fuel service's core (tasks 7 and 14 of the action plan): the sites
// that sell or store fuel, vehicle urea and household coal and who supplies them, the labs and
// the sites they are contracted for, sample uploads judged against the limit tables (package
// limits), non-conformance cases with their trace-back up the supply chain, and the bureau's
// sampling plans and coverage against the quotas. It knows nothing of HTTP, MongoDB or Redis:
// it declares the Store and VersionMarker it needs.
package sampling

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

// Sentinel errors; each wraps an apperr kind.
var (
	ErrSiteNotFound      = fmt.Errorf("site %w", apperr.ErrNotFound)
	ErrSiteExists        = fmt.Errorf("a different site is already registered with this site_id; change it with PUT: %w", apperr.ErrConflict)
	ErrLabNotFound       = fmt.Errorf("lab %w", apperr.ErrNotFound)
	ErrSampleNotFound    = fmt.Errorf("sample %w", apperr.ErrNotFound)
	ErrSampleConflict    = fmt.Errorf("a sample with this sample_id is already stored with different content; correct it with POST /v1/fuel/samples/{sample_id}/corrections: %w", apperr.ErrConflict)
	ErrRevisionConflict  = fmt.Errorf("the sample was corrected meanwhile; read it again and correct its current revision: %w", apperr.ErrConflict)
	ErrCaseNotFound      = fmt.Errorf("case %w", apperr.ErrNotFound)
	ErrCaseExists        = fmt.Errorf("case already opened: %w", apperr.ErrConflict)
	ErrCaseClosed        = fmt.Errorf("the case is already closed: %w", apperr.ErrConflict)
	ErrVersionConflict   = fmt.Errorf("the record changed while this update was made; read it again and retry: %w", apperr.ErrConflict)
	ErrTableNotFound     = fmt.Errorf("limit table version %w", apperr.ErrNotFound)
	ErrTableVersionTaken = fmt.Errorf("another limit table was loaded meanwhile; read the current one and retry: %w", apperr.ErrConflict)
)

// Kind is what a site is.
type Kind string

// Site kinds. Refineries, importers and producers are upstream: they are recorded for trace-back.
const (
	FillingStation Kind = "filling_station" // 加油站 (sells petrol, diesel and vehicle urea)
	OilDepot       Kind = "oil_depot"       // 油库, including enterprises' own depots (企业自备油库)
	UreaSeller     Kind = "urea_seller"     // 车用尿素销售
	CoalSeller     Kind = "coal_seller"     // 民用散煤销售 (household coal)
	Refinery       Kind = "refinery"        // 炼厂
	Importer       Kind = "importer"        // 进口商
	Producer       Kind = "producer"        // urea manufacturer, coal mine or washing plant
)

// Kinds lists the valid kinds.
var Kinds = []Kind{FillingStation, OilDepot, UreaSeller, CoalSeller, Refinery, Importer, Producer}

// suppliersOf says which kinds may supply a kind; the chain station <- depot <- refinery or
// importer is walked along these links.
var suppliersOf = map[Kind][]Kind{
	FillingStation: {OilDepot, Refinery, Importer, UreaSeller, Producer},
	OilDepot:       {OilDepot, Refinery, Importer},
	UreaSeller:     {UreaSeller, Producer},
	CoalSeller:     {CoalSeller, Producer},
	Refinery:       {Importer},
}

// productsOf says what a kind of site sells or stores, and so what may be sampled there.
var productsOf = map[Kind][]limits.Product{
	FillingStation: {limits.Gasoline, limits.Diesel, limits.Urea},
	OilDepot:       {limits.Gasoline, limits.Diesel},
	UreaSeller:     {limits.Urea},
	CoalSeller:     {limits.Coal},
	Refinery:       {limits.Gasoline, limits.Diesel},
	Importer:       {limits.Gasoline, limits.Diesel},
	Producer:       {limits.Urea, limits.Coal},
}

// Handles reports whether a site of kind k deals in product p.
func (k Kind) Handles(p limits.Product) bool { return slices.Contains(productsOf[k], p) }

// needsLicence lists the kinds that must show a licence unless recorded as unlicensed.
var needsLicence = []Kind{FillingStation, OilDepot, UreaSeller, CoalSeller}

// Site is a place that sells or stores fuel, urea or coal, or an upstream supplier.
type Site struct {
	ID       string
	Kind     Kind
	Name     string
	Operator string
	Lat, Lon float64
	Address  string
	Licence  string // 成品油零售/仓储经营许可证 or the seller's business licence number
	// Unlicensed marks a "black" site the bureau found on an inspection (task 14: 取缔黑加油站点);
	// it has no licence and names the inspection in InspectionRef.
	Unlicensed    bool
	InspectionRef string
	// OwnDepot marks an enterprise's own depot (企业自备油库); it counts in the depot quota.
	OwnDepot  bool
	Suppliers []string
	// OperatingSince and ClosedOn (calendar days; ClosedOn zero while operating) bound the
	// months in which the site counts towards a sampling quota.
	OperatingSince time.Time
	ClosedOn       time.Time
	Note           string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	UpdatedBy      string
	Version        int64
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// validID reports whether s may be a site, lab or sample id.
func validID(s string) bool { return idPattern.MatchString(s) }

const idRule = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"

// Validate checks a site about to be stored (not its suppliers' existence, which needs the
// store) and names each field at fault. today fills a missing operating_since.
func (s *Site) Validate(today time.Time) error {
	var ve apperr.ValidationError
	s.ID, s.Name, s.Operator = strings.TrimSpace(s.ID), strings.TrimSpace(s.Name), strings.TrimSpace(s.Operator)
	s.Licence, s.Address, s.InspectionRef = strings.TrimSpace(s.Licence), strings.TrimSpace(s.Address), strings.TrimSpace(s.InspectionRef)
	if !validID(s.ID) {
		ve.Add("site_id", idRule)
	}
	if !slices.Contains(Kinds, s.Kind) {
		ve.Add("kind", fmt.Sprintf("%q is not one of %s", s.Kind, joinKinds(Kinds)))
	}
	if s.Name == "" {
		ve.Add("name", "required")
	}
	if s.Operator == "" && !s.Unlicensed {
		ve.Add("operator", "required: the company or person operating the site")
	}
	if math.IsNaN(s.Lat) || s.Lat < -90 || s.Lat > 90 || (s.Lat == 0 && s.Lon == 0) {
		ve.Add("lat", "required: latitude in degrees, -90 to 90 (WGS 84)")
	}
	if math.IsNaN(s.Lon) || s.Lon < -180 || s.Lon > 180 {
		ve.Add("lon", "longitude in degrees, -180 to 180 (WGS 84)")
	}
	switch {
	case s.Unlicensed && s.Licence != "":
		ve.Add("licence", "an unlicensed site has no licence")
	case s.Unlicensed && s.InspectionRef == "":
		ve.Add("inspection_ref", "required for an unlicensed site: the inspection that found it")
	case !s.Unlicensed && s.Licence == "" && slices.Contains(needsLicence, s.Kind):
		ve.Add("licence", "required for a "+string(s.Kind)+"; record a site found without one as unlicensed")
	}
	if s.OwnDepot && s.Kind != OilDepot {
		ve.Add("own_depot", "only an oil_depot can be an enterprise's own depot")
	}
	seen := map[string]bool{}
	for i, id := range s.Suppliers {
		switch {
		case id == s.ID:
			ve.Add(fmt.Sprintf("suppliers[%d]", i), "a site does not supply itself")
		case seen[id]:
			ve.Add(fmt.Sprintf("suppliers[%d]", i), "listed twice")
		case len(suppliersOf[s.Kind]) == 0:
			ve.Add(fmt.Sprintf("suppliers[%d]", i), fmt.Sprintf("a %s has no suppliers on record", s.Kind))
		}
		seen[id] = true
	}
	if s.OperatingSince.IsZero() {
		s.OperatingSince = today
	}
	if !s.ClosedOn.IsZero() && s.ClosedOn.Before(s.OperatingSince) {
		ve.Add("closed_on", "must not be before operating_since")
	}
	return ve.Err()
}

// checkSuppliers checks that every supplier exists and may supply a site of s's kind.
func (s Site) checkSuppliers(found map[string]Site) error {
	var ve apperr.ValidationError
	for i, id := range s.Suppliers {
		sup, ok := found[id]
		switch {
		case !ok:
			ve.Add(fmt.Sprintf("suppliers[%d]", i), fmt.Sprintf("no site %q is registered: register suppliers first", id))
		case !slices.Contains(suppliersOf[s.Kind], sup.Kind):
			ve.Add(fmt.Sprintf("suppliers[%d]", i), fmt.Sprintf("a %s does not supply a %s: suppliers are %s", sup.Kind, s.Kind, joinKinds(suppliersOf[s.Kind])))
		}
	}
	return ve.Err()
}

// Operating reports whether the site operates at some time in the calendar days [first, last].
func (s Site) Operating(first, last time.Time) bool {
	return !s.OperatingSince.After(last) && (s.ClosedOn.IsZero() || !s.ClosedOn.Before(first))
}

func joinKinds(ks []Kind) string {
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// Lab is a testing lab and the sites the bureau contracted it for; a lab uploads samples of
// those sites only.
type Lab struct {
	ID        string
	Name      string
	SiteIDs   []string
	UpdatedAt time.Time
	UpdatedBy string
	Version   int64
}

// Validate checks a lab contract (not the sites' existence) and names each field at fault.
func (l *Lab) Validate() error {
	var ve apperr.ValidationError
	l.Name = strings.TrimSpace(l.Name)
	if !validID(l.ID) {
		ve.Add("lab_id", idRule)
	}
	if l.Name == "" {
		ve.Add("name", "required")
	}
	seen := map[string]bool{}
	for i, id := range l.SiteIDs {
		if seen[id] {
			ve.Add(fmt.Sprintf("site_ids[%d]", i), "listed twice")
		}
		seen[id] = true
	}
	return ve.Err()
}
