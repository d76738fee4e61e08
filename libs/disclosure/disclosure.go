// Package disclosure is what ClearSky tells the public (the action plan's 加强环境信息公开): the
// rows of each monthly list, as the services that own the records project them and as the
// disclosure service stores, reviews and publishes them. A row type holds only what may be
// published: a plate but never a VIN, an owner or a phone number; a company's name and address
// but never a person's. The services fill them (remote sensing, fuel, muck) and the disclosure
// service reads them, so the one definition is here.
package disclosure

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/request"
)

// Kind is a monthly list.
type Kind string

// The lists.
const (
	// VehicleExceedances: vehicles found exceeding by remote sensing in the month (cases opened
	// in it and not dismissed).
	VehicleExceedances Kind = "vehicle-exceedances"
	// FuelFailures: fuel, urea and coal samples taken in the month that failed their limits,
	// with the site they were taken at.
	FuelFailures Kind = "fuel-failures"
	// MuckViolations: muck-truck violations recorded in the month, by construction site.
	MuckViolations Kind = "muck-violations"
)

// Kinds are the lists, in the order the public page shows them.
var Kinds = []Kind{VehicleExceedances, FuelFailures, MuckViolations}

// Title is a list's name on the public page and in the feed.
func (k Kind) Title() string {
	switch k {
	case VehicleExceedances:
		return "机动车排放超标名单"
	case FuelFailures:
		return "油品、车用尿素及散煤抽检不合格名单"
	case MuckViolations:
		return "渣土车违法违规情况（按工地）"
	}
	return string(k)
}

// ParseKind reads a list's name.
func ParseKind(field, s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", apperr.Invalid(field, fmt.Sprintf("must be %s, %s or %s", VehicleExceedances, FuelFailures, MuckViolations))
}

// Month is a calendar month in China, "2026-11".
type Month string

// ParseMonth reads "YYYY-MM" (2000 to 2100).
func ParseMonth(field, s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || t.Year() < 2000 || t.Year() > 2100 {
		return "", apperr.Invalid(field, "a month as YYYY-MM, e.g. 2026-11")
	}
	return Month(s), nil
}

// Bounds are the month's first instant and the next month's, in China time.
func (m Month) Bounds() (from, to time.Time) {
	t, _ := time.ParseInLocation("2006-01", string(m), localtime.Shanghai())
	return t, t.AddDate(0, 1, 0)
}

// Ended says whether the month is over at now: a list is compiled for a month that has ended.
func (m Month) Ended(now time.Time) bool {
	_, to := m.Bounds()
	return !now.Before(to)
}

// VehicleRow is a vehicle found exceeding: the plate, the day and the place, the pollutant.
type VehicleRow struct {
	Plate       string `json:"plate" bson:"plate"`
	PlateColour string `json:"plate_colour" bson:"plate_colour"`
	Date        string `json:"date" bson:"date"`   // China date, 2026-11-03
	Place       string `json:"place" bson:"place"` // the remote-sensing station's road section
	Pollutant   string `json:"pollutant" bson:"pollutant"`
}

// FuelRow is a failing sample's site and what failed.
type FuelRow struct {
	Site       string   `json:"site" bson:"site"`
	Address    string   `json:"address" bson:"address"`
	Operator   string   `json:"operator" bson:"operator"` // the operating company
	Product    string   `json:"product" bson:"product"`
	Grade      string   `json:"grade,omitempty" bson:"grade,omitempty"`
	Parameters []string `json:"parameters" bson:"parameters"`
	Date       string   `json:"date" bson:"date"` // China date sampled
}

// MuckRow is a construction site's muck-truck violations in the month.
type MuckRow struct {
	Site       string         `json:"site" bson:"site"`
	Developer  string         `json:"developer" bson:"developer"`
	Contractor string         `json:"contractor" bson:"contractor"`
	Total      int            `json:"total" bson:"total"`
	ByKind     map[string]int `json:"by_kind" bson:"by_kind"`
}

// Projection is what an owning service answers for a month: the rows of its list.
type Projection[R any] struct {
	Kind  Kind  `json:"kind"`
	Month Month `json:"month"`
	Rows  []R   `json:"rows"`
}

// Routes are the owners' projection routes, by list.
var Routes = map[Kind]string{
	VehicleExceedances: "/v1/remote-sensing/disclosure",
	FuelFailures:       "/v1/fuel/disclosure",
	MuckViolations:     "/v1/muck/disclosure",
}

// Serve answers an owner's projection route, GET <Routes[k]>?month=YYYY-MM, with the month's
// rows as rows gives them for the caller.
func Serve[R any](c *gin.Context, k Kind, rows func(ctx context.Context, p auth.Principal, m Month) ([]R, error)) error {
	if err := request.OnlyQuery(c, "month"); err != nil {
		return err
	}
	m, err := ParseMonth("month", c.Query("month"))
	if err != nil {
		return err
	}
	rs, err := rows(c.Request.Context(), auth.Caller(c), m)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []R{}
	}
	c.JSON(http.StatusOK, Projection[R]{Kind: k, Month: m, Rows: rs})
	return nil
}
