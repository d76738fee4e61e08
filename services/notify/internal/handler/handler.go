// Package handler is the notification service's HTTP edge: an organisation's webhook
// subscriptions, their delivery logs and dead letters, and a person's inbox.
package handler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/notify/internal/notice"
)

// Handler serves the notification routes.
type Handler struct {
	svc *notice.Service
	log *slog.Logger
}

// New returns the handler.
func New(svc *notice.Service, log *slog.Logger) *Handler { return &Handler{svc: svc, log: log} }

// everyone are the roles that have an organisation (events.Key): every role but system.
var everyone = []auth.Role{auth.Police, auth.Fleet, auth.Station, auth.Lab, auth.Bureau, auth.Construction, auth.Transport, auth.Repair, auth.Sensor}

// Routes registers the routes on r.
func (h *Handler) Routes(r gin.IRouter) {
	need, wrap := httpserver.Guards(h.log)
	w := r.Group("/v1/organisations/:id/webhooks", need(everyone...))
	w.POST("", wrap(h.subscribe))
	w.GET("", wrap(h.list))
	w.GET("/:sub", wrap(h.get))
	w.DELETE("/:sub", wrap(h.unsubscribe))
	w.GET("/:sub/deliveries", wrap(h.deliveries))
	w.POST("/:sub/deliveries/:delivery/replay", wrap(h.replay))
	w.POST("/:sub/dead-letters/replay", wrap(h.replayDead))
	n := r.Group("/v1/notifications", need(everyone...))
	n.GET("", wrap(h.inbox))
	n.GET("/unread-count", wrap(h.unread))
	n.POST("/read", wrap(h.markRead))
}

type subscribeBody struct {
	URL    string   `json:"url,omitempty" input:"id,max=2048"`
	Email  string   `json:"email,omitempty" input:"id,max=254"`
	Events []string `json:"events" input:"id,items=50"`
}

