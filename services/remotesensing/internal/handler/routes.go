// Package handler is the remote-sensing service's HTTP edge: routes, request and response
// bodies, and their translation to the sensing core. Rules live in the core; this package only
// decodes, calls and encodes.
package handler

import (
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/disclosure"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/notice"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensing"
)

// Prefix is where the service's routes live.
const Prefix = "/v1/remote-sensing"

// Handler serves the remote-sensing routes.
type Handler struct {
	svc *sensing.Service
	log *slog.Logger
}

// New returns the service's handler.
func New(svc *sensing.Service, log *slog.Logger) *Handler { return &Handler{svc: svc, log: log} }

// Routes registers the routes on r. Each route admits the roles that may ever use it; the core
// then decides per record (a sensor's own stations, a fleet's own vehicles, each case step's
// role).
func (h *Handler) Routes(r gin.IRouter) {
	need, wrap := httpserver.Guards(h.log)
	stationReaders := []auth.Role{auth.Bureau, auth.Police, auth.Transport, auth.Sensor}
	caseReaders := []auth.Role{auth.Bureau, auth.Police, auth.Transport, auth.Fleet, auth.Repair}

	g := r.Group(Prefix)
	g.POST("/stations", need(auth.Bureau), wrap(h.registerStation))
	g.GET("/stations", need(stationReaders...), wrap(h.listStations))
	g.GET("/stations/:id", need(stationReaders...), wrap(h.getStation))
	g.PATCH("/stations/:id", need(auth.Bureau), wrap(h.updateStation))
	g.POST("/measurements", need(auth.Sensor, auth.Bureau), wrap(h.upload))
	g.GET("/measurements", need(auth.Bureau, auth.Police, auth.Transport, auth.Sensor, auth.Fleet), wrap(h.listReadings))
	g.GET("/cases", need(caseReaders...), wrap(h.listCases))
	g.GET("/cases/:id", need(caseReaders...), wrap(h.getCase))
	g.GET("/cases/:id/notice", need(auth.Bureau, auth.Police, auth.Transport, auth.Fleet), wrap(func(c *gin.Context) error {
		n, err := h.svc.Notice(c.Request.Context(), auth.Caller(c), c.Param("id"))
		if err != nil {
			return err
		}
		return notice.Serve(c, n)
	}))
	g.POST("/cases/:id/transitions", need(auth.Bureau, auth.Police, auth.Transport), wrap(h.transition))
	g.POST("/cases/:id/repair-shop", need(auth.Fleet, auth.Transport), wrap(h.chooseRepairShop))
	g.POST("/cases/:id/repair-report", need(auth.Repair), wrap(h.reportRepair))
	g.GET("/reports/exceedance", need(auth.Bureau, auth.Transport), wrap(h.exceedanceReport))
	g.GET("/reports/repeat-offenders", need(auth.Bureau, auth.Transport), wrap(h.repeatOffenders))
	g.GET("/status", need(auth.Police, auth.Bureau, auth.System), wrap(h.status))
	g.GET("/limits", need(auth.Bureau, auth.Police, auth.Transport, auth.Sensor), wrap(h.limits))
	g.GET("/disclosure", need(auth.Bureau, auth.System), wrap(func(c *gin.Context) error {
		return disclosure.Serve(c, disclosure.VehicleExceedances, h.svc.Disclosure)
	}))
	g.POST("/limits/versions", need(auth.Bureau), wrap(h.addLimitVersion))
}
