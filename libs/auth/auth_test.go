package auth

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"github.com/clearsky/clearsky/libs/apperr"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestIssueVerify(t *testing.T) {
	k, err := NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := k.Issue(Principal{Role: Fleet, Tenant: "fleet-1"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := Principal{Subject: "fleet@fleet-1", Role: Fleet, Tenant: "fleet-1"}
	if got != want {
		t.Fatalf("Verify = %+v, want %+v", got, want)
	}
}

func TestVerifyRejects(t *testing.T) {
	k, _ := NewKeys(secret)
	other, _ := NewKeys([]byte(strings.Repeat("x", 32)))
	now := time.Now()
	expired, _ := k.Issue(Principal{Role: Bureau}, now.Add(-2*time.Hour), time.Hour)
	foreign, _ := other.Issue(Principal{Role: Bureau}, now, time.Hour)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims{Role: Bureau, RegisteredClaims: jwt.RegisteredClaims{Issuer: issuer, ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	badRole := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{Role: "mayor", RegisteredClaims: jwt.RegisteredClaims{Issuer: issuer, ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}})
	badRoleTok, _ := badRole.SignedString(secret)
	noTenant := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{Role: Fleet, RegisteredClaims: jwt.RegisteredClaims{Issuer: issuer, ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}})
	noTenantTok, _ := noTenant.SignedString(secret)
	for name, tok := range map[string]string{
		"expired": expired, "other key": foreign, "alg none": noneTok, "unknown role": badRoleTok,
		"fleet without tenant": noTenantTok, "garbage": "abc.def.ghi",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := k.Verify(tok); !errors.Is(err, apperr.ErrUnauthenticated) {
				t.Fatalf("Verify error = %v, want ErrUnauthenticated", err)
			}
		})
	}
}

func TestIssueNeedsTenant(t *testing.T) {
	k, _ := NewKeys(secret)
	if _, err := k.Issue(Principal{Role: Station}, time.Now(), time.Hour); err == nil {
		t.Fatal("Issue(station without tenant) succeeded, want error")
	}
	if _, err := NewKeys([]byte("short")); err == nil {
		t.Fatal("NewKeys(short) succeeded, want error")
	}
}

// TestRequireAdmin: the admin reads every route but writes through none unless the route names
// admin; other roles pass only the routes that name them.
func TestRequireAdmin(t *testing.T) {
	gin.SetMode(gin.TestMode)
	refused := func(c *gin.Context, err error) {
		c.AbortWithStatus(map[bool]int{true: 403, false: 401}[errors.Is(err, apperr.ErrForbidden)])
	}
	cases := []struct {
		method string
		role   Role
		roles  []Role
		want   int
	}{
		{"GET", Admin, []Role{Bureau}, 200},
		{"HEAD", Admin, []Role{Bureau}, 200},
		{"POST", Admin, []Role{Bureau}, 403},
		{"PATCH", Admin, []Role{Fleet, Bureau, Police}, 403},
		{"PUT", Admin, []Role{Bureau}, 403},
		{"DELETE", Admin, []Role{Bureau}, 403},
		{"POST", Admin, []Role{Bureau, Admin}, 200},
		{"POST", Bureau, []Role{Bureau}, 200},
		{"GET", Fleet, []Role{Bureau}, 403},
		{"POST", System, []Role{Bureau}, 403},
	}
	for _, tc := range cases {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(tc.method, "/x", nil)
		c.Request = c.Request.WithContext(WithPrincipal(c.Request.Context(), Principal{Subject: "s", Role: tc.role}))
		Require(refused, tc.roles...)(c)
		got := w.Code
		if !c.IsAborted() {
			got = 200
		}
		if got != tc.want {
			t.Errorf("%s by %s on a route for %v = %d, want %d", tc.method, tc.role, tc.roles, got, tc.want)
		}
	}
}
