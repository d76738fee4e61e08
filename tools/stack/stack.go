// Package stack runs ClearSky's deployed topology on one machine, every part a process on
// loopback: Redis, FerretDB on PostgreSQL as MongoDB, Jaeger as the trace backend, every
// service binary (services/<name>/cmd/<name>) and nginx as the edge with deploy/edge/nginx.conf.
// Each service gets exactly the environment docker-compose.yml gives it, read with compose-go,
// with only hosts and ports mapped to loopback (Addrs.MapValue), so the two cannot drift.
// scripts/stack runs it (cmd/stack) and its test (TestStack).
package stack

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// Config says what to start and where.
type Config struct {
	Root   string // the repository
	Work   string // binaries, configurations, data and logs (logs/<part>.log)
	Jaeger string // the Jaeger v2 binary (scripts/stack builds it into the tools cache)
	// Postgres is a PostgreSQL URL whose user may create databases, e.g.
	// postgres://postgres@127.0.0.1:5432/postgres.
	Postgres string
	// Database is the PostgreSQL database FerretDB keeps the stack's data in: dropped and
	// created at the start, so every run starts empty.
	Database string
	// Env is what docker-compose.yml is interpolated with (the shell's environment, as for
	// docker compose). CLEARSKY_JWT_SECRET is generated when it has none.
	Env map[string]string
	// Seed runs the compose file's seed job (the demo data, through the edge) once the edge is up.
	Seed bool
	// Extra are more main packages of the repository built into Bin (the test's OBD simulator).
	Extra []string
	Log   io.Writer // progress lines
}

// Stack is a running stack.
type Stack struct {
	cfg     Config
	project *types.Project
	addrs   Addrs
	bin     string
	secret  string

	mu    sync.Mutex
	procs map[string]*proc // by part: redis, ferretdb, jaeger, edge and each service
	order []string         // start order, stopped in reverse
}

