package deploycheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// repoRoot is the repository's root: CLEARSKY_REPO_ROOT, or two folders up from this file.
func repoRoot(t testing.TB) string {
	t.Helper()
	if r := os.Getenv("CLEARSKY_REPO_ROOT"); r != "" {
		return r
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the repository root: set CLEARSKY_REPO_ROOT")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// tool returns the path of the program the environment variable env names (set by
// scripts/deploy-check). Without it the test skips, unless CLEARSKY_REQUIRE_DEPLOY_TOOLS=1.
func tool(t testing.TB, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		if os.Getenv("CLEARSKY_REQUIRE_DEPLOY_TOOLS") == "1" {
			t.Fatalf("%s is not set: run scripts/deploy-check, which builds the tools", env)
		}
		t.Skipf("%s is not set: run scripts/deploy-check, which builds the tools", env)
	}
	if _, err := exec.LookPath(p); err != nil {
		t.Fatalf("%s=%s: %v (delete the tools cache folder to rebuild)", env, p, err)
	}
	return p
}

// pendingServices are services the deployment already describes whose code has not landed yet.
// A name stays here only while services/<name>/cmd/<name> is missing: the inventory test fails
// once it exists, so that the entry is removed.
// Add one as NAME: "why" when the chart and compose describe a service before its code lands.
var pendingServices = map[string]string{}

// services lists the folders services/<name> with a binary services/<name>/cmd/<name>, other
// than the all-in-one: the services the deployment must run.
func services(t testing.TB) []string {
	t.Helper()
	mains, err := filepath.Glob(filepath.Join(repoRoot(t), "services", "*", "cmd", "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range mains {
		cmd := filepath.Base(filepath.Dir(m))
		svc := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(m))))
		if svc == "allinone" || cmd != svc {
			continue // the all-in-one, and helper programs such as obdsim or rsload
		}
		out = append(out, svc)
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatal("no services/<name>/cmd/<name>/main.go found: is CLEARSKY_REPO_ROOT right?")
	}
	return out
}

// deployedServices is services plus the pending ones whose code has not landed.
func deployedServices(t testing.TB) []string {
	t.Helper()
	out := services(t)
	for name := range pendingServices {
		if !contains(out, name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func readFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// short trims long tool output for an error message.
func short(s string) string {
	s = strings.TrimSpace(s)
	if lines := strings.Split(s, "\n"); len(lines) > 25 {
		s = strings.Join(lines[:25], "\n") + "\n..."
	}
	return s
}
