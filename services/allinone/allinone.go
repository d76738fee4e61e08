// Package allinone runs every ClearSky service in one process on one port, for a newcomer's
// first start, a demo, or a small site: with MONGODB_URI unset it embeds FerretDB (MongoDB's wire
// protocol over SQLite files under the data directory), with REDIS_URL unset it runs an
// in-process Redis, and on first start it loads the demo data from seeds/.
package allinone

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/libs/telemetry"
	"github.com/clearsky/clearsky/seeds"
	"github.com/clearsky/clearsky/services/accounts"
	"github.com/clearsky/clearsky/services/allinone/internal/embeddb"
	"github.com/clearsky/clearsky/services/checkpoint"
	"github.com/clearsky/clearsky/services/console"
	"github.com/clearsky/clearsky/services/disclosure"
	"github.com/clearsky/clearsky/services/fuel"
	"github.com/clearsky/clearsky/services/muck"
	"github.com/clearsky/clearsky/services/notify"
	"github.com/clearsky/clearsky/services/obd"
	"github.com/clearsky/clearsky/services/registry"
	"github.com/clearsky/clearsky/services/remotesensing"
)

// Config is the all-in-one's configuration: the platform's, plus where it keeps its files.
type Config struct {
	platform.Config
	DataDir        string // CLEARSKY_DATA_DIR, default ./data
	OBDAddr        string // CLEARSKY_OBD_ADDR, default 127.0.0.1:7700 (the OBD gateway's TCP port)
	RegistryPolicy string // CLEARSKY_REGISTRY_POLICY, optional
	NoSeed         bool   // CLEARSKY_NO_SEED=1 skips the demo data
	// PprofAddr, when set (CLEARSKY_PPROF_ADDR, e.g. 127.0.0.1:6060), serves Go's profiler there:
	// keep it on loopback.
	PprofAddr string
	// LogOutput receives the JSON logs; os.Stderr when nil.
	LogOutput io.Writer
	// Getenv reads the services' own settings (os.Getenv when nil).
	Getenv func(string) string
}

// The all-in-one's addresses when CLEARSKY_HTTP_ADDR and CLEARSKY_OBD_ADDR are unset: this
// machine only.
const (
	DefaultHTTPAddr = "127.0.0.1:8080"
	DefaultOBDAddr  = "127.0.0.1:7700"
)

// FromEnv reads the all-in-one's Config.
func FromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	pc, err := platform.FromEnv(getenv)
	if err != nil {
		return Config{}, err
	}
	c := Config{Config: pc, Getenv: getenv, DataDir: getenv("CLEARSKY_DATA_DIR"), OBDAddr: getenv("CLEARSKY_OBD_ADDR"),
		RegistryPolicy: getenv("CLEARSKY_REGISTRY_POLICY"), NoSeed: getenv("CLEARSKY_NO_SEED") == "1", PprofAddr: getenv("CLEARSKY_PPROF_ADDR")}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	// Local by default: the banner prints sign-in tokens. The per-service binaries, which run in
	// containers, keep platform's :8080 (and the all-in-one image sets both addresses).
	if strings.TrimSpace(getenv("CLEARSKY_HTTP_ADDR")) == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.OBDAddr == "" {
		c.OBDAddr = DefaultOBDAddr
	}
	return c, nil
}

// Secret returns the token-signing secret: CLEARSKY_JWT_SECRET when set, otherwise the one kept
// in the data directory, made on first use. The server and the token subcommand share it.
func Secret(c Config) ([]byte, error) {
	if c.JWTSecret != "" {
		if len(c.JWTSecret) < 32 {
			return nil, errors.New("CLEARSKY_JWT_SECRET must be at least 32 bytes")
		}
		return []byte(c.JWTSecret), nil
	}
	path := filepath.Join(c.DataDir, "jwt-secret")
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", c.DataDir, err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return []byte(secret), nil
}

