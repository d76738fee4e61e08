package stack

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
)

// LoadCompose loads root/docker-compose.yml as `docker compose config` would, interpolating
// with env (what the shell would give docker compose).
func LoadCompose(ctx context.Context, root string, env map[string]string) (*types.Project, error) {
	logrus.SetOutput(io.Discard) // compose-go's warnings; what matters comes back as errors
	p, err := loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("clearsky", true) })
	if err != nil {
		return nil, fmt.Errorf("docker-compose.yml: %w", err)
	}
	return p, nil
}

// ClearSkyServices are the compose services built from services/<name> (the Dockerfile's
// service target), sorted.
func ClearSkyServices(p *types.Project) []string {
	var out []string
	for name, s := range p.Services {
		if s.Build != nil && s.Build.Target == "service" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Addrs maps what a container reaches in the compose network (service name and container port)
// to the loopback address the same thing has in the stack.
type Addrs map[string]map[int]string

// Set records that service's container port is at hostport.
func (a Addrs) Set(service string, port int, hostport string) {
	if a[service] == nil {
		a[service] = map[int]string{}
	}
	a[service][port] = hostport
}

// defaultPorts are the ports URLs of these schemes mean when they name none.
var defaultPorts = map[string]int{"http": 80, "https": 443, "mongodb": 27017, "redis": 6379}

// listenAddr is a container's listen address on every interface: ":8080", "0.0.0.0:7700".
var listenAddr = regexp.MustCompile(`^(?:0\.0\.0\.0)?:([0-9]+)$`)

// MapValue maps one value of service's compose environment (or command) to the stack: its own
// listen addresses (":8080") to its loopback ports, and a URL whose host is a compose service to
// that service's loopback address. Nothing else changes, with one exception: FerretDB cannot
// announce a replica set, so a MongoDB URI loses its replicaSet option (a driver told to find
// rs0 would never select the server). A host of the compose network that the stack has no
// address for is an error, so a new dependency in the compose file cannot be silently skipped.
func (a Addrs) MapValue(p *types.Project, service, v string) (string, error) {
	if m := listenAddr.FindStringSubmatch(v); m != nil {
		port, _ := strconv.Atoi(m[1])
		hp, ok := a[service][port]
		if !ok {
			return "", fmt.Errorf("%s listens on %s, but the stack has no loopback port for %s's port %d", service, v, service, port)
		}
		return hp, nil
	}
	if !strings.Contains(v, "://") {
		return v, nil
	}
	u, err := url.Parse(v)
	if err != nil {
		return v, nil // not a URL after all
	}
	host := u.Hostname()
	if _, ok := p.Services[host]; !ok {
		return v, nil
	}
	port := defaultPorts[u.Scheme]
	if s := u.Port(); s != "" {
		port, _ = strconv.Atoi(s)
	}
	hp, ok := a[host][port]
	if !ok {
		return "", fmt.Errorf("%s is given %s, but the stack runs nothing for %s:%d", service, v, host, port)
	}
	u.Host = hp
	if u.Scheme == "mongodb" {
		q := u.Query()
		q.Del("replicaSet")
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// Environment is service's environment in the compose file, mapped to the stack (MapValue),
// as KEY=VALUE sorted by key. A variable compose leaves unset (no value, none in the shell)
// is left out, as docker compose leaves it out of the container.
func (a Addrs) Environment(p *types.Project, service string) ([]string, error) {
	s, ok := p.Services[service]
	if !ok {
		return nil, fmt.Errorf("docker-compose.yml has no service %s", service)
	}
	var out []string
	for k, v := range s.Environment {
		if v == nil {
			continue
		}
		m, err := a.MapValue(p, service, *v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out = append(out, k+"="+m)
	}
	sort.Strings(out)
	return out, nil
}

var (
	edgeListen   = regexp.MustCompile(`(?m)^(\s*listen\s+)([0-9]+)(\s*;)`)
	edgeUpstream = regexp.MustCompile(`(proxy_pass\s+http://)([a-z0-9-]+):([0-9]+)(\s*;)`)
)

// EdgeServer rewrites the edge's server block (deploy/edge/nginx.conf) for the stack: it
// listens on edge's loopback address, and each proxy_pass goes to its service's.
func (a Addrs) EdgeServer(conf string) (string, error) {
	var errs []string
	n := 0
	out := edgeListen.ReplaceAllStringFunc(conf, func(m string) string {
		g := edgeListen.FindStringSubmatch(m)
		port, _ := strconv.Atoi(g[2])
		hp, ok := a["edge"][port]
		if !ok {
			errs = append(errs, fmt.Sprintf("the edge listens on %d, which the stack has no port for", port))
			return m
		}
		n++
		return g[1] + hp + g[3]
	})
	ups := 0
	out = edgeUpstream.ReplaceAllStringFunc(out, func(m string) string {
		g := edgeUpstream.FindStringSubmatch(m)
		port, _ := strconv.Atoi(g[3])
		hp, ok := a[g[2]][port]
		if !ok {
			errs = append(errs, fmt.Sprintf("the edge proxies to %s:%d, which the stack does not run", g[2], port))
			return m
		}
		ups++
		return g[1] + hp + g[4]
	})
	if n == 0 || ups == 0 {
		errs = append(errs, "found no listen port or no proxy_pass to rewrite")
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("deploy/edge/nginx.conf: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

// nginxMain wraps the edge's server block into a whole nginx configuration that keeps every file
// under dir and runs in the foreground as one process (no master and workers: a worker would
// outlive a stack that was killed, still holding the port).
func nginxMain(dir, server string) string {
	return fmt.Sprintf(`# Generated by scripts/stack from deploy/edge/nginx.conf: do not edit.
daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    default_type application/octet-stream;
%[2]s
}
`, dir, server)
}
