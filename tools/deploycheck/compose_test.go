package deploycheck

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
)

// composeEnv is the environment the stack is documented to need (docs/deploy.md): only the token
// secret; everything else has a default.
var composeEnv = map[string]string{"CLEARSKY_JWT_SECRET": strings.Repeat("k", 32)}

// loadCompose loads a compose file as `docker compose config` would: schema validation (unknown
// keys fail), interpolation (a required variable that is unset fails), references between
// services (an undefined service fails).
func loadCompose(t testing.TB, dir, file string, env map[string]string) (*types.Project, error) {
	t.Helper()
	logrus.SetOutput(io.Discard) // compose-go's warnings; what matters comes back as errors
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, file)}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("clearsky", true) })
}

var (
	// baseEnv is what every ClearSky service is given.
	baseEnv = []string{"CLEARSKY_HTTP_ADDR", "CLEARSKY_VERSION", "LOG_LEVEL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"}
	// platformEnv is what a service built on libs/platform is given besides.
	platformEnv = []string{"MONGODB_URI", "MONGODB_DATABASE", "REDIS_URL", "CLEARSKY_REDIS_PREFIX", "CLEARSKY_JWT_SECRET", "CLEARSKY_REGISTRY_URL"}
)

// composeExpect is what the compose file must provide.
type composeExpect struct {
	services []string            // the ClearSky services
	platform map[string]bool     // which of them run on libs/platform (MongoDB, Redis, secret, registry)
	calls    map[string][]string // calls[name]: the services name calls over HTTP
	routes   map[string]string   // the chart's Ingress table: path prefix -> service
	edgeConf string              // the edge's nginx.conf
}

func expectCompose(t testing.TB) composeExpect {
	t.Helper()
	e := composeExpect{services: deployedServices(t), platform: map[string]bool{}, calls: serviceCalls(t), routes: map[string]string{},
		edgeConf: readFile(t, "deploy/edge/nginx.conf")}
	for _, name := range services(t) {
		e.platform[name] = platformService(t, name)
	}
	for name, entry := range chartServices(t) {
		if enabled, _ := entry["enabled"].(bool); !enabled {
			continue
		}
		paths, _ := entry["ingressPaths"].([]any)
		for _, p := range paths {
			e.routes[p.(string)] = name
		}
	}
	return e
}

// edgeLocation is one `location PREFIX { proxy_pass http://SERVICE:8080; }` of the edge.
var edgeLocation = regexp.MustCompile(`location\s+(/\S*)\s*\{\s*proxy_pass\s+http://([a-z0-9-]+):8080;\s*\}`)

