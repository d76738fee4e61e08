package accounts_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/services/accounts"
)

// world is a platform with the bureau's administrator, two fleets with an administrator each,
// and a driver-manager of fleet A.
type world struct {
	*env
	bureau, adminA, adminB, zhang *client
	zhangID, adminBID             string
}

func newWorld(t *testing.T) *world {
	e := newEnv(t, accounts.Config{})
	w := &world{env: e, bureau: e.bureauAdmin(t)}
	for _, org := range []struct{ id, admin, addr string }{{"fleet-a", "a.admin", "10.0.1.1"}, {"fleet-b", "b.admin", "10.0.2.1"}} {
		a := w.bureau.do(t, "POST", "/v1/organisations", map[string]any{"id": org.id, "kind": "fleet", "name": "Fleet " + org.id,
			"administrator": map[string]any{"username": org.admin, "password": "initial-" + org.id + "-secret"}})
		want(t, a, http.StatusCreated, "create "+org.id)
		c := e.onboard(t, org.addr, org.admin, "initial-"+org.id+"-secret")
		if org.id == "fleet-a" {
			w.adminA = c
		} else {
			w.adminB = c
			w.adminBID = a.Body["administrator"].(map[string]any)["id"].(string)
		}
	}
	a := w.adminA.do(t, "POST", "/v1/organisations/fleet-a/people", map[string]any{"username": "zhang.wei", "password": "given-by-admin-42", "roles": []string{"fleet"}})
	want(t, a, http.StatusCreated, "create zhang.wei")
	w.zhangID = a.Body["id"].(string)
	w.zhang = e.onboard(t, "10.0.1.2", "zhang.wei", "given-by-admin-42")
	return w
}

