package deploycheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// chartValues is charts/clearsky/values.yaml.
func chartValues(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := yaml.Unmarshal([]byte(readFile(t, "charts/clearsky/values.yaml")), &v); err != nil {
		t.Fatalf("charts/clearsky/values.yaml: %v", err)
	}
	return v
}

func chartServices(t testing.TB) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	svcs, _ := chartValues(t)["services"].(map[string]any)
	for name, v := range svcs {
		m, _ := v.(map[string]any)
		out[name] = m
	}
	return out
}

// TestEveryServiceIsDeployed: each services/<name>/cmd/<name> has a compose service, a chart
// entry and a Dockerfile build (the Dockerfile builds any such folder with --build-arg SERVICE;
// TestDockerfile checks that), and nothing is deployed that has no code.
func TestEveryServiceIsDeployed(t *testing.T) {
	root := repoRoot(t)
	code := services(t)
	chart := chartServices(t)
	p, err := loadCompose(t, root, "docker-compose.yml", composeEnv)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	for _, name := range code {
		if _, ok := chart[name]; !ok {
			t.Errorf("services/%s/cmd/%s has no chart entry: add services.%s to charts/clearsky/values.yaml (and its env, and its row in charts/clearsky/README.md)", name, name, name)
		}
		if _, ok := p.Services[name]; !ok {
			t.Errorf("services/%s/cmd/%s has no compose service: add a %s block to docker-compose.yml like registry's", name, name, name)
		}
		if why, ok := pendingServices[name]; ok {
			t.Errorf("services/%s/cmd/%s exists now: remove %q (%s) from pendingServices in tools/deploycheck/main_test.go", name, name, name, why)
		}
	}
	var deployed []string
	for name := range chart {
		deployed = append(deployed, name)
	}
	for name, s := range p.Services {
		if s.Build != nil && s.Build.Target == "service" && !contains(deployed, name) {
			deployed = append(deployed, name)
		}
	}
	sort.Strings(deployed)
	for _, name := range deployed {
		if !contains(code, name) {
			if _, pending := pendingServices[name]; !pending {
				t.Errorf("%s is deployed (chart or compose) but services/%s/cmd/%s/main.go does not exist", name, name, name)
			}
		}
	}
}

// platformService reports whether services/<name>/cmd/<name> runs on libs/platform, which needs
// MongoDB, Redis, the token secret and the registry (docs/configuration.md).
func platformService(t testing.TB, name string) bool {
	t.Helper()
	return strings.Contains(readFile(t, filepath.Join("services", name, "cmd", name, "main.go")), `"github.com/clearsky/clearsky/libs/platform"`)
}

// TestNeedsMatchTheCode: a service's chart entry gives it MongoDB, Redis, the token secret and
// the registry exactly when its binary runs on libs/platform.
func TestNeedsMatchTheCode(t *testing.T) {
	chart := chartServices(t)
	defaults, _ := chartValues(t)["serviceDefaults"].(map[string]any)
	defNeeds, _ := defaults["needs"].(map[string]any)
	for _, name := range services(t) {
		entry, ok := chart[name]
		if !ok {
			continue
		}
		needs, _ := entry["needs"].(map[string]any)
		want := platformService(t, name)
		for _, k := range []string{"mongodb", "redis", "jwtSecret", "registry"} {
			got, ok := needs[k].(bool)
			if !ok {
				got, _ = defNeeds[k].(bool)
			}
			if got != want {
				t.Errorf("services.%s.needs.%s is %v, want %v: services/%s/cmd/%s %s libs/platform", name, k, got, want, name, name, map[bool]string{true: "runs on", false: "does not run on"}[want])
			}
		}
	}
}