// Run starts everything and serves until ctx ends. It tells out where to go next.
func Run(ctx context.Context, c Config, out io.Writer) error {
	if c.LogOutput == nil {
		c.LogOutput = os.Stderr
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	logger := slog.New(quietSeed{telemetry.NewLogger(c.LogOutput, c.LogLevel).Handler()}).With("service", "allinone")
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir %s (set CLEARSKY_DATA_DIR to a writable folder): %w", c.DataDir, err)
	}
	release, err := LockDataDir(c.DataDir)
	if err != nil {
		return err
	}
	defer release()
	secret, err := Secret(c)
	if err != nil {
		return err
	}
	c.JWTSecret = string(secret)
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "clearsky-allinone", Version: c.Version})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx)
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if c.MongoURI == "" {
		fmt.Fprintf(out, "starting embedded MongoDB (FerretDB on SQLite) in %s ...\n", filepath.Join(c.DataDir, "mongodb"))
		quiet := slog.New(slog.NewJSONHandler(c.LogOutput, &slog.HandlerOptions{Level: slog.LevelError}))
		srv, err := embeddb.Start(ctx, "127.0.0.1:0", filepath.Join(c.DataDir, "mongodb"), quiet)
		if err != nil {
			return err
		}
		defer srv.Wait()
		defer cancel()
		c.MongoURI = srv.URI()
		fmt.Fprintf(out, "embedded MongoDB: %s\n", c.MongoURI)
	}
	if c.RedisURL == "" {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("start in-process redis: %w", err)
		}
		defer m.Close()
		c.RedisURL = "redis://" + m.Addr() + "/0"
		fmt.Fprintf(out, "started in-process Redis on %s (set REDIS_URL to use a real one)\n", m.Addr())
	}
	deps, closeDeps, err := platform.Open(ctx, "allinone", c.Config, logger, tel)
	if err != nil {
		return err
	}
	defer closeDeps()
	engine, svcs, err := Build(ctx, c, deps)
	if err != nil {
		return err
	}
	if !c.NoSeed {
		if err := seed(ctx, deps.DB, engine, deps.Keys, out, logger); err != nil {
			return err
		}
	}
	if c.PprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		go func() { _ = httpserver.Run(ctx, c.PprofAddr, mux, logger, time.Second) }()
	}
	admin, err := bootstrap(ctx, svcs)
	if err != nil {
		return err
	}
	var demo []accounts.DemoAccount
	if !c.NoSeed {
		if demo, err = demoPeople(ctx, svcs); err != nil {
			return err
		}
	}
	banner(out, c, deps.Keys, admin, demo)
	return platform.Serve(ctx, c.HTTPAddr, engine, logger, svcs...)
}

