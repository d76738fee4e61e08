// Package handler is the muck service's HTTP edge: routes, request and response bodies, and
// their translation to the permit core. Rules live in the core; this package only decodes,
// calls and encodes.
package handler

import (
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/disclosure"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

// Handler serves the muck routes.
type Handler struct {
	svc *permit.Service
	log *slog.Logger
}

// New returns the muck handler.
func New(svc *permit.Service, log *slog.Logger) *Handler { return &Handler{svc: svc, log: log} }

// Routes registers the muck routes on r, each with the roles it admits (admin passes all).
func (h *Handler) Routes(r gin.IRouter) {
	need, wrap := httpserver.Guards(h.log)
	act := func(a permit.Action) gin.HandlerFunc { return wrap(func(c *gin.Context) error { return h.act(c, a) }) }
	siteReaders := []auth.Role{auth.Construction, auth.Bureau, auth.Police, auth.Fleet}

	g := r.Group("/v1/muck")
	g.POST("/sites", need(auth.Construction), wrap(h.registerSite))
	g.GET("/sites", need(siteReaders...), wrap(h.listSites))
	g.GET("/sites/:id", need(siteReaders...), wrap(h.getSite))

	g.POST("/permits", need(auth.Fleet), wrap(h.apply))
	g.GET("/permits", need(auth.Fleet, auth.Construction, auth.Bureau, auth.Police), wrap(h.listPermits))
	g.GET("/permits/:id", need(auth.Fleet, auth.Construction, auth.Bureau, auth.Police), wrap(h.getPermit))
	for _, a := range []permit.Action{permit.Approve, permit.Refuse, permit.Suspend, permit.Resume, permit.Revoke} {
		g.POST("/permits/:id/"+string(a), need(auth.Construction), act(a))
	}
	g.POST("/permits/:id/reinstate", need(auth.Bureau), act(permit.Reinstate))

	g.POST("/passes", need(auth.Police), wrap(h.issuePass))
	g.GET("/passes", need(auth.Police, auth.Bureau, auth.Construction, auth.Fleet), wrap(h.listPasses))
	g.GET("/passes/:id", need(auth.Police, auth.Bureau, auth.Construction, auth.Fleet), wrap(h.getPass))
	g.POST("/passes/:id/cancel", need(auth.Police), wrap(h.cancelPass))
	g.GET("/vehicles/:vin/allowed", need(auth.Police, auth.Bureau, auth.Construction, auth.System), wrap(h.allowed))

	g.POST("/violations", need(auth.Police, auth.Bureau), wrap(h.recordViolation))
	g.GET("/violations", need(auth.Police, auth.Bureau, auth.Construction, auth.Fleet), wrap(h.listViolations))
	g.GET("/violations/:id", need(auth.Police, auth.Bureau, auth.Construction, auth.Fleet), wrap(h.getViolation))
	g.GET("/reports/sites", need(auth.Construction, auth.Bureau), wrap(h.siteReport))

	g.GET("/status", need(auth.Police, auth.Bureau, auth.System), wrap(h.status))
	g.GET("/disclosure", need(auth.Bureau, auth.System), wrap(func(c *gin.Context) error {
		return disclosure.Serve(c, disclosure.MuckViolations, h.svc.Disclosure)
	}))
}
