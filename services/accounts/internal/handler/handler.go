// Package handler is the accounts service's HTTP edge: routes, bodies, the session and CSRF
// cookies, and their translation to the account core. Rules live in the core.
package handler

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/accounts/internal/account"
)

// The cookies and the header of a browser session. The session cookie is HttpOnly; the CSRF
// cookie is readable by the console's script, which sends its value back in CSRFHeader on every
// request that changes something (a cross-site page can neither read it nor set the header).
const (
	SessionCookie = "cs_session"
	CSRFCookie    = "cs_csrf"
	CSRFHeader    = "X-CSRF-Token"
)

// SecureCookies says when cookies carry the Secure attribute.
type SecureCookies int

// When cookies are Secure.
const (
	SecureAuto   SecureCookies = iota // when the request came over TLS (itself or per X-Forwarded-Proto)
	SecureAlways                      // always (a deployment behind a TLS edge)
	SecureNever                       // never (plain-HTTP development)
)

// Handler serves the accounts routes.
type Handler struct {
	svc    *account.Service
	log    *slog.Logger
	secure SecureCookies
}

// New returns the accounts handler.
func New(svc *account.Service, log *slog.Logger, secure SecureCookies) *Handler {
	return &Handler{svc: svc, log: log, secure: secure}
}

// Routes registers the accounts routes on r. Who may call each is decided by the core from the
// person signed in (the session cookie or an access token of a person): the routes take no
// auth.Require, since an organisation's administrator is a person, not a token role.
func (h *Handler) Routes(r gin.IRouter) {
	_, wrap := httpserver.Guards(h.log)
	r.GET("/.well-known/jwks.json", wrap(h.jwks))
	a := r.Group("/v1/auth")
	a.POST("/sessions", wrap(h.signIn))
	a.DELETE("/sessions", wrap(h.signOutEverywhere))
	a.GET("/sessions/current", wrap(h.current))
	a.DELETE("/sessions/current", wrap(h.signOut))
	a.POST("/password", wrap(h.changePassword))
	a.POST("/totp", wrap(h.beginTOTP))
	a.POST("/totp/confirm", wrap(h.confirmTOTP))
	a.POST("/token", wrap(h.token))
	o := r.Group("/v1/organisations")
	o.POST("", wrap(h.createOrg))
	o.GET("", wrap(h.listOrgs))
	o.GET("/:id", wrap(h.getOrg))
	o.POST("/:id/people", wrap(h.createPerson))
	o.GET("/:id/people", wrap(h.listPeople))
	o.GET("/:id/people/:person_id", wrap(h.getPerson))
	o.POST("/:id/people/:person_id/disable", wrap(h.disable))
	o.POST("/:id/people/:person_id/enable", wrap(h.enable))
	o.POST("/:id/people/:person_id/password-reset", wrap(h.resetPassword))
	o.POST("/:id/api-keys", wrap(h.createKey))
	o.GET("/:id/api-keys", wrap(h.listKeys))
	o.DELETE("/:id/api-keys/:key_id", wrap(h.revokeKey))
}

func unsafe(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// actor finds the person calling: by a bearer access token when there is one, else by the
// session cookie (with the CSRF header on an unsafe method). restricted admits a session with
// steps pending.
func (h *Handler) actor(c *gin.Context, restricted bool) (account.Actor, error) {
	cr := account.Credentials{Address: c.ClientIP(), Unsafe: unsafe(c.Request.Method), Restricted: restricted, CSRFToken: c.GetHeader(CSRFHeader)}
	if p, ok := auth.FromContext(c.Request.Context()); ok {
		cr.Token = &p
	} else if v, err := c.Cookie(SessionCookie); err == nil {
		cr.Cookie = v
	}
	return h.svc.Actor(c.Request.Context(), cr)
}

func (h *Handler) isSecure(c *gin.Context) bool {
	switch h.secure {
	case SecureAlways:
		return true
	case SecureNever:
		return false
	}
	return c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https")
}

func (h *Handler) setCookie(c *gin.Context, name, value string, maxAge int, httpOnly bool) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: httpOnly,
		Secure: h.isSecure(c), SameSite: http.SameSiteStrictMode})
}

func (h *Handler) clearCookies(c *gin.Context) {
	h.setCookie(c, SessionCookie, "", -1, true)
	h.setCookie(c, CSRFCookie, "", -1, false)
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
}

// optionalBody decodes a JSON body into v when there is one.
func optionalBody(c *gin.Context, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10))
	if err != nil {
		return apperr.Invalid("body", "the body is larger than 64 KiB")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return request.Decode(bytes.NewReader(b), v)
}

func (h *Handler) jwks(c *gin.Context) error {
	set, err := h.svc.JWKS(c.Request.Context())
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "public, max-age=60")
	c.JSON(http.StatusOK, set)
	return nil
}

// --- sessions

type signInBody struct {
	Username string `json:"username" input:"id"`
	Password string `json:"password" input:"name,max=128"`
	TOTP     string `json:"totp" input:"id,max=10"`
}