func TestSignIn(t *testing.T) {
	w := newWorld(t)

	t.Run("cookies: HttpOnly session, SameSite Strict, Secure behind TLS", func(t *testing.T) {
		c := w.client("10.0.3.1")
		a := c.signIn(t, "zhang.wei", newPassword("zhang.wei"), "")
		want(t, a, http.StatusCreated, "sign in")
		set := strings.Join(a.Header.Values("Set-Cookie"), "\n")
		if !strings.Contains(set, "cs_session=") || !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Strict") || strings.Contains(set, "Secure") {
			t.Fatalf("cookies over plain HTTP: %s", set)
		}
		if a.Header.Get("Cache-Control") != "no-store" || a.Body["csrf_token"] == "" {
			t.Fatalf("answer: %v %s", a.Header, a.Raw)
		}
		tls := w.client("10.0.3.1").do(t, "POST", "/v1/auth/sessions", map[string]any{"username": "zhang.wei", "password": newPassword("zhang.wei")}, "X-Forwarded-Proto", "https")
		if set := strings.Join(tls.Header.Values("Set-Cookie"), "\n"); !strings.Contains(set, "Secure") {
			t.Fatalf("cookies behind TLS: %s", set)
		}
	})

	t.Run("a wrong password and an unknown account answer the same, in similar time", func(t *testing.T) {
		c := w.client("10.0.4.1")
		var wrongAns, unknownAns answer
		var wrongT, unknownT time.Duration
		for range 3 {
			start := time.Now()
			wrongAns = c.signIn(t, "zhang.wei", "not-his-password-1", "")
			wrongT += time.Since(start)
			start = time.Now()
			unknownAns = c.signIn(t, "nobody.here", "not-his-password-1", "")
			unknownT += time.Since(start)
		}
		want(t, wrongAns, http.StatusUnauthorized, "wrong password")
		want(t, unknownAns, http.StatusUnauthorized, "unknown account")
		if wrongAns.Body["detail"] != unknownAns.Body["detail"] || wrongAns.Body["type"] != unknownAns.Body["type"] {
			t.Fatalf("answers differ:\n%s\n%s", wrongAns.Raw, unknownAns.Raw)
		}
		if unknownT < wrongT/3 || unknownT > wrongT*3 {
			t.Fatalf("unknown account took %v, a wrong password %v: the difference tells accounts apart", unknownT, wrongT)
		}
		if n := w.count(t, "audit_log", bson.D{{Key: "action", Value: "sign_in.failed"}, {Key: "subject", Value: "nobody.here"}}); n != 3 {
			t.Fatalf("%d failures of the unknown account audited, want 3", n)
		}
		// A success clears the account's failures.
		want(t, c.signIn(t, "zhang.wei", newPassword("zhang.wei"), ""), http.StatusCreated, "right password")
	})

	t.Run("lockout with back-off per account, for known and unknown names alike", func(t *testing.T) {
		for _, name := range []string{"zhang.wei", "nobody.else"} {
			c := w.client("10.0.5." + string(rune('1'+len(name)%5)))
			for i := range accountThreshold() {
				want(t, c.signIn(t, name, "wrong-password-no-"+string(rune('a'+i)), ""), http.StatusUnauthorized, "failure")
			}
			a := c.signIn(t, name, newPassword("zhang.wei"), "")
			want(t, a, http.StatusTooManyRequests, name+" locked")
			if ra := a.Header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Fatalf("no Retry-After: %v", a.Header)
			}
			w.advance(61 * time.Second)
			a = c.signIn(t, name, "wrong-password-again", "")
			want(t, a, http.StatusUnauthorized, "after the first lock")
			a = c.signIn(t, name, newPassword("zhang.wei"), "")
			want(t, a, http.StatusTooManyRequests, "a failure after the lock locks for longer")
			w.advance(121 * time.Second)
		}
		want(t, w.client("10.0.5.9").signIn(t, "zhang.wei", newPassword("zhang.wei"), ""), http.StatusCreated, "after the back-off")
		if n := w.count(t, "audit_log", bson.D{{Key: "action", Value: "sign_in.lockout"}, {Key: "subject", Value: "zhang.wei"}}); n == 0 {
			t.Fatal("the lockout is not audited")
		}
	})

	t.Run("lockout per client address", func(t *testing.T) {
		c := w.client("10.0.6.1")
		for i := range addressThreshold() {
			want(t, c.signIn(t, "spray-"+string(rune('a'+i%26))+string(rune('a'+i/26)), "wrong-password-x1", ""), http.StatusUnauthorized, "spray")
		}
		want(t, c.signIn(t, "zhang.wei", newPassword("zhang.wei"), ""), http.StatusTooManyRequests, "the address is locked")
		want(t, w.client("10.0.6.2").signIn(t, "zhang.wei", newPassword("zhang.wei"), ""), http.StatusCreated, "another address")
	})

	t.Run("administrators need their TOTP code; codes are taken once", func(t *testing.T) {
		c := w.client("10.0.7.1")
		c.secret, c.step = w.adminA.secret, w.adminA.step
		a := c.signIn(t, "a.admin", newPassword("a.admin"), "")
		want(t, a, http.StatusUnauthorized, "no code")
		if !strings.Contains(a.Body["detail"].(string), "totp") {
			t.Fatalf("detail %q does not ask for the code", a.Body["detail"])
		}
		want(t, c.signIn(t, "a.admin", newPassword("a.admin"), "000000"), http.StatusUnauthorized, "wrong code")
		code := c.code(t)
		want(t, c.signIn(t, "a.admin", newPassword("a.admin"), code), http.StatusCreated, "with the code")
		want(t, w.client("10.0.7.2").signIn(t, "a.admin", newPassword("a.admin"), code), http.StatusUnauthorized, "the same code again")
		w.adminA.step = c.step
		// A person who is no administrator signs in without a second factor.
		want(t, w.client("10.0.7.3").signIn(t, "zhang.wei", newPassword("zhang.wei"), ""), http.StatusCreated, "no TOTP for others")
	})

	t.Run("CSRF: a change with the cookie needs the session's token", func(t *testing.T) {
		before := w.count(t, "people", bson.D{})
		for _, hdr := range [][]string{{"X-CSRF-Token", ""}, {"X-CSRF-Token", "forged"}} {
			a := w.adminA.do(t, "POST", "/v1/organisations/fleet-a/people", map[string]any{"username": "li.na", "password": "given-by-admin-43", "roles": []string{"fleet"}}, hdr...)
			want(t, a, http.StatusForbidden, "create without the CSRF token")
			want(t, w.zhang.do(t, "POST", "/v1/auth/token", nil, hdr...), http.StatusForbidden, "token without the CSRF token")
			want(t, w.zhang.do(t, "DELETE", "/v1/auth/sessions/current", nil, hdr...), http.StatusForbidden, "sign out without the CSRF token")
		}
		if after := w.count(t, "people", bson.D{}); after != before {
			t.Fatalf("people %d → %d after refused requests", before, after)
		}
		want(t, w.zhang.do(t, "GET", "/v1/auth/sessions/current", nil, "X-CSRF-Token", ""), http.StatusOK, "a read needs no CSRF token")
	})

	t.Run("must change password: nothing else until it is changed", func(t *testing.T) {
		a := w.bureau.do(t, "POST", "/v1/organisations/fleet-a/people/"+w.zhangID+"/password-reset", map[string]any{"reason": "forgot it"})
		want(t, a, http.StatusOK, "reset")
		otp := a.Body["one_time_password"].(string)
		want(t, w.zhang.do(t, "GET", "/v1/auth/sessions/current", nil), http.StatusUnauthorized, "the reset ended his sessions")
		c := w.client("10.0.8.1")
		a = c.signIn(t, "zhang.wei", otp, "")
		want(t, a, http.StatusCreated, "sign in with the one-time password")
		if r, _ := a.Body["required"].([]any); len(r) != 1 || r[0] != "change_password" || a.Body["person"].(map[string]any)["must_change_password"] != true {
			t.Fatalf("sign-in answer: %s", a.Raw)
		}
		_, tok := c.token(t, "")
		want(t, tok, http.StatusForbidden, "token before the change")
		want(t, c.do(t, "POST", "/v1/auth/password", map[string]any{"current_password": otp, "new_password": "zhang.wei-secret-1"}), http.StatusBadRequest, "a password holding the username")
		a = c.do(t, "POST", "/v1/auth/password", map[string]any{"current_password": otp, "new_password": "password1234"})
		a.Refused(t, "new_password")
		want(t, c.do(t, "POST", "/v1/auth/password", map[string]any{"current_password": otp, "new_password": newPassword("zhang.wei")}), http.StatusNoContent, "change")
		if _, a := c.token(t, ""); a.Status != http.StatusOK {
			t.Fatalf("token after the change: %d %s", a.Status, a.Raw)
		}
		w.zhang = c
	})

	t.Run("sign out and sign out everywhere", func(t *testing.T) {
		c1, c2 := w.client("10.0.9.1"), w.client("10.0.9.2")
		want(t, c1.signIn(t, "zhang.wei", newPassword("zhang.wei"), ""), http.StatusCreated, "c1")
		want(t, c2.signIn(t, "zhang.wei", newPassword("zhang.wei"), ""), http.StatusCreated, "c2")
		old := c1.cookie("cs_session").Value
		want(t, c1.do(t, "DELETE", "/v1/auth/sessions/current", nil), http.StatusNoContent, "sign out")
		replay := w.client("10.0.9.1")
		replay.do(t, "GET", "/healthz", nil)
		ck := &http.Cookie{Name: "cs_session", Value: old}
		req, _ := http.NewRequest("GET", w.URL+"/v1/auth/sessions/current", nil)
		req.AddCookie(ck)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("the signed-out cookie replayed: %d", res.StatusCode)
		}
		want(t, c2.do(t, "GET", "/v1/auth/sessions/current", nil), http.StatusOK, "the other session lives")
		want(t, c2.do(t, "DELETE", "/v1/auth/sessions", nil), http.StatusNoContent, "sign out everywhere")
		want(t, w.zhang.do(t, "GET", "/v1/auth/sessions/current", nil), http.StatusUnauthorized, "every session ended")
		w.zhang = w.client("10.0.9.3")
		want(t, w.zhang.signIn(t, "zhang.wei", newPassword("zhang.wei"), ""), http.StatusCreated, "sign in again")
	})
}

