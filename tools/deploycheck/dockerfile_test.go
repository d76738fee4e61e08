package deploycheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

// stage is one FROM ... [AS name] and what follows it.
type stage struct {
	name, base string
	line       int
	ins        []instruction
}

func parseDockerfile(text string) []stage {
	var (
		stages []stage
		buf    strings.Builder
		start  int
	)
	flush := func() {
		s := strings.TrimSpace(buf.String())
		buf.Reset()
		if s == "" {
			return
		}
		cmd, args, _ := strings.Cut(s, " ")
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := stage{line: in.line}
			for _, w := range f {
				if !strings.HasPrefix(w, "--") {
					st.base = w
					break
				}
			}
			if len(f) >= 3 && strings.EqualFold(f[len(f)-2], "AS") {
				st.name = f[len(f)-1]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) > 0 {
			stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
		}
	}
	for i, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if buf.Len() == 0 && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if buf.Len() > 0 && strings.HasPrefix(t, "#") {
			continue // a comment inside a continued instruction
		}
		if buf.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(t, "\\") {
			buf.WriteString(strings.TrimSuffix(t, "\\") + " ")
			continue
		}
		buf.WriteString(t)
		flush()
	}
	flush()
	return stages
}

var (
	pinnedTag    = regexp.MustCompile(`^[a-z0-9./_-]+:[A-Za-z0-9._-]*[0-9][A-Za-z0-9._-]*$`)
	pinnedDigest = regexp.MustCompile(`^[a-z0-9./_:-]+@sha256:[a-f0-9]{64}$`)
	secretName   = regexp.MustCompile(`(?i)(secret|passw|token|api_?key|private_?key|credential)`)
	secretFile   = regexp.MustCompile(`(?i)(^|/)(\.env|id_rsa|id_ed25519|[^/]*\.pem|[^/]*\.key|[^/]*\.p12)$`)
	goBuildOut   = regexp.MustCompile(`go build .*?-o\s+(\S+)\s+"?(\./[^"\s;&]+)"?`)
	ldflagsX     = regexp.MustCompile(`-ldflags=?"[^"]*-X [^"]*=\$\{VERSION\}`)
)

// pinned reports whether an image reference names a fixed version: a tag with a digit (not
// latest) or a sha256 digest.
func pinned(image string) bool {
	return pinnedDigest.MatchString(image) || (pinnedTag.MatchString(image) && !strings.HasSuffix(image, ":latest"))
}

func nonRootUser(u string) bool {
	user, _, _ := strings.Cut(strings.TrimSpace(u), ":")
	if n, err := strconv.Atoi(user); err == nil {
		return n > 0
	}
	return user != "" && user != "root"
}