// Start builds the binaries and starts every part, each once the parts it depends on answer.
// On an error, what was started is stopped.
func Start(ctx context.Context, cfg Config) (st *Stack, err error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	env := map[string]string{}
	for k, v := range cfg.Env {
		env[k] = v
	}
	if len(env["CLEARSKY_JWT_SECRET"]) < 32 {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		env["CLEARSKY_JWT_SECRET"] = hex.EncodeToString(b)
	}
	for _, d := range []string{"bin", "logs", "redis", "edge"} {
		if err := os.MkdirAll(filepath.Join(cfg.Work, d), 0o755); err != nil {
			return nil, err
		}
	}
	// nginx's workers run as an unprivileged user when it is started as root: they must reach
	// their temporary files under Work.
	_ = os.Chmod(cfg.Work, 0o755)
	p, err := LoadCompose(ctx, cfg.Root, env)
	if err != nil {
		return nil, err
	}
	st = &Stack{cfg: cfg, project: p, addrs: Addrs{}, bin: filepath.Join(cfg.Work, "bin"), secret: env["CLEARSKY_JWT_SECRET"], procs: map[string]*proc{}}
	defer func() {
		if err != nil {
			st.Stop()
			st = nil
		}
	}()
	if err := st.allocate(); err != nil {
		return nil, err
	}
	if err := st.build(ctx); err != nil {
		return nil, err
	}
	if err := st.startRedis(); err != nil {
		return nil, err
	}
	if err := st.startFerretDB(ctx); err != nil {
		return nil, err
	}
	if err := st.startJaeger(); err != nil {
		return nil, err
	}
	if err := st.startServices(); err != nil {
		return nil, err
	}
	if err := st.startEdge(); err != nil {
		return nil, err
	}
	if cfg.Seed {
		if err := st.seed(ctx); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (st *Stack) logf(format string, a ...any) { fmt.Fprintf(st.cfg.Log, "stack: "+format+"\n", a...) }

// freePort is a loopback address nothing listens on now.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// allocate gives every address of the compose network the stack uses a free loopback port:
// each ClearSky service's published ports, and the backing services' ports the services and
// the edge reach.
func (st *Stack) allocate() error {
	set := func(service string, port int) error {
		if _, ok := st.addrs[service][port]; ok {
			return nil
		}
		hp, err := freePort()
		if err != nil {
			return err
		}
		st.addrs.Set(service, port, hp)
		return nil
	}
	for _, name := range ClearSkyServices(st.project) {
		for _, pc := range st.project.Services[name].Ports {
			if err := set(name, int(pc.Target)); err != nil {
				return err
			}
		}
	}
	// What stands in for the backing services: FerretDB for mongo, Jaeger's own OTLP receiver
	// for the collector (Jaeger v2 is an OpenTelemetry collector), its query API and UI.
	for _, b := range []struct {
		service string
		port    int
	}{{"mongo", 27017}, {"redis", 6379}, {"otel-collector", 4318}, {"jaeger", 16686}, {"jaeger", 16685}, {"edge", 8080}} {
		if err := set(b.service, b.port); err != nil {
			return err
		}
	}
	return nil
}

// build compiles every service binary and the all-in-one (FerretDB, tokens, the seed job).
func (st *Stack) build(ctx context.Context) error {
	pkgs := []string{"./services/allinone/cmd/clearsky"}
	for _, name := range ClearSkyServices(st.project) {
		pkgs = append(pkgs, "./services/"+name+"/cmd/"+name)
	}
	pkgs = append(pkgs, st.cfg.Extra...)
	st.logf("building %d binaries into %s ...", len(pkgs), st.bin)
	t0 := time.Now()
	// -trimpath: the same compiled packages whatever the checkout's path (a CI clone reuses the
	// build cache); -s -w: smaller binaries, quicker links.
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", st.bin + "/"}, pkgs...)...)
	cmd.Dir = st.cfg.Root
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	st.logf("built in %s", time.Since(t0).Round(100*time.Millisecond))
	return nil
}

// baseEnv is what the parts that are not ClearSky services get: a PATH and a HOME.
func baseEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

func (st *Stack) spawn(name string, env []string, argv ...string) (*proc, error) {
	p, err := spawn(name, filepath.Join(st.cfg.Work, "logs", name+".log"), env, argv...)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	st.procs[name] = p
	if !slices.Contains(st.order, name) {
		st.order = append(st.order, name)
	}
	st.mu.Unlock()
	return p, nil
}

// Addr is the loopback address of service's container port.
func (st *Stack) Addr(service string, port int) string { return st.addrs[service][port] }

// URL is the http:// base of service: the edge, a ClearSky service, or jaeger (its UI and query API).
func (st *Stack) URL(service string) string {
	if service == "jaeger" {
		return "http://" + st.Addr("jaeger", 16686)
	}
	return "http://" + st.Addr(service, 8080)
}

// Services are the ClearSky services, sorted.
func (st *Stack) Services() []string { return ClearSkyServices(st.project) }

// Bin is the directory of the stack's binaries.
func (st *Stack) Bin() string { return st.bin }

// Secret is the token secret every service shares.
func (st *Stack) Secret() string { return st.secret }

func (st *Stack) startRedis() error {
	// The compose file's Redis command, on the stack's port and directory.
	r, ok := st.project.Services["redis"]
	if !ok || len(r.Command) == 0 || r.Command[0] != "redis-server" {
		return errors.New("docker-compose.yml: the redis service must run redis-server")
	}
	host, port, _ := net.SplitHostPort(st.Addr("redis", 6379))
	argv := append(slices.Clone([]string(r.Command)), "--bind", host, "--port", port, "--dir", filepath.Join(st.cfg.Work, "redis"), "--save", "")
	p, err := st.spawn("redis", baseEnv(), argv...)
	if err != nil {
		return err
	}
	if err := p.waitFor("PONG", 10*time.Second, func() error { return redisPing(st.Addr("redis", 6379)) }); err != nil {
		return err
	}
	st.logf("redis on %s", st.Addr("redis", 6379))
	return nil
}

// redisPing sends PING to the Redis at addr.
func redisPing(addr string) error {
	line, err := RedisCommand(addr, "PING")
	if err == nil && !strings.HasPrefix(line, "+PONG") {
		err = fmt.Errorf("redis answered %q", line)
	}
	return err
}

// RedisCommand sends one command to the Redis at addr and returns the first line of its answer
// (":1", "+OK", "-ERR ...").
func RedisCommand(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// pgURL is cfg.Postgres with another database.
func (st *Stack) pgURL(db string) string {
	base, _, _ := strings.Cut(st.cfg.Postgres, "?")
	if i := strings.LastIndex(base, "/"); i > len("postgres://") {
		base = base[:i]
	}
	return base + "/" + db
}

// psql runs SQL statements on the server's postgres database.
func (st *Stack) psql(ctx context.Context, stmts ...string) error {
	args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", st.cfg.Postgres}
	for _, s := range stmts {
		args = append(args, "-c", s)
	}
	cmd := exec.CommandContext(ctx, "psql", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("psql %s: %w\n%s", strings.Join(stmts, "; "), err, out)
	}
	return nil
}

func (st *Stack) startFerretDB(ctx context.Context) error {
	db := st.cfg.Database
	if err := st.psql(ctx, `DROP DATABASE IF EXISTS "`+db+`" WITH (FORCE)`, `CREATE DATABASE "`+db+`"`); err != nil {
		return err
	}
	p, err := st.spawn("ferretdb", baseEnv(), filepath.Join(st.bin, "clearsky"), "ferretdb", "-addr", st.Addr("mongo", 27017), "-postgresql", st.pgURL(db))
	if err != nil {
		return err
	}
	if err := p.waitFor("a listening port", 20*time.Second, func() error { return dial(st.Addr("mongo", 27017)) }); err != nil {
		return err
	}
	st.logf("ferretdb on %s, data in PostgreSQL database %s", st.Addr("mongo", 27017), db)
	return nil
}

// DropDatabase drops the stack's PostgreSQL database (after Stop).
func (st *Stack) DropDatabase(ctx context.Context) error {
	return st.psql(ctx, `DROP DATABASE IF EXISTS "`+st.cfg.Database+`" WITH (FORCE)`)
}

func dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// get answers nil when url answers 200.
func get(url string) error {
	c := http.Client{Timeout: 2 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<10))
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, res.StatusCode, b)
	}
	return nil
}