func accountThreshold() int { return 5 }
func addressThreshold() int { return 20 }

func TestSessionTimeouts(t *testing.T) {
	e := newEnv(t, accounts.Config{IdleTimeout: 30 * time.Minute, SessionLifetime: 2 * time.Hour})
	admin := e.bureauAdmin(t)
	e.advance(29 * time.Minute)
	want(t, admin.do(t, "GET", "/v1/auth/sessions/current", nil), http.StatusOK, "used within the idle timeout")
	e.advance(31 * time.Minute)
	want(t, admin.do(t, "GET", "/v1/auth/sessions/current", nil), http.StatusUnauthorized, "idle for 31 minutes")

	c := e.client("10.1.0.1")
	c.secret, c.step = admin.secret, admin.step
	want(t, c.signIn(t, "admin", newPassword("admin"), c.code(t)), http.StatusCreated, "sign in again")
	for range 4 { // used every 25 minutes, yet the session ends 2 h after sign-in
		e.advance(25 * time.Minute)
		want(t, c.do(t, "GET", "/v1/auth/sessions/current", nil), http.StatusOK, "kept alive")
	}
	e.advance(25 * time.Minute)
	want(t, c.do(t, "GET", "/v1/auth/sessions/current", nil), http.StatusUnauthorized, "past the absolute timeout")
	if n := e.count(t, "sessions", bson.D{}); n != 0 {
		t.Fatalf("%d sessions left after both timed out", n)
	}
}

