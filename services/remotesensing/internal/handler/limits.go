package handler

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
)

// addLimitVersion adds a version to the limit table, in force from its effective_from (today or
// later); the body is one version as GET /limits lists them.
func (h *Handler) addLimitVersion(c *gin.Context) error {
	var v limits.Version
	if err := request.DecodeJSON(c, &v); err != nil {
		return err
	}
	v, err := h.svc.AddLimitVersion(c.Request.Context(), auth.Caller(c), v)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, v)
	return nil
}

func (h *Handler) limits(c *gin.Context) error {
	t, err := h.svc.Limits(auth.Caller(c))
	if err != nil {
		return err
	}
	v, _ := t.InForce(time.Now())
	c.JSON(http.StatusOK, gin.H{"in_force": v.Version, "versions": t.Versions})
	return nil
}
