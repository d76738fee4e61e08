// Package docs_test holds the documentation to what the repository does: every setting the
// code and scripts read is in configuration.md, and the README's two commands say what they do
// before a long wait.
package docs_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/clearsky/clearsky/docs"
)

// root is the repository, the parent of docs/.
const root = ".."

// sources are the files whose settings must be documented: code, scripts, the Makefile.
func sources(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{"services", "libs", "seeds", "tools", "scripts", ".ci"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "node_modules" || d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(p, ".go") || strings.HasPrefix(filepath.Clean(p), filepath.Join(root, "scripts")) ||
				strings.HasPrefix(filepath.Clean(p), filepath.Join(root, ".ci")) {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return append(out, filepath.Join(root, "Makefile"))
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEverySettingIsInConfigurationMD(t *testing.T) {
	doc := read(t, "configuration.md")
	name := regexp.MustCompile(`\b(?:CLEARSKY|TEST)_[A-Z0-9_]*[A-Z0-9]\b`)
	missing := map[string][]string{}
	for _, p := range sources(t) {
		for _, v := range name.FindAllString(read(t, p), -1) {
			if !strings.Contains(doc, "`"+v+"`") && !slices.Contains(missing[v], p) {
				missing[v] = append(missing[v], p)
			}
		}
	}
	for v, files := range missing {
		t.Errorf("%s is read (%s) but not in docs/configuration.md", v, strings.Join(files, ", "))
	}
}

// makeDryRun is what `make -n TARGET` would run.
func makeDryRun(t *testing.T, target string) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		if os.Getenv("CLEARSKY_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("make is missing but CLEARSKY_REQUIRE_INTEGRATION=1")
		}
		t.Skip("make is missing")
	}
	out, err := exec.Command("make", "--no-print-directory", "-n", "-C", root, target).CombinedOutput()
	if err != nil {
		t.Fatalf("make -n %s: %v\n%s", target, err, out)
	}
	return string(out)
}

// `make run` says it is building before the compile a first start waits minutes for.
func TestMakeRunSaysBuildingFirst(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(makeDryRun(t, "run")), "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "go build") || strings.Contains(l, "go run") })
	if i < 1 || !strings.HasPrefix(lines[0], "echo") || !strings.Contains(lines[0], "building") {
		t.Fatalf("make run runs\n%s\nwant an echo saying it is building before the compile", strings.Join(lines, "\n"))
	}
}

// `make test` says up front that its deployment checks and its stack test build tools into a
// cache once. The script is run with a go that fails at once, so only what it says before the
// tests is seen.
func TestMakeTestSaysItBuildsToolsUpFront(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is missing")
	}
	stub := t.TempDir()
	if err := os.WriteFile(filepath.Join(stub, "go"), []byte("#!/bin/sh\necho stub-go-called\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "test"))
	cmd.Env = append(os.Environ(), "PATH="+stub+string(os.PathListSeparator)+os.Getenv("PATH"),
		"TEST_MONGODB_URI=mongodb://127.0.0.1:1/", "TEST_REDIS_URL=redis://127.0.0.1:1/0", "CLEARSKY_SKIP_DEPLOY_CHECK=", "CLEARSKY_SKIP_STACK=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // fails: the stub go
	said, _, _ := strings.Cut(out.String(), "stub-go-called")
	for _, w := range []string{"helm", "etcd", "kube-apiserver", "CLEARSKY_SKIP_DEPLOY_CHECK", "jaeger", "CLEARSKY_SKIP_STACK"} {
		if !strings.Contains(said, w) {
			t.Fatalf("scripts/test said before the tests:\n%s\nwant it to name %s (the tools its deployment checks build once)", said, w)
		}
	}
}

// policy.md has one line for each of the action plan's 33 tasks, and every "task N" the
// README, the docs and the contracts show links to it.
func TestEveryTaskLinksToPolicy(t *testing.T) {
	tasks := docs.Tasks()
	if len(tasks) != 33 {
		t.Fatalf("policy.md has %d task lines, want the action plan's 33", len(tasks))
	}
	for i, task := range tasks {
		if task.Number != strconv.Itoa(i+1) || task.Requires == "" || task.Enforced == "" {
			t.Errorf("policy.md line %d: %+v", i+1, task)
		}
	}
	files := []string{filepath.Join(root, "README.md")}
	mds, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, mds...)
	bare := regexp.MustCompile(`\b[Tt]asks? \d+`)
	linked := regexp.MustCompile(`\[[^\]]*\]\((?:docs/)?policy\.md#task-\d+\)`)
	for _, f := range files {
		if filepath.Base(f) == "policy.md" {
			continue
		}
		for n, line := range strings.Split(read(t, f), "\n") {
			if bare.MatchString(linked.ReplaceAllString(line, "")) {
				t.Errorf("%s:%d names a task without linking it to policy.md: %s", f, n+1, line)
			}
		}
	}
}

// A contract that names a task links policy.md.
func TestContractsLinkPolicy(t *testing.T) {
	specs, _ := filepath.Glob(filepath.Join(root, "services", "*", "openapi.yaml"))
	for _, f := range specs {
		s := read(t, f)
		if regexp.MustCompile(`\b[Tt]asks? \d+`).MatchString(s) && !strings.Contains(s, "(../../docs/policy.md") {
			t.Errorf("%s names tasks of the action plan but does not link docs/policy.md", f)
		}
	}
}

// User-facing docs and contracts carry no wording from how the work was organised.
func TestNoInternalWording(t *testing.T) {
	files := []string{filepath.Join(root, "README.md")}
	for _, glob := range []string{"docs/*.md", "services/*/openapi.yaml"} {
		m, _ := filepath.Glob(filepath.Join(root, glob))
		files = append(files, m...)
	}
	internal := regexp.MustCompile(`(?i)\bissue \d+|\bthe brief\b|\bthe lead\b|reported to the|shared/`)
	for _, f := range files {
		for n, line := range strings.Split(read(t, f), "\n") {
			if m := internal.FindString(line); m != "" {
				t.Errorf("%s:%d says %q: %s", f, n+1, m, line)
			}
		}
	}
}