func TestAPIKeysAndTokens(t *testing.T) {
	w := newWorld(t)
	verifier := w.verifier(t)
	exp := time.Now().Add(24 * time.Hour).Format(time.RFC3339)

	t.Run("a session's token verifies elsewhere against the JWKS", func(t *testing.T) {
		tok, a := w.zhang.token(t, "")
		want(t, a, http.StatusOK, "exchange")
		if a.Body["token_type"] != "Bearer" || a.Body["expires_in"] != float64(300) || a.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("token response %v %s", a.Header, a.Raw)
		}
		p, err := verifier.Verify(tok)
		if err != nil || p.Role != auth.Fleet || p.Tenant != "fleet-a" || p.Subject != w.zhangID || p.OrgAdmin {
			t.Fatalf("verified %+v, %v", p, err)
		}
		jwks := w.client("").do(t, "GET", "/.well-known/jwks.json", nil)
		keys, _ := jwks.Body["keys"].([]any)
		if jwks.Status != 200 || len(keys) < 2 || keys[0].(map[string]any)["kty"] != "OKP" || keys[0].(map[string]any)["crv"] != "Ed25519" {
			t.Fatalf("JWKS: %s", jwks.Raw)
		}
		// An organisation's administrator gets no admin token (it would read every tenant);
		// the platform's does.
		_, a = w.adminA.token(t, "admin")
		want(t, a, http.StatusForbidden, "fleet admin asks for an admin token")
		tok, a = w.adminA.token(t, "")
		want(t, a, http.StatusOK, "fleet admin's own role")
		// It says the person administers its organisation (its webhooks, services/notify).
		if p, _ := verifier.Verify(tok); p.Role != auth.Fleet || !p.OrgAdmin {
			t.Fatalf("fleet admin's token: %+v", p)
		}
		_, a = w.bureau.token(t, "")
		a.Refused(t, "role")
		tok, a = w.bureau.token(t, "admin")
		want(t, a, http.StatusOK, "platform admin token")
		if p, _ := verifier.Verify(tok); p.Role != auth.Admin || p.Tenant != "" {
			t.Fatalf("platform admin's token: %+v", p)
		}
		_, a = w.bureau.token(t, "police")
		want(t, a, http.StatusForbidden, "a role not held")
		// An access token manages too (as the person it names), but is not exchanged again.
		script := w.client("10.2.0.1")
		script.bearer, _ = w.adminA.token(t, "")
		want(t, script.do(t, "GET", "/v1/organisations/fleet-a/people", nil), http.StatusOK, "an administrator's access token")
		want(t, script.do(t, "POST", "/v1/auth/token", nil), http.StatusUnauthorized, "an access token for another")
	})

	var keyID, secret string
	t.Run("create, use and revoke an API key", func(t *testing.T) {
		a := w.adminA.do(t, "POST", "/v1/organisations/fleet-a/api-keys", map[string]any{"roles": []string{"fleet"}, "expires_at": exp, "label": "fleet platform"})
		want(t, a, http.StatusCreated, "create key")
		keyID, secret = a.Body["key_id"].(string), a.Body["secret"].(string)
		if !strings.HasPrefix(secret, "csk_"+keyID+"_") {
			t.Fatalf("secret %q of key %q", secret, keyID)
		}
		if n := w.count(t, "api_keys", bson.D{{Key: "hash", Value: bson.D{{Key: "$exists", Value: true}}}}); n != 1 {
			t.Fatalf("keys stored: %d", n)
		}
		if strings.Contains(w.adminA.do(t, "GET", "/v1/organisations/fleet-a/api-keys", nil).Raw, secret[len(secret)-20:]) {
			t.Fatal("the list shows the secret")
		}
		if n := w.count(t, "api_keys", bson.D{{Key: "hash", Value: secret}}); n != 0 {
			t.Fatal("the secret is stored in clear")
		}
		machine := w.client("10.2.1.1")
		machine.bearer = secret
		tok, a := machine.token(t, "")
		want(t, a, http.StatusOK, "exchange the key")
		p, err := verifier.Verify(tok)
		if err != nil || p.Role != auth.Fleet || p.Tenant != "fleet-a" || p.Subject != keyID {
			t.Fatalf("key's token: %+v %v", p, err)
		}
		list := w.adminA.do(t, "GET", "/v1/organisations/fleet-a/api-keys", nil)
		if k := list.Body["items"].([]any)[0].(map[string]any); k["last_used_at"] == nil {
			t.Fatalf("last use not recorded: %s", list.Raw)
		}
		want(t, machine.do(t, "GET", "/v1/organisations/fleet-a/people", nil), http.StatusUnauthorized, "a key is no access token")
		wrong := w.client("10.2.1.2")
		wrong.bearer = secret[:len(secret)-2] + "xx"
		_, a = wrong.token(t, "")
		want(t, a, http.StatusUnauthorized, "a wrong secret")

		want(t, w.adminB.do(t, "DELETE", "/v1/organisations/fleet-a/api-keys/"+keyID, nil), http.StatusNotFound, "another fleet's admin revokes")
		want(t, w.adminB.do(t, "DELETE", "/v1/organisations/fleet-b/api-keys/"+keyID, nil), http.StatusNotFound, "through its own organisation")
		_, a = machine.token(t, "")
		want(t, a, http.StatusOK, "still valid")
		want(t, w.adminA.do(t, "DELETE", "/v1/organisations/fleet-a/api-keys/"+keyID, nil), http.StatusNoContent, "revoke")
		_, a = machine.token(t, "")
		want(t, a, http.StatusUnauthorized, "exchange a revoked key")
		deadline := time.Now().Add(2 * time.Second)
		for {
			if _, err := verifier.Verify(tok); errors.Is(err, apperr.ErrUnauthenticated) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the revoked key's token still verifies 2 s after the revocation")
			}
			time.Sleep(20 * time.Millisecond)
		}
		want(t, w.adminA.do(t, "DELETE", "/v1/organisations/fleet-a/api-keys/"+keyID, nil), http.StatusNoContent, "revoke again")
	})

	t.Run("a key's roles are the organisation's working roles, its expiry bounded", func(t *testing.T) {
		before := w.count(t, "api_keys", bson.D{})
		for field, body := range map[string]map[string]any{
			"roles[0]":   {"roles": []string{"admin"}, "expires_at": exp},
			"roles[1]":   {"roles": []string{"fleet", "station"}, "expires_at": exp},
			"roles":      {"roles": []string{}, "expires_at": exp},
			"expires_at": {"roles": []string{"fleet"}, "expires_at": time.Now().Add(-time.Hour).Format(time.RFC3339)},
		} {
			w.adminA.do(t, "POST", "/v1/organisations/fleet-a/api-keys", body).Refused(t, field)
		}
		w.adminA.do(t, "POST", "/v1/organisations/fleet-a/api-keys", map[string]any{"roles": []string{"fleet"}, "expires_at": time.Now().AddDate(2, 0, 0).Format(time.RFC3339)}).Refused(t, "expires_at")
		if after := w.count(t, "api_keys", bson.D{}); after != before {
			t.Fatalf("keys %d → %d after refusals", before, after)
		}
	})

	t.Run("a disabled person is refused at once, and its tokens within 2 s", func(t *testing.T) {
		tok, _ := w.zhang.token(t, "")
		if _, err := verifier.Verify(tok); err != nil {
			t.Fatal(err)
		}
		want(t, w.adminA.do(t, "POST", "/v1/organisations/fleet-a/people/"+w.zhangID+"/disable", map[string]any{}), http.StatusBadRequest, "without a reason")
		a := w.adminA.do(t, "POST", "/v1/organisations/fleet-a/people/"+w.zhangID+"/disable", map[string]any{"reason": "left the company"})
		want(t, a, http.StatusOK, "disable")
		if a.Body["disabled"].(map[string]any)["reason"] != "left the company" {
			t.Fatalf("disable answer %s", a.Raw)
		}
		want(t, w.zhang.do(t, "GET", "/v1/auth/sessions/current", nil), http.StatusUnauthorized, "his session")
		deadline := time.Now().Add(2 * time.Second)
		for {
			if _, err := verifier.Verify(tok); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a disabled person's token verifies 2 s after")
			}
			time.Sleep(20 * time.Millisecond)
		}
		c := w.client("10.2.2.1")
		a = c.signIn(t, "zhang.wei", newPassword("zhang.wei"), "")
		want(t, a, http.StatusUnauthorized, "sign in disabled")
		if a.Body["detail"] != c.signIn(t, "nobody.at.all", "whatever-password", "").Body["detail"] {
			t.Fatal("a disabled account answers unlike an unknown one")
		}
		if n := w.count(t, "audit_log", bson.D{{Key: "action", Value: "person.disable"}, {Key: "subject", Value: w.zhangID}, {Key: "detail.reason", Value: "left the company"}}); n != 1 {
			t.Fatalf("disable audited %d times", n)
		}
		want(t, w.adminA.do(t, "POST", "/v1/organisations/fleet-a/people/"+w.zhangID+"/enable", map[string]any{"reason": "came back"}), http.StatusOK, "enable")
		want(t, w.client("10.2.2.2").signIn(t, "zhang.wei", newPassword("zhang.wei"), ""), http.StatusCreated, "sign in re-enabled")
	})
}

