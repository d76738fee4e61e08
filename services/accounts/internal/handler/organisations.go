package handler

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/accounts/internal/account"
)

type changeJSON struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
}

func toChange(c *account.Change) *changeJSON {
	if c == nil {
		return nil
	}
	return &changeJSON{At: c.At, By: c.By, Reason: c.Reason}
}

type orgJSON struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Roles     []string  `json:"roles"`
	KeyRoles  []string  `json:"key_roles"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

func names(rs []auth.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func toOrg(o account.Organisation) orgJSON {
	return orgJSON{ID: o.ID, Kind: string(o.Kind), Name: o.Name, Roles: names(o.Kind.Roles()), KeyRoles: names(o.Kind.KeyRoles()),
		CreatedAt: o.CreatedAt, CreatedBy: o.CreatedBy}
}

type personJSON struct {
	ID                 string      `json:"id"`
	Organisation       string      `json:"organisation"`
	Username           string      `json:"username"`
	DisplayName        string      `json:"display_name,omitempty"`
	Roles              []string    `json:"roles"`
	MustChangePassword bool        `json:"must_change_password"`
	TOTPEnabled        bool        `json:"totp_enabled"`
	Disabled           *changeJSON `json:"disabled,omitempty"`
	PasswordChangedAt  time.Time   `json:"password_changed_at"`
	CreatedAt          time.Time   `json:"created_at"`
	CreatedBy          string      `json:"created_by"`
	UpdatedAt          time.Time   `json:"updated_at"`
	UpdatedBy          string      `json:"updated_by"`
	Version            int64       `json:"version"`
}

func toPerson(p account.Person) personJSON {
	return personJSON{ID: p.ID, Organisation: p.Org, Username: p.Username, DisplayName: p.DisplayName, Roles: names(p.Roles),
		MustChangePassword: p.MustChangePassword, TOTPEnabled: p.TOTPSecret != "", Disabled: toChange(p.Disabled),
		PasswordChangedAt: p.PasswordChangedAt, CreatedAt: p.CreatedAt, CreatedBy: p.CreatedBy, UpdatedAt: p.UpdatedAt, UpdatedBy: p.UpdatedBy, Version: p.Version}
}

type personBody struct {
	Username    string   `json:"username" input:"id"`
	Password    string   `json:"password" input:"name,max=128"`
	DisplayName string   `json:"display_name"`
	Roles       []string `json:"roles" input:"id,items=11"`
}

func roles(rs []string) []auth.Role {
	out := make([]auth.Role, len(rs))
	for i, r := range rs {
		out[i] = auth.Role(r)
	}
	return out
}

func (b personBody) person() account.NewPerson {
	return account.NewPerson{Username: b.Username, Password: b.Password, DisplayName: b.DisplayName, Roles: roles(b.Roles)}
}

type orgBody struct {
	ID            string     `json:"id" input:"id"`
	Kind          string     `json:"kind" input:"id"`
	Name          string     `json:"name"`
	Administrator personBody `json:"administrator"`
}

func (h *Handler) createOrg(c *gin.Context) error {
	var b orgBody
	a, err := h.actor(c, false)
	if err != nil {
		return err
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	o, p, err := h.svc.CreateOrganisation(c.Request.Context(), a, account.NewOrganisation{ID: b.ID, Kind: b.Kind, Name: b.Name, Administrator: b.Administrator.person()})
	if err != nil {
		return err
	}
	c.Header("Location", "/v1/organisations/"+o.ID)
	c.JSON(http.StatusCreated, gin.H{"organisation": toOrg(o), "administrator": toPerson(p)})
	return nil
}

func (h *Handler) listOrgs(c *gin.Context) error {
	a, err := h.actor(c, false)
	if err != nil {
		return err
	}
	os, err := h.svc.Organisations(c.Request.Context(), a)
	if err != nil {
		return err
	}
	out := export.Each(os, toOrg)
	return export.Rows(c, "organisations", gin.H{"items": out}, out)
}

func (h *Handler) getOrg(c *gin.Context) error {
	a, err := h.actor(c, false)
	if err != nil {
		return err
	}
	o, err := h.svc.Organisation(c.Request.Context(), a, c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toOrg(o))
	return nil
}

func (h *Handler) createPerson(c *gin.Context) error {
	var b personBody
	a, err := h.actor(c, false)
	if err != nil {
		return err
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	p, err := h.svc.CreatePerson(c.Request.Context(), a, c.Param("id"), b.person())
	if err != nil {
		return err
	}
	c.Header("Location", "/v1/organisations/"+p.Org+"/people/"+p.ID)
	c.JSON(http.StatusCreated, toPerson(p))
	return nil
}

func (h *Handler) listPeople(c *gin.Context) error {
	a, err := h.actor(c, false)
	if err != nil {
		return err
	}
	ps, err := h.svc.People(c.Request.Context(), a, c.Param("id"))
	if err != nil {
		return err
	}
	out := export.Each(ps, toPerson)
	return export.Rows(c, "people-"+c.Param("id"), gin.H{"items": out}, out)
}

func (h *Handler) getPerson(c *gin.Context) error {
	a, err := h.actor(c, false)
	if err != nil {
		return err
	}
	p, err := h.svc.PersonOf(c.Request.Context(), a, c.Param("id"), c.Param("person_id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toPerson(p))
	return nil
}

type reasonBody struct {
	Reason string `json:"reason" input:"text"`
}

func (h *Handler) disable(c *gin.Context) error {
	return h.personChange(c, h.svc.Disable)
}

func (h *Handler) enable(c *gin.Context) error {
	return h.personChange(c, h.svc.Enable)
}

func (h *Handler) personChange(c *gin.Context, f func(ctx context.Context, a account.Actor, org, id, reason string) (account.Person, error)) error {
	var b reasonBody
	a, err := h.actor(c, false)
	if err != nil {
		return err
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	p, err := f(c.Request.Context(), a, c.Param("id"), c.Param("person_id"), b.Reason)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toPerson(p))
	return nil
}

type resetBody struct {
	Reason    string `json:"reason" input:"text"`
	ResetTOTP bool   `json:"reset_totp"`
}

func (h *Handler) resetPassword(c *gin.Context) error {
	var b resetBody
	a, err := h.actor(c, false)
	if err != nil {
		return err
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	p, otp, err := h.svc.ResetPassword(c.Request.Context(), a, c.Param("id"), c.Param("person_id"), b.Reason, b.ResetTOTP)
	if err != nil {
		return err
	}
	noStore(c)
	c.JSON(http.StatusOK, gin.H{"person": toPerson(p), "one_time_password": otp})
	return nil
}

// --- API keys

type keyJSON struct {
	KeyID        string      `json:"key_id"`
	Organisation string      `json:"organisation"`
	Label        string      `json:"label,omitempty"`
	Roles        []string    `json:"roles"`
	ExpiresAt    time.Time   `json:"expires_at"`
	CreatedAt    time.Time   `json:"created_at"`
	CreatedBy    string      `json:"created_by"`
	LastUsedAt   *time.Time  `json:"last_used_at,omitempty"`
	Revoked      *changeJSON `json:"revoked,omitempty"`
	Secret       string      `json:"secret,omitempty"`
}

func toKey(k account.APIKey) keyJSON {
	j := keyJSON{KeyID: k.ID, Organisation: k.Org, Label: k.Label, Roles: names(k.Roles), ExpiresAt: k.ExpiresAt, CreatedAt: k.CreatedAt,
		CreatedBy: k.CreatedBy, Revoked: toChange(k.Revoked)}
	if !k.LastUsedAt.IsZero() {
		j.LastUsedAt = &k.LastUsedAt
	}
	return j
}

type keyBody struct {
	Roles     []string  `json:"roles" input:"id,items=11"`
	ExpiresAt time.Time `json:"expires_at"`
	Label     string    `json:"label"`
}

func (h *Handler) createKey(c *gin.Context) error {
	var b keyBody
	a, err := h.actor(c, false)
	if err != nil {
		return err
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	k, err := h.svc.CreateKey(c.Request.Context(), a, c.Param("id"), account.NewKey{Roles: roles(b.Roles), ExpiresAt: b.ExpiresAt, Label: b.Label})
	if err != nil {
		return err
	}
	noStore(c)
	j := toKey(k.Key)
	j.Secret = k.Secret
	c.Header("Location", "/v1/organisations/"+k.Key.Org+"/api-keys/"+k.Key.ID)
	c.JSON(http.StatusCreated, j)
	return nil
}

func (h *Handler) listKeys(c *gin.Context) error {
	a, err := h.actor(c, false)
	if err != nil {
		return err
	}
	ks, err := h.svc.Keys(c.Request.Context(), a, c.Param("id"))
	if err != nil {
		return err
	}
	out := export.Each(ks, toKey)
	return export.Rows(c, "api-keys-"+c.Param("id"), gin.H{"items": out}, out)
}

func (h *Handler) revokeKey(c *gin.Context) error {
	a, err := h.actor(c, false)
	if err != nil {
		return err
	}
	if err := h.svc.RevokeKey(c.Request.Context(), a, c.Param("id"), c.Param("key_id")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
