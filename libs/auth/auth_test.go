package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

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