// checkCompose holds a loaded project to the stack's rules.
func checkCompose(p *types.Project, exp composeExpect) []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf("docker-compose.yml: "+format, a...)) }
	svcs, calls := exp.services, exp.calls
	for _, name := range svcs {
		s, ok := p.Services[name]
		if !ok {
			fail("service %s (services/%s/cmd/%s) is missing: add a block like registry's", name, name, name)
			continue
		}
		if s.Build == nil || s.Build.Target != "service" || s.Build.Args["SERVICE"] == nil || *s.Build.Args["SERVICE"] != name {
			fail("%s: build must be {context: ., target: service, args: {SERVICE: %s}}", name, name)
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 || !strings.Contains(strings.Join(s.HealthCheck.Test, " "), "/readyz") {
			fail("%s: needs a healthcheck on /readyz", name)
		}
		if s.User == "" || !nonRootUser(s.User) || !s.ReadOnly {
			fail("%s: must run as a non-root user with a read-only root file system", name)
		}
		platform, known := exp.platform[name]
		if !known {
			platform = true // a pending service: assume the usual
		}
		for _, k := range baseEnv {
			if v := s.Environment[k]; v == nil || *v == "" {
				fail("%s: environment %s is not set", name, k)
			}
		}
		for _, k := range platformEnv {
			v := s.Environment[k]
			switch {
			case platform && (v == nil || *v == ""):
				fail("%s: environment %s is not set", name, k)
			case !platform && v != nil:
				fail("%s: is given %s but does not run on libs/platform: give it only what it uses", name, k)
			}
		}
		if v := s.Environment["OTEL_SERVICE_NAME"]; v != nil && *v != "clearsky-"+name {
			fail("%s: OTEL_SERVICE_NAME is %q, want clearsky-%s", name, *v, name)
		}
		if platform {
			for _, dep := range []string{"mongo", "redis"} {
				if d, ok := s.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
					fail("%s: depends_on %s must have condition service_healthy", name, dep)
				}
			}
			if name != "registry" && name != "accounts" { // accounts looks no vehicle up
				if _, ok := s.DependsOn["registry"]; !ok {
					fail("%s: must depend on registry (every service looks vehicles up there)", name)
				}
			}
		}
		// Env wiring: every URL points at a service of the stack that this one waits for.
		keys := make([]string, 0, len(s.Environment))
		for k := range s.Environment {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := s.Environment[k]
			if v == nil || !strings.Contains(*v, "://") {
				continue
			}
			u, err := url.Parse(*v)
			if err != nil {
				fail("%s: %s=%q is not a URL: %v", name, k, *v, err)
				continue
			}
			host := u.Hostname()
			if _, ok := p.Services[host]; !ok {
				fail("%s: %s points at %q, which is not a service of the stack", name, k, host)
				continue
			}
			// The accounts service is given the registry's URL like every service on libs/platform
			// but looks no vehicle up; the registry waits for it (the JWKS), not the other way.
			if _, ok := s.DependsOn[host]; !ok && host != name && !(name == "accounts" && host == "registry") && !waitsFor(p, host, name) {
				fail("%s: %s points at %s but %s does not depend_on it", name, k, host, name)
			}
		}
	}
	// A service that calls another (it reads CLEARSKY_<NAME>_URL) is told where it is and waits for it.
	for _, name := range svcs {
		s, ok := p.Services[name]
		if !ok {
			continue
		}
		for _, other := range calls[name] {
			k := "CLEARSKY_" + strings.ToUpper(other) + "_URL"
			if v := s.Environment[k]; v == nil || *v != "http://"+other+":8080" {
				fail("%s: %s must be http://%s:8080 (%s calls %s)", name, k, other, name, other)
			}
			if d, ok := s.DependsOn[other]; (!ok || d.Condition != types.ServiceConditionHealthy) && !waitsFor(p, other, name) {
				fail("%s: depends_on %s must have condition service_healthy (%s calls %s)", name, other, name, other)
			}
		}
	}
	// The backing services.
	if m, ok := p.Services["mongo"]; !ok || !strings.HasPrefix(m.Image, "mongo:7") || !strings.Contains(strings.Join(m.Command, " "), "--replSet") || m.HealthCheck == nil {
		fail("mongo: must be MongoDB 7 (image mongo:7.x) started with --replSet, with a healthcheck")
	}
	if r, ok := p.Services["redis"]; !ok || !strings.HasPrefix(r.Image, "redis:") || r.HealthCheck == nil {
		fail("redis: must be a Redis image with a healthcheck")
	}
	if _, ok := p.Services["otel-collector"]; !ok {
		fail("otel-collector: missing (OTEL_EXPORTER_OTLP_ENDPOINT points at it)")
	}
	if _, ok := p.Services["jaeger"]; !ok {
		fail("jaeger: missing (the collector exports to it)")
	}
	// The edge routes as the chart's Ingress does and waits for every service.
	if s, ok := p.Services["edge"]; !ok {
		fail("edge: missing (the entry point: deploy/edge/nginx.conf)")
	} else {
		if s.HealthCheck == nil {
			fail("edge: needs a healthcheck")
		}
		for _, name := range svcs {
			if d, ok := s.DependsOn[name]; !ok || d.Condition != types.ServiceConditionHealthy {
				fail("edge: depends_on %s must have condition service_healthy", name)
			}
		}
		got := map[string]string{}
		for _, m := range edgeLocation.FindAllStringSubmatch(exp.edgeConf, -1) {
			got[m[1]] = m[2]
			if _, ok := p.Services[m[2]]; !ok {
				fail("edge: deploy/edge/nginx.conf sends %s to %s, which is not a service of the stack", m[1], m[2])
			}
		}
		for prefix, svc := range exp.routes {
			if got[prefix] != svc {
				fail("edge: deploy/edge/nginx.conf must send %s to %s, as the chart's services.%s.ingressPaths does (add: location %s { proxy_pass http://%s:8080; })", prefix, svc, svc, prefix, svc)
			}
		}
		for prefix, svc := range got {
			if exp.routes[prefix] != svc {
				fail("edge: deploy/edge/nginx.conf sends %s to %s, which the chart's ingressPaths do not: keep the two tables the same", prefix, svc)
			}
		}
	}
	// The demo data job waits for the edge, through which it calls the services.
	if s, ok := p.Services["seed"]; !ok {
		fail("seed: missing (the one-shot job that loads seeds/demo)")
	} else {
		if s.Build == nil || s.Build.Target != "allinone" {
			fail("seed: must build the Dockerfile's allinone target")
		}
		if d, ok := s.DependsOn["edge"]; !ok || d.Condition != types.ServiceConditionHealthy {
			fail("seed: depends_on edge must have condition service_healthy")
		}
	}
	for name, s := range p.Services {
		if s.Image != "" && s.Build == nil && !pinned(s.Image) {
			fail("%s: image %q is not pinned to a version", name, s.Image)
		}
	}
	return errs
}

