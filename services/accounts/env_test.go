package accounts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/services/accounts"
)

// env is an accounts service on loopback over real FerretDB and Redis, with a clock the test
// may move.
type env struct {
	*testenv.API
	db     *mongo.Database
	rdb    *redis.Client
	prefix string
	svc    *accounts.Service

	mu     sync.Mutex
	offset time.Duration
}

func newEnv(t *testing.T, cfg accounts.Config) *env {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	db := testenv.Mongo(t)
	deps := testenv.Platform(t, accounts.Name, db, rdb, prefix)
	// The tests give each client its own address (X-Forwarded-For from loopback), so one
	// test's failures do not lock another out by address.
	deps.TrustedProxies = []string{"127.0.0.1", "::1"}
	svc, err := accounts.New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, rdb: rdb, prefix: prefix, svc: svc}
	svc.SetClock(e.now)
	e.API = testenv.Serve(t, accounts.Name, deps, svc.Routes)
	return e
}

func (e *env) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return time.Now().Add(e.offset)
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.offset += d
	e.mu.Unlock()
}

// verifier is another service's token keys: the accounts JWKS fetched over HTTP, and the
// revocations announced on Redis.
func (e *env) verifier(t *testing.T) *auth.Keys {
	t.Helper()
	k, err := auth.NewKeys([]byte(testenv.Secret))
	if err != nil {
		t.Fatal(err)
	}
	k.UseKeySource(auth.NewJWKS(e.URL+platform.JWKSPath, nil))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go k.Revocations().Listen(ctx, e.rdb, e.prefix, nil)
	time.Sleep(100 * time.Millisecond) // subscribed
	return k
}

func (e *env) count(t *testing.T, coll string, filter bson.D) int64 {
	t.Helper()
	n, err := e.db.Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// answer is a response with its headers.
type answer struct {
	testenv.Response
	Header http.Header
}

// client is a browser (a cookie jar) or a script (a bearer credential) at one client address.
type client struct {
	e      *env
	http   *http.Client
	csrf   string
	bearer string
	addr   string
	// secret is the person's TOTP secret once enrolled; step the last step a code was sent for.
	secret string
	step   int64
}

func (e *env) client(addr string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, http: &http.Client{Jar: jar}, addr: addr}
}

// do sends body (nil, a string as is, or JSON) with the client's credentials; hdr are extra
// header pairs.
func (c *client) do(t *testing.T, method, path string, body any, hdr ...string) answer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != "" {
		req.Header.Set("X-Forwarded-For", c.addr)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := answer{Response: testenv.Response{Status: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Raw: string(raw)}, Header: res.Header}
	_ = json.Unmarshal(raw, &a.Body)
	return a
}

func (c *client) cookie(name string) *http.Cookie {
	u, _ := url.Parse(c.e.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// code is a TOTP code for the step after the last one sent (a code is taken once).
func (c *client) code(t *testing.T) string {
	t.Helper()
	now := c.e.now()
	step := now.Unix() / 30
	if step <= c.step {
		step = c.step + 1
	}
	c.step = step
	code, err := totp.GenerateCode(c.secret, time.Unix(step*30, 0))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func want(t *testing.T, a answer, status int, what string) {
	t.Helper()
	if a.Status != status {
		t.Fatalf("%s: %d %s, want %d", what, a.Status, a.Raw, status)
	}
	if status >= 400 && a.ContentType != "application/problem+json" {
		t.Fatalf("%s: content type %q, want problem+json", what, a.ContentType)
	}
}

// signIn signs username in from c; the CSRF token is kept for the requests after.
func (c *client) signIn(t *testing.T, username, password, code string) answer {
	t.Helper()
	body := map[string]any{"username": username, "password": password}
	if code != "" {
		body["totp"] = code
	}
	a := c.do(t, "POST", "/v1/auth/sessions", body)
	if a.Status == http.StatusCreated {
		c.csrf, _ = a.Body["csrf_token"].(string)
	}
	return a
}

// newPassword is the password a test person chooses for itself.
func newPassword(username string) string {
	return "tangerine kettle " + strings.ToUpper(username[:2]) + " 91"
}

// onboard signs username in with a one-time password and takes the steps asked: a new password,
// and for administrators a second factor.
func (e *env) onboard(t *testing.T, addr, username, oneTime string) *client {
	t.Helper()
	c := e.client(addr)
	a := c.signIn(t, username, oneTime, "")
	want(t, a, http.StatusCreated, "first sign-in of "+username)
	req, _ := a.Body["required"].([]any)
	for _, r := range req {
		switch r {
		case "change_password":
			want(t, c.do(t, "POST", "/v1/auth/password", map[string]any{"current_password": oneTime, "new_password": newPassword(username)}), http.StatusNoContent, "change password")
		case "enrol_totp":
			en := c.do(t, "POST", "/v1/auth/totp", nil)
			want(t, en, http.StatusCreated, "begin TOTP")
			c.secret = en.Body["secret"].(string)
			want(t, c.do(t, "POST", "/v1/auth/totp/confirm", map[string]any{"code": c.code(t)}), http.StatusOK, "confirm TOTP")
		}
	}
	me := c.do(t, "GET", "/v1/auth/sessions/current", nil)
	if r, _ := me.Body["required"].([]any); me.Status != 200 || len(r) != 0 {
		t.Fatalf("after onboarding %s: %d %s", username, me.Status, me.Raw)
	}
	return c
}

// bureauAdmin is the administrator the first start made, onboarded.
func (e *env) bureauAdmin(t *testing.T) *client {
	t.Helper()
	made, user, otp, err := e.svc.Bootstrap(context.Background())
	if err != nil || !made || user != "admin" {
		t.Fatalf("bootstrap = %v %q %v", made, user, err)
	}
	return e.onboard(t, "10.0.0.1", user, otp)
}

// token exchanges c's session (or bearer API key) for an access token.
func (c *client) token(t *testing.T, role string) (string, answer) {
	t.Helper()
	var body any
	if role != "" {
		body = map[string]any{"role": role}
	}
	a := c.do(t, "POST", "/v1/auth/token", body)
	tok, _ := a.Body["access_token"].(string)
	return tok, a
}
