package password

import (
	"context"
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h, err := Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := Verify(ctx, h, "correct horse battery"); !ok || err != nil {
		t.Fatalf("Verify right = %v, %v", ok, err)
	}
	if ok, _ := Verify(ctx, h, "correct horse batterx"); ok {
		t.Fatal("a wrong password matched")
	}
	if ok, _ := Verify(ctx, Dummy(), ""); ok {
		t.Fatal("the dummy hash matched")
	}
	if ok, err := Verify(ctx, "$2a$10$bcrypt", "x"); ok || err == nil {
		t.Fatal("a hash of another scheme was taken")
	}
}

func TestPolicy(t *testing.T) {
	for pw, want := range map[string]string{
		"short":                          "at least 12",
		"Password1234":                   "common",
		"QWERTY123456":                   "common",
		"zhang.wei-2026-spring":          "username",
		"aaaaaaaaaaaaaaaa":               "repeated",
		strings.Repeat("x", 12) + "\x00": "control",
		strings.Repeat("ab", 65):         "at most",
		"晴空万里蓝天保卫战打赢了啊":                  "",
		"tangerine-kettle-91":            "",
	} {
		got := Check(pw, "zhang.wei")
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("Check(%q) = %q, want %q", pw, got, want)
		}
	}
	for range 20 {
		if pw := Generate("abc"); Check(pw, "abc") != "" || len(pw) != 20 {
			t.Fatalf("generated %q", pw)
		}
	}
}