// checkDockerfile holds the Dockerfile to the rules in its own header, for the given services.
func checkDockerfile(text string, root string, svcs []string) []error {
	var errs []error
	fail := func(line int, format string, a ...any) {
		errs = append(errs, fmt.Errorf("Dockerfile:%d: %s", line, fmt.Sprintf(format, a...)))
	}
	stages := parseDockerfile(text)
	if len(stages) == 0 {
		return []error{fmt.Errorf("Dockerfile: no FROM")}
	}
	byName := map[string]*stage{}
	used := map[string]bool{}
	for i := range stages {
		st := &stages[i]
		if _, ok := byName[st.base]; ok {
			used[st.base] = true
		} else if st.base != "scratch" && !pinned(st.base) {
			fail(st.line, "base image %q is not pinned: use a version tag or @sha256 digest", st.base)
		}
		for _, in := range st.ins {
			if in.cmd == "COPY" || in.cmd == "ADD" {
				for _, f := range strings.Fields(in.args) {
					if from, ok := strings.CutPrefix(f, "--from="); ok {
						used[from] = true
					}
				}
			}
		}
		if st.name != "" {
			byName[st.name] = st
		}
	}

	var buildStage *stage
	for i := range stages {
		st := &stages[i]
		final := st.name == "" || !used[st.name]
		user := ""
		for _, in := range st.ins {
			switch in.cmd {
			case "USER":
				user = in.args
			case "ENV", "ARG":
				for _, kv := range strings.Fields(in.args) {
					k, v, _ := strings.Cut(kv, "=")
					if secretName.MatchString(k) {
						fail(in.line, "%s %s looks like a secret: pass secrets at run time, never in the image", in.cmd, k)
					}
					if strings.Contains(k, "CGO_ENABLED") && v != "0" {
						fail(in.line, "CGO_ENABLED=%s: the images are scratch, the binaries must be static (0)", v)
					}
				}
			case "COPY", "ADD":
				f := strings.Fields(in.args)
				var src []string
				fromStage := false
				for _, w := range f[:len(f)-1] {
					if strings.HasPrefix(w, "--from=") {
						fromStage = true
					}
					if !strings.HasPrefix(w, "--") {
						src = append(src, w)
					}
				}
				for _, s := range src {
					if in.cmd == "ADD" && strings.Contains(s, "://") {
						fail(in.line, "ADD %s fetches an unpinned remote file", s)
					}
					if !fromStage && secretFile.MatchString(strings.TrimSuffix(s, "/")) {
						fail(in.line, "%s copies %s, which looks like a secret", in.cmd, s)
					}
				}
			case "RUN":
				if m := goBuildOut.FindStringSubmatch(in.args); m != nil && strings.Contains(m[2], "${SERVICE}") {
					buildStage = st
					if m[2] != "./services/${SERVICE}/cmd/${SERVICE}" {
						fail(in.line, "the service build compiles %s, want ./services/${SERVICE}/cmd/${SERVICE}", m[2])
					}
				}
				if strings.Contains(in.args, "go build") && strings.Contains(in.args, "./services/") && !ldflagsX.MatchString(in.args) {
					fail(in.line, "go build of a ClearSky binary without -ldflags \"-X ...=${VERSION}\": stamp the version")
				}
			}
		}
		if final {
			if user == "" {
				fail(st.line, "stage %q runs as root: add USER with a non-root uid", st.name)
			} else if !nonRootUser(user) {
				fail(st.line, "stage %q runs as USER %s: use a non-root uid", st.name, user)
			}
		}
	}
	if !strings.Contains(text, "CGO_ENABLED=0") {
		errs = append(errs, fmt.Errorf("Dockerfile: CGO_ENABLED=0 is not set: the images are scratch, the binaries must be static"))
	}

	// The default target (the last stage) runs the binary built from services/${SERVICE}/cmd/${SERVICE}.
	last := &stages[len(stages)-1]
	if buildStage == nil {
		errs = append(errs, fmt.Errorf("Dockerfile: no stage runs go build ... ./services/${SERVICE}/cmd/${SERVICE}"))
	} else {
		out := goBuildOut.FindStringSubmatch(strings.Join(runs(buildStage), "\n"))[1]
		entry := entrypoint(last)
		copied := false
		for _, in := range last.ins {
			f := strings.Fields(in.args)
			if in.cmd == "COPY" && contains(f, "--from="+buildStage.name) && contains(f, out) && f[len(f)-1] == entry {
				copied = true
			}
		}
		if !copied {
			errs = append(errs, fmt.Errorf("Dockerfile:%d: the last stage's ENTRYPOINT %q is not the binary %s copied from stage %q", last.line, entry, out, buildStage.name))
		}
	}
	for _, s := range svcs {
		if _, err := os.Stat(filepath.Join(root, "services", s, "cmd", s, "main.go")); err != nil {
			if _, pending := pendingServices[s]; !pending {
				errs = append(errs, fmt.Errorf("Dockerfile: SERVICE=%s builds ./services/%s/cmd/%s, which does not exist", s, s, s))
			}
		}
	}
	if _, ok := byName["allinone"]; !ok {
		errs = append(errs, fmt.Errorf("Dockerfile: no allinone stage (the all-in-one image, also compose's seed job)"))
	}
	return errs
}

