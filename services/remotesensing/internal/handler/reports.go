package handler

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensing"
)

// period reads from and to (YYYY-MM-DD, days in Asia/Shanghai, to exclusive); by default the
// last inspection cycle up to and including today.
func (h *Handler) period(c *gin.Context) (time.Time, time.Time, error) {
	p, err := request.QueryPeriod(c)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	from, okFrom, to, okTo := p.From, p.HasFrom, p.To, p.HasTo
	if !okTo {
		to = localtime.DayOf(time.Now()).AddDate(0, 0, 1)
	}
	if !okFrom {
		from = to.AddDate(0, 0, -h.svc.Options().CycleDays)
	}
	local := func(d time.Time) time.Time {
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, localtime.Shanghai()).UTC()
	}
	return local(from), local(to), nil
}

func (h *Handler) exceedanceReport(c *gin.Context) error {
	from, to, err := h.period(c)
	if err != nil {
		return err
	}
	by := sensing.Grouping(c.DefaultQuery("by", string(sensing.ByMaker)))
	rep, err := h.svc.ExceedanceReport(c.Request.Context(), auth.Caller(c), by, from, to)
	if err != nil {
		return err
	}
	rows := make([]rateJSON, 0, len(rep.Rows))
	for _, r := range rep.Rows {
		j := rateJSON{Key: r.Key, Vehicles: r.Vehicles, ExceedingVehicles: r.ExceedingVehicles, VehicleRate: r.VehicleRate,
			Readings: r.Readings, ExceedingReadings: r.ExceedingReadings, ReadingRate: r.ReadingRate}
		if by == sensing.ByInspectionStation {
			j.Qualifies, j.Flagged = &r.Qualifies, &r.Flagged
		}
		rows = append(rows, j)
	}
	out := gin.H{"by": string(by), "from": from, "to": to, "rows": rows, "rule": "tasks 15 and 33"}
	if by == sensing.ByInspectionStation {
		out["fraud_signal"] = gin.H{"baseline": rep.Baseline, "threshold": rep.Threshold, "factor": rep.Factor,
			"min_vehicles": rep.MinVehicles, "definition": rep.String()}
	}
	return export.Rows(c, "exceedance-by-"+string(by), out, rows)
}

func (h *Handler) repeatOffenders(c *gin.Context) error {
	from, to, err := h.period(c)
	if err != nil {
		return err
	}
	min := 2
	if s := c.Query("min"); s != "" {
		if min, err = strconv.Atoi(s); err != nil {
			return apperr.Invalid("min", "a whole number of exceeding readings, at least 1")
		}
	}
	os, err := h.svc.RepeatOffenders(c.Request.Context(), auth.Caller(c), from, to, min)
	if err != nil {
		return err
	}
	out := make([]offenderJSON, 0, len(os))
	for _, o := range os {
		out = append(out, offenderJSON{Plate: o.Plate, PlateColour: string(o.PlateColour), Maker: o.Maker, FleetID: o.FleetID,
			InspectionStation: o.InspectionStation, Readings: o.Readings, ExceedingReadings: o.ExceedingReadings, CasesOpened: o.CasesOpened})
	}
	return export.Rows(c, "repeat-offenders", gin.H{"from": from, "to": to, "min": min, "items": out}, out)
}