type subscriptionJSON struct {
	ID        string        `json:"id"`
	Org       string        `json:"organisation"`
	URL       string        `json:"url,omitempty"`
	Email     string        `json:"email,omitempty"`
	Events    []events.Type `json:"events"`
	Secret    string        `json:"secret,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
	CreatedBy string        `json:"created_by"`
}

func subOut(s notice.Subscription) subscriptionJSON {
	return subscriptionJSON{ID: s.ID, Org: s.Org, URL: s.URL, Email: s.Email, Events: s.Events, CreatedAt: s.CreatedAt, CreatedBy: s.CreatedBy}
}

func (h *Handler) subscribe(c *gin.Context) error {
	var b subscribeBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	s, err := h.svc.Subscribe(c.Request.Context(), auth.Caller(c), c.Param("id"), notice.NewSubscription{URL: b.URL, Email: b.Email, Events: b.Events})
	if err != nil {
		return err
	}
	j := subOut(s)
	j.Secret = s.Secret // this once
	c.Header("Cache-Control", "no-store")
	httpserver.Created(c, true, "/v1/organisations/"+s.Org+"/webhooks/"+s.ID, j)
	return nil
}

func (h *Handler) list(c *gin.Context) error {
	if err := request.OnlyQuery(c, export.Param); err != nil {
		return err
	}
	ss, err := h.svc.Subscriptions(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	out := export.Each(ss, subOut)
	return export.Rows(c, "webhooks-"+c.Param("id"), gin.H{"items": out}, out)
}

func (h *Handler) get(c *gin.Context) error {
	if err := request.OnlyQuery(c); err != nil {
		return err
	}
	s, err := h.svc.Subscription(c.Request.Context(), auth.Caller(c), c.Param("id"), c.Param("sub"), false)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, subOut(s))
	return nil
}

func (h *Handler) unsubscribe(c *gin.Context) error {
	if err := h.svc.Unsubscribe(c.Request.Context(), auth.Caller(c), c.Param("id"), c.Param("sub")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

type deliveryJSON struct {
	ID          string               `json:"id"`
	EventID     string               `json:"event_id"`
	EventType   events.Type          `json:"event_type"`
	State       notice.DeliveryState `json:"state"`
	Attempts    int                  `json:"attempts"`
	LastStatus  int                  `json:"last_status,omitempty"`
	LastError   string               `json:"last_error,omitempty"`
	CreatedAt   time.Time            `json:"created_at"`
	NextAttempt time.Time            `json:"next_attempt_at,omitzero"`
	DeliveredAt time.Time            `json:"delivered_at,omitzero"`
}

func deliveryOut(d notice.Delivery) deliveryJSON {
	return deliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, State: d.State, Attempts: d.Attempts, LastStatus: d.LastStatus,
		LastError: d.LastError, CreatedAt: d.CreatedAt, NextAttempt: d.NextAttempt, DeliveredAt: d.DeliveredAt}
}

func (h *Handler) deliveries(c *gin.Context) error {
	if err := request.OnlyQuery(c, "state", "limit", "cursor", export.Param); err != nil {
		return err
	}
	caller, org, sub, state := auth.Caller(c), c.Param("id"), c.Param("sub"), notice.DeliveryState(c.Query("state"))
	return export.List(c, "deliveries-"+sub, func(ctx context.Context, after string, limit int) ([]deliveryJSON, string, error) {
		ds, err := h.svc.Deliveries(ctx, caller, org, sub, state, after, limit)
		if err != nil {
			return nil, "", err
		}
		next := ""
		if len(ds) == limit {
			next = request.EncodeCursor(ds[len(ds)-1].ID)
		}
		return export.Each(ds, deliveryOut), next, nil
	})
}

func (h *Handler) replay(c *gin.Context) error {
	d, err := h.svc.Replay(c.Request.Context(), auth.Caller(c), c.Param("id"), c.Param("sub"), c.Param("delivery"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, deliveryOut(d))
	return nil
}

func (h *Handler) replayDead(c *gin.Context) error {
	n, err := h.svc.ReplayDead(c.Request.Context(), auth.Caller(c), c.Param("id"), c.Param("sub"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, gin.H{"replayed": n})
	return nil
}

type notificationJSON struct {
	events.Event
	Summary string `json:"summary"`
	Read    bool   `json:"read"`
}

func notificationOut(n notice.Notification) notificationJSON {
	return notificationJSON{Event: n.Event, Summary: n.Summary, Read: n.Read}
}

// inbox is the person's inbox, newest first. It answers an ETag made of the unread count and
// the first page's ids, and 304 to If-None-Match with it: the console polls it cheaply.
func (h *Handler) inbox(c *gin.Context) error {
	if err := request.OnlyQuery(c, "unread", "limit", "cursor", export.Param); err != nil {
		return err
	}
	unread := false
	switch c.Query("unread") {
	case "", "false":
	case "true":
		unread = true
	default:
		return apperr.Invalid("unread", "must be true or false")
	}
	if f, err := export.Requested(c); err != nil || f != export.JSON {
		if err != nil {
			return err
		}
		caller := auth.Caller(c)
		return export.List(c, "notifications", func(ctx context.Context, after string, limit int) ([]notificationJSON, string, error) {
			ns, next, err := h.svc.Inbox(ctx, caller, unread, after, limit)
			if err != nil {
				return nil, "", err
			}
			return export.Each(ns, notificationOut), request.EncodeCursor(next), nil
		})
	}
	limit, after, err := request.Page(c)
	if err != nil {
		return err
	}
	ctx, p := c.Request.Context(), auth.Caller(c)
	count, err := h.svc.Unread(ctx, p)
	if err != nil {
		return err
	}
	ns, next, err := h.svc.Inbox(ctx, p, unread, after, limit)
	if err != nil {
		return err
	}
	out := make([]notificationJSON, len(ns))
	sum := sha256.New()
	fmt.Fprintf(sum, "%d|%v|%s|%d", count, unread, after, limit)
	for i, n := range ns {
		out[i] = notificationOut(n)
		fmt.Fprintf(sum, "|%s:%v", n.ID, n.Read)
	}
	etag := `W/"` + hex.EncodeToString(sum.Sum(nil)[:12]) + `"`
	c.Header("ETag", etag)
	c.Header("Cache-Control", "private, no-cache")
	if c.GetHeader("If-None-Match") == etag {
		c.Status(http.StatusNotModified)
		return nil
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "unread": count, "next_cursor": request.EncodeCursor(next)})
	return nil
}

func (h *Handler) unread(c *gin.Context) error {
	if err := request.OnlyQuery(c); err != nil {
		return err
	}
	n, err := h.svc.Unread(c.Request.Context(), auth.Caller(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"unread": n})
	return nil
}

type readBody struct {
	IDs []string `json:"ids" input:"id,items=500"`
}

func (h *Handler) markRead(c *gin.Context) error {
	var b readBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	ctx, p := c.Request.Context(), auth.Caller(c)
	if err := h.svc.MarkRead(ctx, p, b.IDs); err != nil {
		return err
	}
	n, err := h.svc.Unread(ctx, p)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"unread": n})
	return nil
}