// unguardedVar finds ${NAME} and $NAME references without a default (:-, -) or a required
// message (:?, ?): those would silently become empty.
var unguardedVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

func TestCompose(t *testing.T) {
	root := repoRoot(t)
	p, err := loadCompose(t, root, "docker-compose.yml", composeEnv)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	for _, err := range checkCompose(p, expectCompose(t)) {
		t.Error(err)
	}
	text := readFile(t, "docker-compose.yml")
	for _, m := range unguardedVar.FindAllStringSubmatch(strings.ReplaceAll(text, "$$", ""), -1) {
		t.Errorf("docker-compose.yml: %s has no default: write ${%s:-default} or ${%s:?why it is required}", m[0], m[1]+m[2], m[1]+m[2])
	}
	// The files the stack mounts exist.
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("docker-compose.yml: %s mounts %s, which does not exist", name, v.Source)
				}
			}
		}
	}
}

// TestComposeMissingSecret: without CLEARSKY_JWT_SECRET the stack refuses to load, naming it.
func TestComposeMissingSecret(t *testing.T) {
	_, err := loadCompose(t, repoRoot(t), "docker-compose.yml", map[string]string{})
	if err == nil || !strings.Contains(err.Error(), "CLEARSKY_JWT_SECRET") {
		t.Fatalf("got %v, want an error naming CLEARSKY_JWT_SECRET", err)
	}
}