// Build creates every service on deps and serves their routes from one engine. The services
// call each other through that engine, in process.
func Build(ctx context.Context, c Config, deps platform.Deps) (*gin.Engine, []platform.Service, error) {
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	engine := platform.Engine("allinone", deps)
	local := &http.Client{Transport: httpserver.InProcess(func() http.Handler { return engine })}
	deps.Vehicles = platform.NewVehicles("allinone", "http://allinone.internal", local, deps)
	// First: accounts makes deps.Keys verify its access tokens from its key ring, for every
	// service of the process (the JWKS is also served at this address).
	accCfg, err := accounts.ConfigFromEnv(c.Getenv)
	if err != nil {
		return nil, nil, err
	}
	accCfg.NotifyURL = "" // the notification service serves its webhook routes in this process
	people, err := accounts.New(ctx, accCfg, deps)
	if err != nil {
		return nil, nil, err
	}
	reg, err := registry.New(ctx, registry.Config{PolicyFile: c.RegistryPolicy}, deps)
	if err != nil {
		return nil, nil, err
	}
	obdCfg, err := obd.ConfigFromEnv(c.Getenv)
	if err != nil {
		return nil, nil, err
	}
	obdCfg.Gateway.Addr = c.OBDAddr
	telemetry, err := obd.New(ctx, obdCfg, deps)
	if err != nil {
		return nil, nil, err
	}
	muckCfg, err := muck.ConfigFromEnv(c.Getenv)
	if err != nil {
		return nil, nil, err
	}
	for part := range muckCfg.Owners {
		muckCfg.Owners[part] = "http://allinone.internal"
	}
	muckCfg.HTTP = local
	permits, err := muck.New(ctx, muckCfg, deps)
	if err != nil {
		return nil, nil, err
	}
	fuelCfg, err := fuel.ConfigFromEnv(c.Getenv)
	if err != nil {
		return nil, nil, err
	}
	sampling, err := fuel.New(ctx, fuelCfg, deps)
	if err != nil {
		return nil, nil, err
	}
	rsCfg, err := remotesensing.ConfigFromEnv(c.Getenv)
	if err != nil {
		return nil, nil, err
	}
	sensing, err := remotesensing.New(ctx, rsCfg, deps)
	if err != nil {
		return nil, nil, err
	}
	cpCfg, err := checkpoint.ConfigFromEnv(c.Getenv)
	if err != nil {
		return nil, nil, err
	}
	for part := range cpCfg.Owners {
		cpCfg.Owners[part] = "http://allinone.internal"
	}
	cpCfg.HTTP = local
	lookups, err := checkpoint.New(ctx, cpCfg, deps)
	if err != nil {
		return nil, nil, err
	}
	discCfg, err := disclosure.ConfigFromEnv(c.Getenv)
	if err != nil {
		return nil, nil, err
	}
	for k := range discCfg.Owners {
		discCfg.Owners[k] = "http://allinone.internal"
	}
	discCfg.HTTP = local
	public, err := disclosure.New(ctx, discCfg, deps)
	if err != nil {
		return nil, nil, err
	}
	notifyCfg, err := notify.ConfigFromEnv(c.Getenv)
	if err != nil {
		return nil, nil, err
	}
	notices, err := notify.New(ctx, notifyCfg, deps)
	if err != nil {
		return nil, nil, err
	}
	consoleCfg, err := console.ConfigFromEnv(c.Getenv)
	if err != nil {
		return nil, nil, err
	}
	svcs := []platform.Service{people, reg, telemetry, permits, sampling, sensing, lookups, public, notices, console.New(consoleCfg)}
	for _, s := range svcs {
		s.Routes(engine)
	}
	return engine, svcs, nil
}

