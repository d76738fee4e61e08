package handler

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensing"
)

func (h *Handler) registerStation(c *gin.Context) error {
	var b stationBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	st, created, err := h.svc.RegisterStation(c.Request.Context(), auth.Caller(c), sensing.Station{ID: b.StationID, Name: b.Name, Lat: b.Lat,
		Lon: b.Lon, Site: b.Site, Lane: b.Lane, Device: b.Device, OperatorID: b.OperatorID, CalibratedOn: b.CalibratedOn.Time,
		CalibrationValidDays: b.CalibrationValidDays, SlopePct: b.SlopePct})
	if err != nil {
		return err
	}
	c.Header("Location", Prefix+"/stations/"+st.ID)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, h.stationOut(st))
	return nil
}

func (h *Handler) listStations(c *gin.Context) error {
	ss, err := h.svc.ListStations(c.Request.Context(), auth.Caller(c))
	if err != nil {
		return err
	}
	out := export.Each(ss, h.stationOut)
	return export.Rows(c, "remote-sensing-stations", gin.H{"items": out}, out)
}

func (h *Handler) getStation(c *gin.Context) error {
	s, err := h.svc.GetStation(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.stationOut(s))
	return nil
}

func (h *Handler) updateStation(c *gin.Context) error {
	var b stationPatchBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	p := sensing.StationPatch{Name: b.Name, Lat: b.Lat, Lon: b.Lon, Site: b.Site, Lane: b.Lane, Device: b.Device, OperatorID: b.OperatorID,
		CalibrationValidDays: b.CalibrationValidDays, SlopePct: b.SlopePct}
	if b.CalibratedOn != nil {
		p.CalibratedOn = &b.CalibratedOn.Time
	}
	s, err := h.svc.UpdateStation(c.Request.Context(), auth.Caller(c), c.Param("id"), p)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.stationOut(s))
	return nil
}