func (st *Stack) startJaeger() error {
	p, err := st.spawn("jaeger", baseEnv(
		"JAEGER_OTLP_HTTP_ADDR="+st.Addr("otel-collector", 4318),
		"JAEGER_QUERY_HTTP_ADDR="+st.Addr("jaeger", 16686),
		"JAEGER_QUERY_GRPC_ADDR="+st.Addr("jaeger", 16685),
		"JAEGER_UI_ASSETS="+st.cfg.Env["JAEGER_UI_ASSETS"]),
		st.cfg.Jaeger, "--config", filepath.Join(st.cfg.Root, "deploy", "jaeger", "config.yaml"))
	if err != nil {
		return err
	}
	if err := p.waitFor("its query API", 30*time.Second, func() error { return get(st.URL("jaeger") + "/api/services") }); err != nil {
		return err
	}
	if err := p.waitFor("its OTLP receiver", 10*time.Second, func() error { return dial(st.Addr("otel-collector", 4318)) }); err != nil {
		return err
	}
	st.logf("jaeger: OTLP on %s, UI and query API on %s", st.Addr("otel-collector", 4318), st.URL("jaeger"))
	return nil
}

// startServices starts the ClearSky services in waves: each once the services it depends on in
// the compose file are ready.
func (st *Stack) startServices() error {
	names := st.Services()
	ready := map[string]bool{}
	for len(ready) < len(names) {
		var wave []string
		for _, name := range names {
			if ready[name] {
				continue
			}
			ok := true
			for dep := range st.project.Services[name].DependsOn {
				if slices.Contains(names, dep) && !ready[dep] {
					ok = false
				}
			}
			if ok {
				wave = append(wave, name)
			}
		}
		if len(wave) == 0 {
			return errors.New("docker-compose.yml: the services' depends_on form a cycle")
		}
		for _, name := range wave {
			if err := st.spawnService(name); err != nil {
				return err
			}
		}
		for _, name := range wave {
			if err := st.waitReady(name); err != nil {
				return err
			}
			ready[name] = true
		}
		st.logf("ready: %s", strings.Join(wave, ", "))
	}
	return nil
}

// ServiceEnv is the environment service runs with: its compose environment, mapped.
func (st *Stack) ServiceEnv(service string) ([]string, error) {
	return st.addrs.Environment(st.project, service)
}

func (st *Stack) spawnService(name string) error {
	env, err := st.ServiceEnv(name)
	if err != nil {
		return fmt.Errorf("docker-compose.yml: %s: %w", name, err)
	}
	_, err = st.spawn(name, env, filepath.Join(st.bin, name))
	return err
}

func (st *Stack) waitReady(name string) error {
	st.mu.Lock()
	p := st.procs[name]
	st.mu.Unlock()
	return p.waitFor("200 on /readyz", 60*time.Second, func() error { return get(st.URL(name) + "/readyz") })
}

