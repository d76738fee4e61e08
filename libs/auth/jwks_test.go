package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/testenv"
)

// keyServer publishes a JWKS of the keys added to it and counts its fetches.
type keyServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    map[string]ed25519.PrivateKey
	fetches atomic.Int32
}

func newKeyServer(t *testing.T) *keyServer {
	ks := &keyServer{keys: map[string]ed25519.PrivateKey{}}
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.fetches.Add(1)
		ks.mu.Lock()
		defer ks.mu.Unlock()
		var set auth.JWKSet
		for kid, k := range ks.keys {
			set.Keys = append(set.Keys, auth.PublicJWK(kid, k.Public().(ed25519.PublicKey)))
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) add(t *testing.T, kid string) ed25519.PrivateKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ks.mu.Lock()
	ks.keys[kid] = priv
	ks.mu.Unlock()
	return priv
}

type accessClaims struct {
	Role   string `json:"role"`
	Tenant string `json:"tenant,omitempty"`
	SID    string `json:"sid,omitempty"`
	jwt.RegisteredClaims
}

func sign(t *testing.T, priv ed25519.PrivateKey, kid string, c accessClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claimsAt(sub, sid string, iat time.Time, life time.Duration) accessClaims {
	return accessClaims{Role: "fleet", Tenant: "fleet-1", SID: sid, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: "clearsky", Subject: sub, IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(iat.Add(life))}}
}

func newKeys(t *testing.T, ks *keyServer) *auth.Keys {
	k, err := auth.NewKeys([]byte(testenv.Secret))
	if err != nil {
		t.Fatal(err)
	}
	j := auth.NewJWKS(ks.URL, nil)
	j.MinRefetch = 200 * time.Millisecond
	k.UseKeySource(j)
	return k
}

func refused(t *testing.T, k *auth.Keys, what, tok string) {
	t.Helper()
	if p, err := k.Verify(tok); !errors.Is(err, apperr.ErrUnauthenticated) {
		t.Fatalf("%s: Verify = %v, %v; want refused as unauthenticated", what, p, err)
	}
}

// TestJWKSVerify: EdDSA access tokens are verified against the accounts service's JWKS, fetched
// over HTTP, next to the HS256 tokens of the shared secret; alg none, an unknown kid, a tampered
// token, an expired one and one living too long are refused.
func TestJWKSVerify(t *testing.T) {
	ks := newKeyServer(t)
	priv := ks.add(t, "k1")
	k := newKeys(t, ks)
	now := time.Now()

	good := sign(t, priv, "k1", claimsAt("p-1", "s-1", now, 5*time.Minute))
	p, err := k.Verify(good)
	if err != nil || p.Subject != "p-1" || p.Role != auth.Fleet || p.Tenant != "fleet-1" {
		t.Fatalf("Verify = %+v, %v", p, err)
	}
	hs, err := k.Issue(auth.Principal{Role: auth.Police}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := k.Verify(hs); err != nil || p.Role != auth.Police {
		t.Fatalf("HS256 token next to the key set: %+v, %v", p, err)
	}

	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding
	none := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"k1"}`)) + "." + parts[1] + "."
	refused(t, k, "alg none", none)
	noneSigned := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"k1"}`)) + "." + parts[1] + "." + parts[2]
	refused(t, k, "alg none with a signature", noneSigned)

	payload, _ := enc.DecodeString(parts[1])
	tampered := enc.EncodeToString([]byte(strings.Replace(string(payload), `"fleet-1"`, `"fleet-2"`, 1)))
	refused(t, k, "tampered payload", parts[0]+"."+tampered+"."+parts[2])

	sig, _ := enc.DecodeString(parts[2])
	sig[0] ^= 1
	refused(t, k, "tampered signature", parts[0]+"."+parts[1]+"."+enc.EncodeToString(sig))

	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	refused(t, k, "unknown kid", sign(t, stranger, "k-unknown", claimsAt("p-1", "", now, 5*time.Minute)))
	refused(t, k, "a known kid, another key", sign(t, stranger, "k1", claimsAt("p-1", "", now, 5*time.Minute)))
	noKid := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claimsAt("p-1", "", now, 5*time.Minute))
	s, _ := noKid.SignedString(priv)
	refused(t, k, "no kid", s)
	refused(t, k, "expired", sign(t, priv, "k1", claimsAt("p-1", "", now.Add(-10*time.Minute), 5*time.Minute)))
	refused(t, k, "living an hour", sign(t, priv, "k1", claimsAt("p-1", "", now, time.Hour)))
	noIat := claimsAt("p-1", "", now, 5*time.Minute)
	noIat.IssuedAt = nil
	refused(t, k, "without iat", sign(t, priv, "k1", noIat))
	other := claimsAt("p-1", "", now, 5*time.Minute)
	other.Issuer = "someone-else"
	refused(t, k, "another issuer", sign(t, priv, "k1", other))
	// An HS256 token whose signature is made with the Ed25519 public key as the HMAC secret
	// (algorithm confusion) is refused: HS256 only ever takes the shared secret.
	pub := priv.Public().(ed25519.PublicKey)
	conf := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsAt("p-1", "", now, 5*time.Minute))
	conf.Header["kid"] = "k1"
	cs, _ := conf.SignedString([]byte(pub))
	refused(t, k, "HS256 keyed with the public key", cs)

	t.Run("a key rotated in is fetched on its first token; unknown kids are rate limited", func(t *testing.T) {
		before := ks.fetches.Load()
		for range 20 {
			refused(t, k, "unknown kid", sign(t, stranger, "k-made-up", claimsAt("p-1", "", now, 5*time.Minute)))
		}
		if n := ks.fetches.Load() - before; n > 1 {
			t.Fatalf("20 tokens of an unknown kid fetched the key set %d times, want at most 1", n)
		}
		time.Sleep(250 * time.Millisecond)
		priv2 := ks.add(t, "k2")
		if p, err := k.Verify(sign(t, priv2, "k2", claimsAt("p-2", "", time.Now(), 5*time.Minute))); err != nil || p.Subject != "p-2" {
			t.Fatalf("token of the new key: %+v, %v", p, err)
		}
		if _, err := k.Verify(sign(t, priv, "k1", claimsAt("p-3", "", time.Now(), 5*time.Minute))); err != nil {
			t.Fatalf("token of the old key during the overlap: %v", err)
		}
	})

	t.Run("a service without a key set refuses EdDSA tokens", func(t *testing.T) {
		plain, _ := auth.NewKeys([]byte(testenv.Secret))
		refused(t, plain, "no key set", good)
	})
}

