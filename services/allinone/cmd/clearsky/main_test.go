package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/services/allinone"
)

// isolated points the data dir at a fresh folder and returns it.
func isolated(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("CLEARSKY_DATA_DIR", dir)
	t.Setenv("CLEARSKY_JWT_SECRET", "")
	return dir
}

// A first argument asking for help or the version never starts a server: the data dir is not
// even made.
func TestHelpAndVersionStartNothing(t *testing.T) {
	dir := isolated(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a server started by mistake stops at once
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"help"}, {"run", "-h"}, {"token", "-h"}} {
		var out bytes.Buffer
		if err := run(ctx, args, &out); err != nil {
			t.Fatalf("clearsky %v = %v, want usage and exit 0", args, err)
		}
		if !strings.Contains(out.String(), "Usage") && !strings.Contains(out.String(), "-role") {
			t.Fatalf("clearsky %v printed %q, want its usage", args, out.String())
		}
	}
	t.Setenv("CLEARSKY_VERSION", "1.2.3")
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		var out bytes.Buffer
		if err := run(ctx, args, &out); err != nil || strings.TrimSpace(out.String()) != "clearsky 1.2.3" {
			t.Fatalf("clearsky %v = %v %q, want \"clearsky 1.2.3\"", args, err, out.String())
		}
	}
	for _, args := range [][]string{{"-x"}, {"--port", "9000"}, {"run", "-x"}, {"run", "extra"}, {"frobnicate"}} {
		var out bytes.Buffer
		if err := run(ctx, args, &out); err == nil {
			t.Fatalf("clearsky %v succeeded, want an error", args)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the data dir %s was made (%v): something started", dir, err)
	}
}

// clearsky token signs with the server's secret, or refuses: it never makes a secret of its own,
// whose tokens the server would reject.
func TestTokenUsesTheServersSecret(t *testing.T) {
	dir := isolated(t)
	var out bytes.Buffer
	err := run(context.Background(), []string{"token", "-role", "police"}, &out)
	if err == nil || !strings.Contains(err.Error(), "-data-dir") || !strings.Contains(err.Error(), "CLEARSKY_JWT_SECRET") {
		t.Fatalf("token without a server's data dir = %v %q; want a refusal saying what to pass", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "jwt-secret")); !os.IsNotExist(err) {
		t.Fatalf("token made a secret: %v", err)
	}
	// The server's data dir, elsewhere: passed with -data-dir.
	server := t.TempDir()
	secret, err := allinone.Secret(allinone.Config{DataDir: server})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := auth.NewKeys(secret)
	out.Reset()
	if err := run(context.Background(), []string{"token", "-role", "police", "-data-dir", server}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	p, err := keys.Verify(lines[len(lines)-1])
	if err != nil || p.Role != auth.Police {
		t.Fatalf("token from -data-dir: %v %v; the server would reject it\n%s", p, err, out.String())
	}
	if !strings.Contains(out.String(), "no server is running") {
		t.Fatalf("token output %q does not say that no server holds the data dir", out.String())
	}
	// While a server holds the data dir, the token says which.
	release, err := allinone.LockDataDir(server)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	out.Reset()
	t.Setenv("CLEARSKY_DATA_DIR", server)
	if err := run(context.Background(), []string{"token", "-role", "bureau"}, &out); err != nil || !strings.Contains(out.String(), "PID") {
		t.Fatalf("token with CLEARSKY_DATA_DIR = %v %q; want the server's PID named", err, out.String())
	}
}