// seed applies each demo file once: a file already applied with the same content is skipped.
// Its requests log at debug; one line says what was loaded.
func seed(ctx context.Context, db *mongo.Database, h gin.IRoutes, keys *auth.Keys, out io.Writer, logger *slog.Logger) error {
	files, err := seeds.Demo()
	if err != nil {
		return err
	}
	runs := db.Collection("seed_runs")
	var todo []seeds.File
	calls := 0
	for _, f := range files {
		n, err := runs.CountDocuments(ctx, bson.D{{Key: "_id", Value: f.Name}, {Key: "hash", Value: f.Hash}})
		if err != nil {
			return fmt.Errorf("read seed state: %w", err)
		}
		if n == 0 {
			todo = append(todo, f)
			calls += len(f.Steps)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	start := time.Now()
	fmt.Fprintf(out, "loading demo data (%d files, %d calls) ...", len(todo), calls)
	var total seeds.Result
	for _, f := range todo {
		r, err := seeds.Apply(seeding(ctx), h.(*gin.Engine), keys, f)
		total.Created += r.Created
		total.Present += r.Present
		if err != nil {
			fmt.Fprintln(out, " failed")
			return fmt.Errorf("load demo data: %w (start with CLEARSKY_NO_SEED=1 to skip it)", err)
		}
		_, err = runs.ReplaceOne(ctx, bson.D{{Key: "_id", Value: f.Name}},
			bson.D{{Key: "_id", Value: f.Name}, {Key: "hash", Value: f.Hash}, {Key: "applied_at", Value: time.Now().UTC()}},
			options.Replace().SetUpsert(true))
		if err != nil {
			fmt.Fprintln(out, " failed")
			return fmt.Errorf("record seed state: %w", err)
		}
	}
	fmt.Fprintf(out, " %d created, %d already present\n", total.Created, total.Present)
	logger.InfoContext(ctx, "demo_data_loaded", "files", len(todo), "calls", calls, "created", total.Created,
		"present", total.Present, "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// firstAdmin is the administrator a first start made, with its one-time password.
type firstAdmin struct{ username, password string }

// bootstrap makes the bureau and its administrator on a first start (nil afterwards).
func bootstrap(ctx context.Context, svcs []platform.Service) (*firstAdmin, error) {
	for _, s := range svcs {
		if a, ok := s.(*accounts.Service); ok {
			made, user, otp, err := a.Bootstrap(ctx)
			if err != nil || !made {
				return nil, err
			}
			return &firstAdmin{username: user, password: otp}, nil
		}
	}
	return nil, nil
}

// demoPeople makes the demo people on the start that loads the demo data.
func demoPeople(ctx context.Context, svcs []platform.Service) ([]accounts.DemoAccount, error) {
	for _, s := range svcs {
		if a, ok := s.(*accounts.Service); ok {
			return a.DemoPeople(ctx)
		}
	}
	return nil, nil
}

func banner(out io.Writer, c Config, keys *auth.Keys, admin *firstAdmin, demo []accounts.DemoAccount) {
	host := c.HTTPAddr
	if strings.HasPrefix(host, ":") {
		host = "localhost" + host
	}
	// Sign-in links for the web console: the token travels in the fragment, which never reaches
	// the server or its logs.
	link := func(role auth.Role, tenant string) string {
		tok, err := keys.Issue(auth.Principal{Role: role, Tenant: tenant, Subject: "demo-" + string(role)}, time.Now(), 12*time.Hour)
		if err != nil {
			return "(" + err.Error() + ")"
		}
		return "http://" + host + "/#token=" + tok
	}
	if !c.NoSeed {
		fmt.Fprintf(out, "\nWeb console: http://%s/  (demo sign-in links, valid 12 h):\n  officer: %s\n  bureau:  %s\n  fleet:   %s\n  station: %s\n",
			host, link(auth.Police, ""), link(auth.Bureau, ""), link(auth.Fleet, "fleet-shuozhou-logistics"), link(auth.Station, "st-shuocheng-01"))
	}
	if len(demo) > 0 {
		fmt.Fprintf(out, "\nDemo people (sign in on the console's sign-in page; passwords shown once, demo data only):\n")
		for _, d := range demo {
			fmt.Fprintf(out, "  %-8s %-13s %s\n", d.Role+":", d.Username, d.Password)
		}
	}
	if admin != nil {
		fmt.Fprintf(out, "\nFirst start: the bureau's administrator is %q with the one-time password\n  %s\n"+
			"Sign in with POST http://%s/v1/auth/sessions; the password must be changed at first sign-in\n"+
			"(POST /v1/auth/password) and a TOTP authenticator enrolled (POST /v1/auth/totp). This password is shown once.\n",
			admin.username, admin.password, host)
	}
	reach := "Listening on this machine only. To serve other machines, set CLEARSKY_HTTP_ADDR=:8080 and CLEARSKY_OBD_ADDR=:7700\n" +
		"(anyone who can reach it then signs in with a link above: keep them private)."
	if !loopback(c.HTTPAddr) || !loopback(c.OBDAddr) {
		reach = "Listening beyond this machine (CLEARSKY_HTTP_ADDR, CLEARSKY_OBD_ADDR): anyone who reaches it signs in with a link above."
	}
	tokenCmd := "go run ./services/allinone/cmd/clearsky token"
	if filepath.Clean(c.DataDir) != "data" {
		tokenCmd += " -data-dir " + c.DataDir
	}
	fmt.Fprintf(out, `
ClearSky is running: http://%[1]s  (health: /healthz, readiness: /readyz, metrics: /metrics)
OBD terminals (GB 17691 over TCP): %[3]s
Data: %[2]s
%[5]s

Get a token for a role (police, fleet, station, lab, bureau, construction, transport, repair, sensor, admin):
  %[4]s -role police
  %[4]s -role fleet -tenant fleet-shuozhou-logistics
Then, for example:
  TOKEN=$(%[4]s -role police | tail -n1)
  curl -H "Authorization: Bearer $TOKEN" 'http://%[1]s/v1/registry/status?plate=晋F89012&colour=yellow'
See README.md for more.
`, host, c.DataDir, c.OBDAddr, tokenCmd, reach)
}

// loopback reports whether a listen address is on this machine only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