type sessionJSON struct {
	ID            string    `json:"id"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
}

type meJSON struct {
	Session      sessionJSON `json:"session"`
	Person       personJSON  `json:"person"`
	Organisation orgJSON     `json:"organisation"`
	// Required lists what must be done before anything else: change_password, enrol_totp.
	Required  []string `json:"required"`
	CSRFToken string   `json:"csrf_token,omitempty"`
}

func (h *Handler) me(s account.Session, p account.Person, o account.Organisation) meJSON {
	req := p.Steps()
	if req == nil {
		req = []string{}
	}
	return meJSON{Session: sessionJSON{ID: s.ID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, IdleExpiresAt: s.IdleEnd(h.svc.Config().IdleTimeout)},
		Person: toPerson(p), Organisation: toOrg(o), Required: req}
}

func (h *Handler) signIn(c *gin.Context) error {
	var b signInBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	noStore(c)
	in, err := h.svc.SignIn(c.Request.Context(), account.SignInRequest{Username: b.Username, Password: b.Password, TOTP: b.TOTP,
		Address: c.ClientIP(), UserAgent: c.GetHeader("User-Agent")})
	if err != nil {
		return err
	}
	maxAge := int(h.svc.Config().SessionLifetime / time.Second)
	h.setCookie(c, SessionCookie, in.Cookie, maxAge, true)
	h.setCookie(c, CSRFCookie, in.CSRFToken, maxAge, false)
	out := h.me(in.Session, in.Person, in.Org)
	out.CSRFToken = in.CSRFToken
	c.Header("Location", "/v1/auth/sessions/current")
	c.JSON(http.StatusCreated, out)
	return nil
}

func (h *Handler) sessionActor(c *gin.Context) (account.Actor, error) {
	a, err := h.actor(c, true)
	if err == nil && a.Session == nil {
		err = fmt.Errorf("this route is about a browser session: send the session cookie, not a bearer token: %w", apperr.ErrUnauthenticated)
	}
	return a, err
}

func (h *Handler) current(c *gin.Context) error {
	a, err := h.sessionActor(c)
	if err != nil {
		return err
	}
	noStore(c)
	c.JSON(http.StatusOK, h.me(*a.Session, a.Person, a.Org))
	return nil
}

func (h *Handler) signOut(c *gin.Context) error {
	a, err := h.sessionActor(c)
	if err != nil {
		return err
	}
	if err := h.svc.SignOut(c.Request.Context(), a); err != nil {
		return err
	}
	h.clearCookies(c)
	c.Status(http.StatusNoContent)
	return nil
}

func (h *Handler) signOutEverywhere(c *gin.Context) error {
	a, err := h.actor(c, true)
	if err != nil {
		return err
	}
	if err := h.svc.SignOutEverywhere(c.Request.Context(), a); err != nil {
		return err
	}
	h.clearCookies(c)
	c.Status(http.StatusNoContent)
	return nil
}

type passwordBody struct {
	CurrentPassword string `json:"current_password" input:"name,max=128"`
	NewPassword     string `json:"new_password" input:"name,max=128"`
}

func (h *Handler) changePassword(c *gin.Context) error {
	var b passwordBody
	a, err := h.actor(c, true)
	if err != nil {
		return err
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	if _, err := h.svc.ChangePassword(c.Request.Context(), a, b.CurrentPassword, b.NewPassword); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (h *Handler) beginTOTP(c *gin.Context) error {
	a, err := h.actor(c, true)
	if err != nil {
		return err
	}
	e, err := h.svc.BeginTOTP(c.Request.Context(), a)
	if err != nil {
		return err
	}
	noStore(c)
	c.JSON(http.StatusCreated, gin.H{"secret": e.Secret, "otpauth_url": e.URL})
	return nil
}

type codeBody struct {
	Code string `json:"code" input:"id,max=10"`
}

func (h *Handler) confirmTOTP(c *gin.Context) error {
	var b codeBody
	a, err := h.actor(c, true)
	if err != nil {
		return err
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	p, err := h.svc.ConfirmTOTP(c.Request.Context(), a, b.Code)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toPerson(p))
	return nil
}

type tokenBody struct {
	Role string `json:"role" input:"id"`
}

// token exchanges an API key (Authorization: Bearer csk_...) or the session cookie for an
// access token, answered as an OAuth 2.0 token response.
func (h *Handler) token(c *gin.Context) error {
	var b tokenBody
	if err := optionalBody(c, &b); err != nil {
		return err
	}
	noStore(c)
	ctx := c.Request.Context()
	var t account.Token
	scheme, cred, _ := strings.Cut(c.GetHeader("Authorization"), " ")
	switch cred = strings.TrimSpace(cred); {
	case strings.EqualFold(scheme, "Bearer") && auth.IsAPIKey(cred):
		var err error
		if t, err = h.svc.ExchangeKey(ctx, cred, b.Role, c.ClientIP()); err != nil {
			return err
		}
	case c.GetHeader("Authorization") != "":
		return fmt.Errorf("an access token is not exchanged for another: send the session cookie or an API key: %w", apperr.ErrUnauthenticated)
	default:
		a, err := h.actor(c, false)
		if err != nil {
			return err
		}
		if t, err = h.svc.ExchangeSession(ctx, a, b.Role); err != nil {
			return err
		}
	}
	c.JSON(http.StatusOK, gin.H{"access_token": t.AccessToken, "token_type": "Bearer", "expires_in": t.ExpiresIn, "scope": string(t.Role), "tenant": t.Tenant})
	return nil
}