// TestRevocationAnnounced: a revocation announced on Redis reaches a listening verifier within
// 2 s; tokens of the revoked person or session issued before it are refused (even one verified
// and cached before), tokens issued after pass.
func TestRevocationAnnounced(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	ks := newKeyServer(t)
	priv := ks.add(t, "k1")
	k := newKeys(t, ks)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go k.Revocations().Listen(ctx, rdb, prefix, nil)

	iat := time.Now().Add(-2 * time.Second)
	person := sign(t, priv, "k1", claimsAt("p-zhang", "s-1", iat, 5*time.Minute))
	session := sign(t, priv, "k1", claimsAt("p-li", "s-li-1", iat, 5*time.Minute))
	otherSession := sign(t, priv, "k1", claimsAt("p-li", "s-li-2", iat, 5*time.Minute))
	for _, tok := range []string{person, session, otherSession} {
		if _, err := k.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // the subscription is up
	at := time.Now()
	if err := auth.Announce(ctx, rdb, prefix, "p-zhang", at); err != nil {
		t.Fatal(err)
	}
	if err := auth.Announce(ctx, rdb, prefix, "s-li-1", at); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, e1 := k.Verify(person)
		_, e2 := k.Verify(session)
		if e1 != nil && e2 != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 s after the announcement: person %v, session %v", e1, e2)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := k.Verify(otherSession); err != nil {
		t.Fatalf("another session of the same person: %v", err)
	}
	later := sign(t, priv, "k1", claimsAt("p-zhang", "s-3", at.Add(2*time.Second), 5*time.Minute))
	if _, err := k.Verify(later); err != nil {
		t.Fatalf("a token issued after the revocation: %v", err)
	}

	t.Run("a verifier started later reads the log", func(t *testing.T) {
		k2 := newKeys(t, ks)
		go k2.Revocations().Listen(ctx, rdb, prefix, nil)
		deadline := time.Now().Add(2 * time.Second)
		for {
			if _, err := k2.Verify(person); err != nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("a new verifier took the revoked token")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestAPIKeyPassesTheEdge: an API key in the Authorization header is left for the token route
// to read; elsewhere the route's Require refuses it as unauthenticated.
func TestAPIKeyPassesTheEdge(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	k, _ := auth.NewKeys([]byte(testenv.Secret))
	onErr := func(c *gin.Context, err error) {
		status := http.StatusForbidden
		if errors.Is(err, apperr.ErrUnauthenticated) {
			status = http.StatusUnauthorized
		}
		c.AbortWithStatus(status)
	}
	e := gin.New()
	e.Use(auth.Authenticate(k, onErr))
	e.POST("/token", func(c *gin.Context) { c.String(200, c.GetHeader("Authorization")) })
	e.GET("/guarded", auth.Require(onErr, auth.Fleet), func(c *gin.Context) { c.Status(200) })
	for path, want := range map[string]int{"/token": 200, "/guarded": 401} {
		method := "GET"
		if path == "/token" {
			method = "POST"
		}
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer csk_k1_secret")
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		if w.Code != want {
			t.Fatalf("%s with an API key = %d, want %d", path, w.Code, want)
		}
	}
}