// TestComposeRejects proves the checks fail on broken copies of the compose file.
func TestComposeRejects(t *testing.T) {
	good := readFile(t, "docker-compose.yml")
	tests := []struct{ name, old, new, want string }{
		{"unknown key", "    read_only: true\n", "    read_only: true\n    restart_policy: always\n", "restart_policy"},
		{"undefined service", "      jaeger: { condition: service_started }", "      tempo: { condition: service_started }", "tempo"},
		{"missing service", "  muck:\n", "  muckx:\n", "muck"},
		{"missing env", "  REDIS_URL: redis://redis:6379/0\n", "", "REDIS_URL is not set"},
		{"unguarded variable", "${LOG_LEVEL:-info}", "${LOG_LEVEL}", "has no default"},
		{"no healthcheck", `    test: ["CMD", "/usr/local/bin/probe", "http://127.0.0.1:8080/readyz"]`, `    test: ["CMD", "/usr/local/bin/probe", "http://127.0.0.1:8080/healthz"]`, "healthcheck on /readyz"},
		{"wrong wiring", "MONGODB_URI: mongodb://mongo:27017/?replicaSet=rs0", "MONGODB_URI: mongodb://mongodb:27017/?replicaSet=rs0", "not a service of the stack"},
		{"unhealthy dependency", "      mongo: { condition: service_healthy }\n      redis: { condition: service_healthy }\n      otel-collector: { condition: service_started }\n\n  obd:",
			"      mongo: { condition: service_started }\n      redis: { condition: service_healthy }\n      otel-collector: { condition: service_started }\n\n  obd:", "service_healthy"},
		{"secret given to the console", "      OTEL_SERVICE_NAME: clearsky-console\n", "      OTEL_SERVICE_NAME: clearsky-console\n      CLEARSKY_JWT_SECRET: x\n", "does not run on libs/platform"},
		{"call not wired", "      CLEARSKY_OBD_URL: http://obd:8080\n", "", "CLEARSKY_OBD_URL must be"},
		{"root", `  user: "65532:65532"`, `  user: "0:0"`, "non-root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.old) {
				t.Fatalf("docker-compose.yml no longer contains %q: update this test", tc.old)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(strings.Replace(good, tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			var errs []error
			p, err := loadCompose(t, dir, "docker-compose.yml", composeEnv)
			if err != nil {
				errs = append(errs, err)
			} else {
				errs = checkCompose(p, expectCompose(t))
				for _, m := range unguardedVar.FindAllStringSubmatch(strings.Replace(good, tc.old, tc.new, 1), -1) {
					errs = append(errs, fmt.Errorf("%s has no default", m[0]))
				}
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
			}
			t.Errorf("got %v, want an error containing %q", errs, tc.want)
		})
	}
}

// TestComposeEdgeRejects: an edge that routes differently from the chart's Ingress fails.
func TestComposeEdgeRejects(t *testing.T) {
	p, err := loadCompose(t, repoRoot(t), "docker-compose.yml", composeEnv)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, old, new, want string }{
		{"route missing", "    location /v1/obd { proxy_pass http://obd:8080; }\n", "", "must send /v1/obd to obd"},
		{"route to the wrong service", "location /v1/muck { proxy_pass http://muck:8080; }", "location /v1/muck { proxy_pass http://fuel:8080; }", "must send /v1/muck to muck"},
		{"route the chart lacks", "    location / {", "    location /v1/extra { proxy_pass http://fuel:8080; }\n    location / {", "which the chart's ingressPaths do not"},
		{"route to no service", "location /v1/fuel { proxy_pass http://fuel:8080; }", "location /v1/fuel { proxy_pass http://fuel-svc:8080; }", "not a service of the stack"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exp := expectCompose(t)
			if !strings.Contains(exp.edgeConf, tc.old) {
				t.Fatalf("deploy/edge/nginx.conf no longer contains %q: update this test", tc.old)
			}
			exp.edgeConf = strings.Replace(exp.edgeConf, tc.old, tc.new, 1)
			errs := checkCompose(p, exp)
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
			}
			t.Errorf("got %v, want an error containing %q", errs, tc.want)
		})
	}
}

// waitsFor reports whether service a waits for service b, directly or through the services it
// waits for. A service that calls one waiting for it cannot wait for it in turn (compose refuses
// the cycle): it forwards requests at run time (accounts forwards the webhook routes to notify)
// and answers 502 until the other is up.
func waitsFor(p *types.Project, a, b string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(n string) bool {
		if seen[n] {
			return false
		}
		seen[n] = true
		s, ok := p.Services[n]
		if !ok {
			return false
		}
		for dep := range s.DependsOn {
			if dep == b || walk(dep) {
				return true
			}
		}
		return false
	}
	return walk(a)
}
