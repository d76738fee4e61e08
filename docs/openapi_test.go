package docs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lintDir pins the linter (package.json, package-lock.json); .ci/run installs it there with
// npm ci.
var lintDir = filepath.Join(root, "tools", "openapi-lint")

// linter returns the command that runs the pinned Redocly CLI: the one npm ci installed, else
// (outside CI) the same version through npx. Without either the test is skipped, except in CI
// (CLEARSKY_REQUIRE_INTEGRATION=1), where it fails.
func linter(t *testing.T) []string {
	t.Helper()
	ci := os.Getenv("CLEARSKY_REQUIRE_INTEGRATION") == "1"
	local := filepath.Join(lintDir, "node_modules", ".bin", "redocly")
	if _, err := os.Stat(local); err == nil {
		return []string{local}
	}
	if ci {
		t.Fatalf("the OpenAPI linter is not installed at %s but CLEARSKY_REQUIRE_INTEGRATION=1: run npm ci in tools/openapi-lint (.ci/run does)", local)
	}
	npx, err := exec.LookPath("npx")
	if err != nil {
		t.Skip("the OpenAPI linter is not installed (npm ci in tools/openapi-lint) and there is no npx to run it")
	}
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal([]byte(read(t, filepath.Join(lintDir, "package.json"))), &pkg); err != nil {
		t.Fatal(err)
	}
	version := pkg.DevDependencies["@redocly/cli"]
	if version == "" {
		t.Fatal("tools/openapi-lint/package.json pins no @redocly/cli")
	}
	return []string{npx, "--yes", "@redocly/cli@" + version}
}

// TestContractsLint: every services/*/openapi.yaml passes the pinned OpenAPI linter (Redocly
// CLI, its recommended rules) without an error. A description with a comma inside a YAML flow
// mapping, unquoted, is split into bogus keys that code generators read wrong: the linter
// refuses it.
func TestContractsLint(t *testing.T) {
	cmd := linter(t)
	specs, err := filepath.Glob(filepath.Join(root, "services", "*", "openapi.yaml"))
	if err != nil || len(specs) == 0 {
		t.Fatalf("no contracts found: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append(cmd[1:], "lint", "--config", filepath.Join(lintDir, "redocly.yaml"), "--format", "stylish")
	c := exec.CommandContext(ctx, cmd[0], append(args, specs...)...)
	c.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1", "CI=true")
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err = c.Run()
	if err != nil {
		var errs []string
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, " error ") || strings.HasPrefix(strings.TrimSpace(line), "services/") || strings.Contains(line, "failed") {
				errs = append(errs, line)
			}
		}
		t.Fatalf("%s: %v\n%s\n(full output:\n%s)", strings.Join(c.Args, " "), err, strings.Join(errs, "\n"), out.String())
	}
	if !strings.Contains(out.String(), "valid") {
		t.Fatalf("the linter said nothing about the contracts:\n%s", out.String())
	}
}