var (
	envLiteral = regexp.MustCompile(`"(CLEARSKY_[A-Z0-9_]+)"`)
	// settingLiteral is a setting's name quoted in Go code: ClearSky's own and the connection
	// settings every service on libs/platform reads (the OTEL_* ones are the SDK's standard set).
	settingLiteral = regexp.MustCompile(`"((?:CLEARSKY|MONGODB|REDIS)_[A-Z0-9_]+|LOG_LEVEL)"`)
	// commonEnv is what the chart sets for every service (ConfigMap <release>-common, the Secret)
	// or computes (OBD's address, the service URLs); TestEveryVariableIsDeployed finds each in
	// the chart's templates.
	commonEnv = map[string]bool{
		"CLEARSKY_HTTP_ADDR": true, "CLEARSKY_REDIS_PREFIX": true, "CLEARSKY_JWT_SECRET": true,
		"CLEARSKY_REGISTRY_URL": true, "CLEARSKY_VERSION": true, "CLEARSKY_OBD_ADDR": true,
		"CLEARSKY_ACCOUNTS_URL": true, "CLEARSKY_TRUSTED_PROXIES": true, "CLEARSKY_MONGODB_INDEXES": true,
		"MONGODB_URI": true, "MONGODB_DATABASE": true, "REDIS_URL": true, "LOG_LEVEL": true,
	}
	// notDeployed are read by code under services/ or libs/platform but are no setting of a
	// deployed service: test-only and all-in-one-only settings.
	notDeployed = map[string]bool{"CLEARSKY_REQUIRE_INTEGRATION": true, "CLEARSKY_DATA_DIR": true, "CLEARSKY_NO_SEED": true}
	// runtimeEnv may be given to a service without it naming them: the OpenTelemetry SDK's and
	// the Go runtime's own variables.
	runtimeEnv = regexp.MustCompile(`^(OTEL_[A-Z_]+|GOGC|GOMEMLIMIT)$`)
	serviceURL = regexp.MustCompile(`^CLEARSKY_([A-Z]+)_URL$`)
)

// serviceCalls maps each service to the other services whose base URL it reads
// (CLEARSKY_<NAME>_URL), the registry not counted: every service calls the registry.
func serviceCalls(t testing.TB) map[string][]string {
	t.Helper()
	all := services(t)
	out := map[string][]string{}
	for _, name := range all {
		for _, k := range envReadBy(t, name) {
			if m := serviceURL.FindStringSubmatch(k); m != nil {
				other := strings.ToLower(m[1])
				if other != name && other != "registry" && contains(all, other) {
					out[name] = append(out[name], other)
				}
			}
		}
	}
	return out
}

// envReadBy lists the CLEARSKY_* names quoted in the non-test Go files of services/<name>, not
// counting its helper programs (cmd/<other>).
func envReadBy(t testing.TB, name string) []string {
	t.Helper()
	return namesIn(t, filepath.Join("services", name), name, envLiteral)
}

