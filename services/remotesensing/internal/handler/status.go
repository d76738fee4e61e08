package handler

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/auth"
)

func (h *Handler) status(c *gin.Context) error {
	st, err := h.svc.StatusOf(c.Request.Context(), auth.Caller(c), c.Query("plate"), c.Query("colour"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, st)
	return nil
}