func (st *Stack) startEdge() error {
	b, err := os.ReadFile(filepath.Join(st.cfg.Root, "deploy", "edge", "nginx.conf"))
	if err != nil {
		return err
	}
	server, err := st.addrs.EdgeServer(string(b))
	if err != nil {
		return err
	}
	dir := filepath.Join(st.cfg.Work, "edge")
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxMain(dir, server)), 0o644); err != nil {
		return err
	}
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		for _, c := range []string{"/usr/sbin/nginx", "/sbin/nginx"} {
			if _, e := os.Stat(c); e == nil {
				nginx, err = c, nil
			}
		}
		if err != nil {
			return fmt.Errorf("nginx is not installed (Debian: apt-get install nginx)")
		}
	}
	p, err := st.spawn("edge", baseEnv(), nginx, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	if err != nil {
		return err
	}
	if err := p.waitFor("200 on /healthz", 10*time.Second, func() error { return get(st.URL("edge") + "/healthz") }); err != nil {
		return err
	}
	st.logf("edge (nginx, %s) on %s", conf, st.URL("edge"))
	return nil
}

// seed runs the compose file's seed job: its command and environment, mapped, with the all-in-one.
func (st *Stack) seed(ctx context.Context) error {
	s, ok := st.project.Services["seed"]
	if !ok {
		return errors.New("docker-compose.yml has no seed service")
	}
	args := make([]string, len(s.Command))
	for i, a := range s.Command {
		m, err := st.addrs.MapValue(st.project, "seed", a)
		if err != nil {
			return fmt.Errorf("docker-compose.yml: seed: %w", err)
		}
		args[i] = m
	}
	env, err := st.ServiceEnv("seed")
	if err != nil {
		return fmt.Errorf("docker-compose.yml: seed: %w", err)
	}
	env = append(env, "CLEARSKY_DATA_DIR="+filepath.Join(st.cfg.Work, "seed"))
	cmd := exec.CommandContext(ctx, filepath.Join(st.bin, "clearsky"), args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(filepath.Join(st.cfg.Work, "logs", "seed.log"), out, 0o644)
	if err != nil {
		return fmt.Errorf("seed %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	st.logf("demo data loaded (seed job)")
	return nil
}

// Token signs a token for role (and tenant, and subject: whom it names; empty: role@tenant)
// with the stack's secret, as `clearsky token` does.
func (st *Stack) Token(ctx context.Context, role, tenant, subject string) (string, error) {
	args := []string{"token", "-role", role}
	if tenant != "" {
		args = append(args, "-tenant", tenant)
	}
	if subject != "" {
		args = append(args, "-subject", subject)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(st.bin, "clearsky"), args...)
	cmd.Env = baseEnv("CLEARSKY_JWT_SECRET="+st.secret, "CLEARSKY_DATA_DIR="+filepath.Join(st.cfg.Work, "token"))
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("clearsky token -role %s: %w", role, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

func (st *Stack) proc(name string) (*proc, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	p, ok := st.procs[name]
	if !ok {
		return nil, fmt.Errorf("the stack runs no %s", name)
	}
	return p, nil
}

// Kill ends a part at once (SIGKILL), as a crash would.
func (st *Stack) Kill(name string) error {
	p, err := st.proc(name)
	if err != nil {
		return err
	}
	p.kill()
	return nil
}

// Restart starts a killed or stopped service or Redis again, as it was started, and waits until
// it answers.
func (st *Stack) Restart(name string) error {
	if !slices.Contains(st.Services(), name) && name != "redis" {
		return fmt.Errorf("restarting %s is not supported: only a service or redis", name)
	}
	p, err := st.proc(name)
	if err != nil {
		return err
	}
	p.stop(5 * time.Second)
	np, err := st.spawn(name, p.env, p.argv...)
	if err != nil {
		return err
	}
	if name == "redis" {
		return np.waitFor("PONG", 10*time.Second, func() error { return redisPing(st.Addr("redis", 6379)) })
	}
	return st.waitReady(name)
}

// Stop ends every part: the edge and the services first (SIGTERM to each process group, SIGKILL
// after 10 s), then what they ran on (after 3 s: Jaeger, which keeps spans in memory only, can
// take longer to stop than anything it could lose is worth).
func (st *Stack) Stop() {
	st.mu.Lock()
	var front, back []*proc
	for _, name := range st.order {
		if slices.Contains([]string{"redis", "ferretdb", "jaeger"}, name) {
			back = append(back, st.procs[name])
		} else {
			front = append(front, st.procs[name])
		}
	}
	st.mu.Unlock()
	for i, group := range [][]*proc{front, back} {
		grace := []time.Duration{10 * time.Second, 3 * time.Second}[i]
		var wg sync.WaitGroup
		for _, p := range group {
			wg.Go(func() {
				if p.stop(grace) {
					st.logf("%s did not stop within %s of SIGTERM: killed", p.name, grace)
				}
			})
		}
		wg.Wait()
	}
}