// settingsReadBy lists every setting services/<name>'s binary reads: the names quoted in its
// own code and, when it runs on libs/platform, in libs/platform's.
func settingsReadBy(t testing.TB, name string) []string {
	t.Helper()
	out := namesIn(t, filepath.Join("services", name), name, settingLiteral)
	if platformService(t, name) {
		out = append(out, namesIn(t, filepath.Join("libs", "platform"), "", settingLiteral)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// namesIn lists the names re quotes in the non-test Go files under rel (testdata and, when
// binary is set, the helper programs cmd/<other> left out).
func namesIn(t testing.TB, rel, binary string, re *regexp.Regexp) []string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), rel)
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if parts := strings.Split(rel, string(filepath.Separator)); binary != "" && len(parts) == 2 && parts[0] == "cmd" && parts[1] != binary {
				return filepath.SkipDir
			}
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			seen[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestEveryVariableIsDeployed holds the four places a setting lives to each other: every
// variable a service's binary reads is given to it by docker-compose.yml (a value, or
// ${NAME:-} to pass the shell's through), is in its chart entry's env (with its default or
// empty; or set by the chart for every service) and described in the chart README, and is in
// docs/configuration.md; and neither the compose file nor the chart gives a service a variable
// it does not read (a misspelt or retired name would be silently ignored).
func TestEveryVariableIsDeployed(t *testing.T) {
	chart := chartServices(t)
	readme := readFile(t, "charts/clearsky/README.md")
	doc := readFile(t, "docs/configuration.md")
	var templates strings.Builder
	for _, f := range []string{"configmap.yaml", "secret.yaml", "deployment.yaml"} {
		templates.WriteString(readFile(t, filepath.Join("charts", "clearsky", "templates", f)))
	}
	for k := range commonEnv {
		if !strings.Contains(templates.String(), k) {
			t.Errorf("%s is taken as set by the chart for every service, but no template of charts/clearsky sets it", k)
		}
	}
	p, err := loadCompose(t, repoRoot(t), "docker-compose.yml", composeEnv)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	all := services(t)
	for _, name := range all {
		entry, inChart := chart[name]
		cs, inCompose := p.Services[name]
		if !inChart || !inCompose {
			continue // TestEveryServiceIsDeployed says so
		}
		env, _ := entry["env"].(map[string]any)
		read := settingsReadBy(t, name)
		for _, k := range read {
			if notDeployed[k] {
				continue
			}
			if !strings.Contains(doc, "`"+k+"`") {
				t.Errorf("services/%s reads %s: describe it in docs/configuration.md", name, k)
			}
			if _, ok := cs.Environment[k]; !ok {
				t.Errorf("services/%s reads %s: give it in services.%s.environment of docker-compose.yml (%s: ${%s:-} passes the shell's through, empty keeps the default)", name, k, name, k, k)
			}
			if commonEnv[k] {
				continue
			}
			if m := serviceURL.FindStringSubmatch(k); m != nil && contains(all, strings.ToLower(m[1])) {
				other := strings.ToLower(m[1])
				calls, _ := entry["calls"].([]any)
				found := false
				for _, c := range calls {
					found = found || c == other
				}
				if !found {
					t.Errorf("services/%s reads %s: add %s to services.%s.calls in charts/clearsky/values.yaml (the chart sets the URL and opens the NetworkPolicy)", name, k, other, name)
				}
				continue
			}
			if _, ok := env[k]; !ok {
				t.Errorf("services/%s reads %s: add it to services.%s.env in charts/clearsky/values.yaml (\"\" keeps the service's default)", name, k, name)
			}
			if !strings.Contains(readme, "`"+k+"`") {
				t.Errorf("services/%s reads %s: describe it in charts/clearsky/README.md", name, k)
			}
		}
		for k := range cs.Environment {
			if !contains(read, k) && !runtimeEnv.MatchString(k) {
				t.Errorf("docker-compose.yml gives %s %s, which services/%s does not read", name, k, name)
			}
		}
		for k := range env {
			if !contains(read, k) && !runtimeEnv.MatchString(k) {
				t.Errorf("charts/clearsky/values.yaml gives services.%s.env %s, which services/%s does not read", name, k, name)
			}
		}
	}
}

// ingressRoute is where an Ingress (Prefix paths: the longest matching prefix wins) sends path.
func ingressRoute(owner map[string]string, path string) (to, prefix string) {
	for p, svc := range owner {
		if (path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/")) && len(p) > len(prefix) {
			to, prefix = svc, p
		}
	}
	return to, prefix
}

// TestIngressCoversEveryRoute: every path of a service's OpenAPI contract
// (services/<name>/openapi.yaml) is routed by the Ingress to that service: its longest matching
// prefix (not the console's catch-all "/") is one of that service's ingressPaths, or, for a
// path that says `x-clearsky-via: <service>`, one of that service's, which forwards it (its
// chart entry calls the path's service).
func TestIngressCoversEveryRoute(t *testing.T) {
	chart := chartServices(t)
	owner := map[string]string{} // ingress path -> service
	for name, entry := range chart {
		paths, _ := entry["ingressPaths"].([]any)
		for _, p := range paths {
			if other, dup := owner[p.(string)]; dup {
				t.Errorf("ingress path %s is given to both %s and %s", p, other, name)
			}
			owner[p.(string)] = name
		}
	}
	for _, name := range services(t) {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), "services", name, "openapi.yaml"))
		if os.IsNotExist(err) {
			t.Logf("services/%s has no openapi.yaml: its routes are not checked", name)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var api struct {
			Paths map[string]map[string]any `json:"paths"`
		}
		if err := yaml.Unmarshal(b, &api); err != nil {
			t.Fatalf("services/%s/openapi.yaml: %v", name, err)
		}
		for path, item := range api.Paths {
			want := name
			if via, _ := item["x-clearsky-via"].(string); via != "" {
				calls, _ := chart[via]["calls"].([]any)
				if !slices.Contains(calls, any(name)) {
					t.Errorf("services/%s/openapi.yaml: %s comes via %s, whose chart entry does not call %s", name, path, via, name)
				}
				want = via
			}
			switch to, prefix := ingressRoute(owner, path); {
			case to == "" || prefix == "/":
				t.Errorf("services/%s/openapi.yaml: %s is under none of services.%s.ingressPaths in charts/clearsky/values.yaml: add its prefix", name, path, name)
			case to != want:
				t.Errorf("services/%s/openapi.yaml: the Ingress sends %s to %s (prefix %s), not to %s", name, path, to, prefix, want)
			}
		}
	}
}