func runs(st *stage) []string {
	var out []string
	for _, in := range st.ins {
		if in.cmd == "RUN" {
			out = append(out, in.args)
		}
	}
	return out
}

func entrypoint(st *stage) string {
	for _, in := range st.ins {
		if in.cmd == "ENTRYPOINT" {
			a := strings.Trim(in.args, "[] ")
			first, _, _ := strings.Cut(a, ",")
			return strings.Trim(first, `" `)
		}
	}
	return ""
}

func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	for _, err := range checkDockerfile(readFile(t, "Dockerfile"), root, deployedServices(t)) {
		t.Error(err)
	}
}

// TestDockerfileRejects proves the check fails on broken Dockerfiles.
func TestDockerfileRejects(t *testing.T) {
	root := repoRoot(t)
	good := readFile(t, "Dockerfile")
	tests := []struct{ name, old, new, want string }{
		{"unpinned base", "FROM golang:1.26.8 AS source", "FROM golang:latest AS source", "not pinned"},
		{"untagged base", "FROM golang:1.26.8 AS source", "FROM golang AS source", "not pinned"},
		{"root user", "USER 65532:65532\nEXPOSE 8080\n", "USER root\nEXPOSE 8080\n", "use a non-root uid"},
		{"no user", "USER 65532:65532\nEXPOSE 8080\n", "EXPOSE 8080\n", "runs as root"},
		{"secret in env", "ENV CLEARSKY_HTTP_ADDR=:8080 CLEARSKY_VERSION", "ENV CLEARSKY_JWT_SECRET=abc CLEARSKY_HTTP_ADDR=:8080 CLEARSKY_VERSION", "looks like a secret"},
		{"wrong cmd path", `"./services/${SERVICE}/cmd/${SERVICE}"`, `"./services/${SERVICE}/cmd/server"`, "want ./services/${SERVICE}/cmd/${SERVICE}"},
		{"no version stamp", `-ldflags="-s -w -X github.com/clearsky/clearsky/libs/platform.buildVersion=${VERSION}" \
      -o /out/service`, `-ldflags="-s -w" -o /out/service`, "stamp the version"},
		{"wrong entrypoint", `ENTRYPOINT ["/usr/local/bin/clearsky-service"]`, `ENTRYPOINT ["/usr/local/bin/probe"]`, "is not the binary"},
		{"cgo", "ENV CGO_ENABLED=0", "ENV CGO_ENABLED=1", "CGO_ENABLED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.old) {
				t.Fatalf("the Dockerfile no longer contains %q: update this test", tc.old)
			}
			errs := checkDockerfile(strings.Replace(good, tc.old, tc.new, 1), root, services(t))
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
			}
			t.Errorf("got %v, want an error containing %q", errs, tc.want)
		})
	}
}

// TestDockerignore checks the build context: what the Dockerfile copies is in it, secrets and
// local state are not.
func TestDockerignore(t *testing.T) {
	lines := strings.Split(readFile(t, ".dockerignore"), "\n")
	var patterns []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	if len(patterns) == 0 || patterns[0] != "*" {
		t.Fatalf(".dockerignore must start with * and allow only what the build needs, got %v", patterns)
	}
	for _, st := range parseDockerfile(readFile(t, "Dockerfile")) {
		for _, in := range st.ins {
			if in.cmd != "COPY" || strings.Contains(in.args, "--from=") {
				continue
			}
			f := strings.Fields(in.args)
			for _, src := range f[:len(f)-1] {
				if !strings.HasPrefix(src, "--") && !contains(patterns, "!"+src) {
					t.Errorf(".dockerignore: COPY %s at Dockerfile:%d is not allowed in (add !%s)", src, in.line, src)
				}
			}
		}
	}
	for _, want := range []string{"**/.env", "**/*.pem", "**/*.key", "**/*_test.go"} {
		if !contains(patterns, want) {
			t.Errorf(".dockerignore: add %s", want)
		}
	}
}