// TestOrganisationsAreSeparate: an organisation's administrator manages its own people only;
// another organisation's answer 404 and nothing changes.
func TestOrganisationsAreSeparate(t *testing.T) {
	w := newWorld(t)
	before := w.adminB.do(t, "GET", "/v1/organisations/fleet-b/people/"+w.adminBID, nil)
	want(t, before, http.StatusOK, "b reads its admin")
	people := w.count(t, "people", bson.D{})
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/organisations/fleet-b", nil},
		{"GET", "/v1/organisations/fleet-b/people", nil},
		{"GET", "/v1/organisations/fleet-b/people/" + w.adminBID, nil},
		{"POST", "/v1/organisations/fleet-b/people", map[string]any{"username": "mole", "password": "given-by-admin-44", "roles": []string{"fleet"}}},
		{"POST", "/v1/organisations/fleet-b/people/" + w.adminBID + "/disable", map[string]any{"reason": "takeover"}},
		{"POST", "/v1/organisations/fleet-b/people/" + w.adminBID + "/password-reset", map[string]any{"reason": "takeover"}},
		{"POST", "/v1/organisations/fleet-b/api-keys", map[string]any{"roles": []string{"fleet"}, "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)}},
		{"GET", "/v1/organisations/fleet-b/api-keys", nil},
		// b's admin through a's organisation
		{"POST", "/v1/organisations/fleet-a/people/" + w.adminBID + "/disable", map[string]any{"reason": "takeover"}},
	} {
		want(t, w.adminA.do(t, tc.method, tc.path, tc.body), http.StatusNotFound, "a's admin: "+tc.method+" "+tc.path)
	}
	// a's person who is no administrator may not manage even a's people.
	want(t, w.zhang.do(t, "GET", "/v1/organisations/fleet-a/people", nil), http.StatusForbidden, "zhang lists a's people")
	want(t, w.zhang.do(t, "POST", "/v1/organisations", map[string]any{"id": "x-org", "kind": "fleet", "name": "X"}), http.StatusForbidden, "zhang creates an organisation")
	want(t, w.adminA.do(t, "POST", "/v1/organisations", map[string]any{"id": "x-org", "kind": "fleet", "name": "X",
		"administrator": map[string]any{"username": "x.admin", "password": "first-x.admin-pass"}}), http.StatusForbidden, "a fleet admin creates an organisation")
	after := w.adminB.do(t, "GET", "/v1/organisations/fleet-b/people/"+w.adminBID, nil)
	if after.Body["version"] != before.Body["version"] || after.Body["disabled"] != nil || w.count(t, "people", bson.D{}) != people || w.count(t, "organisations", bson.D{}) != 3 {
		t.Fatalf("something changed: %s → %s", before.Raw, after.Raw)
	}
	// The platform's administrators manage every organisation.
	want(t, w.bureau.do(t, "GET", "/v1/organisations/fleet-b/people", nil), http.StatusOK, "the platform admin")
	// Exports are scoped as the lists are: a's admin exports a's people and none of b's.
	for _, f := range []string{"csv", "xlsx"} {
		want(t, w.adminA.do(t, "GET", "/v1/organisations/fleet-b/people?format="+f, nil), http.StatusNotFound, "a's admin exports b's people")
		a := w.adminA.do(t, "GET", "/v1/organisations/fleet-a/people?format="+f, nil)
		want(t, a, http.StatusOK, "a's admin exports a's people")
		if f == "csv" && (!strings.Contains(a.Raw, "zhang.wei") || strings.Contains(a.Raw, w.adminBID)) {
			t.Fatalf("a's people as CSV: %s", a.Raw)
		}
	}
	for _, path := range []string{"/v1/organisations?format=csv", "/v1/organisations/fleet-b/api-keys?format=xlsx"} {
		want(t, w.bureau.do(t, "GET", path, nil), http.StatusOK, "the platform admin exports "+path)
	}
}

// TestBadInput: bodies over their bounds or breaking a rule are problem documents naming the
// field, and nothing is written.
func TestBadInput(t *testing.T) {
	w := newWorld(t)
	orgs, people := w.count(t, "organisations", bson.D{}), w.count(t, "people", bson.D{})
	org := func(k string, v any) map[string]any {
		b := map[string]any{"id": "lab-1", "kind": "lab", "name": "Lab one", "administrator": map[string]any{"username": "lab.admin", "password": "first-lab-admin-pass"}}
		b[k] = v
		return b
	}
	admin := func(k string, v any) map[string]any {
		a := map[string]any{"username": "lab.admin", "password": "first-lab-admin-pass"}
		a[k] = v
		return org("administrator", a)
	}
	for field, body := range map[string]any{
		"body":                   `{"id": "lab-1"`,
		"colour":                 org("colour", "blue"),
		"id":                     org("id", "Lab One!"),
		"kind":                   org("kind", "brewery"),
		"name":                   org("name", "Lab\u202e one"),
		"administrator.username": admin("username", "x"),
		"administrator.password": admin("password", "short"),
		"administrator.roles[0]": admin("roles", []string{"police"}),
	} {
		w.bureau.do(t, "POST", "/v1/organisations", body).Refused(t, field)
	}
	w.bureau.do(t, "POST", "/v1/organisations", admin("password", "lab.admin-secret-pass")).Refused(t, "administrator.password")
	w.bureau.do(t, "POST", "/v1/organisations", org("kind", "bureau")).Refused(t, "kind")
	person := func(k string, v any) map[string]any {
		b := map[string]any{"username": "wang.fang", "password": "given-by-admin-45", "roles": []string{"fleet"}}
		b[k] = v
		return b
	}
	for field, body := range map[string]any{
		"username": person("username", strings.Repeat("w", 65)),
		"password": person("password", "Password1234"),
		"roles":    person("roles", []string{}),
		"roles[0]": person("roles", []string{"system"}),
	} {
		w.adminA.do(t, "POST", "/v1/organisations/fleet-a/people", body).Refused(t, field)
	}
	w.adminA.do(t, "POST", "/v1/organisations/fleet-a/people", person("password", strings.Repeat("x", 129))).Refused(t, "password")
	w.client("10.3.0.1").do(t, "POST", "/v1/auth/sessions", map[string]any{"username": "zhang.wei"}).Refused(t, "password")
	w.client("10.3.0.1").do(t, "POST", "/v1/auth/sessions", map[string]any{"username": "zhang.wei", "password": "x", "remember": true}).Refused(t, "remember")
	w.zhang.do(t, "POST", "/v1/auth/token", map[string]any{"role": 7}).Refused(t, "role")
	want(t, w.adminA.do(t, "POST", "/v1/organisations/fleet-a/people", person("username", "zhang.wei")), http.StatusConflict, "a taken username")
	want(t, w.bureau.do(t, "POST", "/v1/organisations", org("id", "fleet-a")), http.StatusConflict, "a taken organisation id")
	if w.count(t, "organisations", bson.D{}) != orgs || w.count(t, "people", bson.D{}) != people {
		t.Fatal("refused bodies wrote something")
	}
}

// TestKeyRotation: the signing key changes every period; the next one is published a period
// ahead, and the old one until its last token has expired, so a token signed before a rotation
// verifies after it.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t, accounts.Config{})
	admin := e.bureauAdmin(t)
	verifier := e.verifier(t)
	kids := func() []string {
		a := e.client("").do(t, "GET", "/.well-known/jwks.json", nil)
		var out []string
		for _, k := range a.Body["keys"].([]any) {
			out = append(out, k.(map[string]any)["kid"].(string))
		}
		return out
	}
	before := kids()
	if len(before) != 2 {
		t.Fatalf("published %v, want this period's key and the next", before)
	}
	tok, a := admin.token(t, "admin")
	want(t, a, http.StatusOK, "token")
	if _, err := verifier.Verify(tok); err != nil {
		t.Fatal(err)
	}
	now := e.now()
	e.advance(now.Truncate(24 * time.Hour).Add(24*time.Hour + time.Minute).Sub(now)) // a minute into the next period
	if _, err := e.svc.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := kids()
	if len(after) != 3 || after[1] != before[0] || after[2] != before[1] {
		t.Fatalf("after one period: %v (before %v), want the next period's key added and the old one still published", after, before)
	}
	if _, err := e.verifier(t).Verify(tok); err != nil {
		t.Fatalf("a verifier started after the rotation, on a token of the old key: %v", err)
	}
	e.advance(10 * time.Minute)
	if _, err := e.svc.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := kids(); len(got) != 2 || got[1] != before[0] {
		t.Fatalf("after the old key's last token expired: %v", got)
	}
	if _, err := verifier.Verify(tok); err != nil {
		t.Fatalf("a token signed before the rotation: %v", err)
	}
}
