// Package handler is the fuel service's HTTP edge: routes, request and response bodies, the
// CSV upload, and their translation to the sampling core. Rules live in the core; this package
// only decodes, calls and encodes.
package handler

import (
	"log/slog"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/disclosure"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/notice"
	"github.com/clearsky/clearsky/services/fuel/internal/importjob"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
)

// Handler serves the fuel service's routes.
type Handler struct {
	svc  *sampling.Service
	jobs *importjob.Runner
	log  *slog.Logger
}

// New returns the fuel service's handler.
func New(svc *sampling.Service, jobs *importjob.Runner, log *slog.Logger) *Handler {
	return &Handler{svc: svc, jobs: jobs, log: log}
}

// Routes registers the routes on r, each admitting the roles named (admin always passes).
func (h *Handler) Routes(r gin.IRouter) {
	need, wrap := httpserver.Guards(h.log)
	bureau := need(auth.Bureau)
	samplers := need(auth.Station, auth.Lab, auth.Bureau)

	g := r.Group("/v1/fuel")
	g.POST("/sites", bureau, wrap(h.registerSite))
	g.GET("/sites", samplers, wrap(h.listSites))
	g.GET("/sites/:id", samplers, wrap(h.getSite))
	g.PUT("/sites/:id", bureau, wrap(h.updateSite))
	g.GET("/sites/:id/chain", bureau, wrap(h.chain))
	g.GET("/labs", bureau, wrap(h.listLabs))
	g.GET("/labs/:id", need(auth.Lab, auth.Bureau), wrap(h.getLab))
	g.PUT("/labs/:id", bureau, wrap(h.putLab))
	g.POST("/samples", samplers, wrap(h.upload))
	g.POST("/samples/import", samplers, wrap(h.importCSV))
	g.GET("/samples/imports/:id", samplers, wrap(h.getImport))
	g.GET("/samples/imports/:id/errors.csv", samplers, wrap(h.importErrors))
	g.GET("/samples", samplers, wrap(h.listSamples))
	g.GET("/samples/:id", samplers, wrap(h.getSample))
	g.GET("/samples/:id/revisions", samplers, wrap(h.revisions))
	g.POST("/samples/:id/corrections", need(auth.Lab, auth.Bureau), wrap(h.correct))
	g.GET("/cases", bureau, wrap(h.listCases))
	g.GET("/cases/:id", bureau, wrap(h.getCase))
	g.GET("/cases/:id/notice", bureau, wrap(func(c *gin.Context) error {
		n, err := h.svc.Notice(c.Request.Context(), auth.Caller(c), c.Param("id"))
		if err != nil {
			return err
		}
		return notice.Serve(c, n)
	}))
	g.POST("/cases/:id/close", bureau, wrap(h.closeCase))
	g.GET("/plans/proposal", bureau, wrap(h.proposal))
	g.GET("/coverage", bureau, wrap(h.coverage))
	g.GET("/limits", samplers, wrap(h.getLimits))
	g.GET("/disclosure", need(auth.Bureau, auth.System), wrap(func(c *gin.Context) error {
		return disclosure.Serve(c, disclosure.FuelFailures, h.svc.Disclosure)
	}))
	g.PUT("/limits", bureau, wrap(h.putLimits))
}

// boolQuery reads an optional true/false query parameter.
func boolQuery(c *gin.Context, name string) (*bool, error) {
	s := c.Query(name)
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, apperr.Invalid(name, "must be true or false")
	}
	return &b, nil
}

// intQuery reads an optional whole-number query parameter within [lo, hi].
func intQuery(c *gin.Context, name string, lo, hi int) (int, bool, error) {
	s := c.Query(name)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, false, apperr.Invalid(name, "must be a whole number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
	}
	return n, true, nil
}
