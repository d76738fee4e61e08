// Package platform opens what every ClearSky service runs on — MongoDB, Redis, tracing, logging
// and token keys — from one environment-read Config, and serves a set of services behind the
// common HTTP edge. Each service's cmd and the all-in-one runner call it, so the wiring is
// written once.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/redisdb"
	"github.com/clearsky/clearsky/libs/telemetry"
	"github.com/clearsky/clearsky/libs/vehicleinfo"
)

// buildVersion is stamped by the image build (-ldflags -X ...platform.buildVersion=...).
var buildVersion = "dev"

// Config is the environment every service reads. See docs/configuration.md.
type Config struct {
	HTTPAddr      string // CLEARSKY_HTTP_ADDR, default :8080
	MongoURI      string // MONGODB_URI (required for a single service; the all-in-one embeds one when unset)
	MongoDatabase string // MONGODB_DATABASE, default clearsky
	MongoIndexes  string // CLEARSKY_MONGODB_INDEXES: auto (default: only unique ones on FerretDB), all or unique
	RedisURL      string // REDIS_URL (required for a single service; the all-in-one runs one in-process when unset)
	RedisPrefix   string // CLEARSKY_REDIS_PREFIX, default "cs:"
	JWTSecret     string // CLEARSKY_JWT_SECRET, at least 32 bytes (secret: never logged)
	RegistryURL   string // CLEARSKY_REGISTRY_URL, default http://registry:8080 (the registry's HTTP base)
	// AccountsURL (CLEARSKY_ACCOUNTS_URL, default http://accounts:8080) is the accounts
	// service's base: its /.well-known/jwks.json verifies EdDSA access tokens.
	AccountsURL string
	// TrustedProxies (CLEARSKY_TRUSTED_PROXIES, comma-separated addresses or CIDRs) may say who
	// the client is (X-Forwarded-For, X-Real-IP); by default nobody: the peer is the client.
	TrustedProxies []string
	LogLevel       slog.Level
	Version        string
}

// FromEnv reads Config from the environment with getenv (os.Getenv when nil).
func FromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	or := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	lvl, err := telemetry.ParseLevel(getenv("LOG_LEVEL"))
	if err != nil {
		return Config{}, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	var proxies []string
	for _, p := range strings.Split(getenv("CLEARSKY_TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return Config{}, fmt.Errorf("CLEARSKY_TRUSTED_PROXIES: %q is neither an address nor a CIDR (e.g. 10.0.0.0/8)", p)
			}
		}
		proxies = append(proxies, p)
	}
	return Config{
		TrustedProxies: proxies,
		HTTPAddr:       or("CLEARSKY_HTTP_ADDR", ":8080"),
		MongoURI:       getenv("MONGODB_URI"),
		MongoDatabase:  or("MONGODB_DATABASE", "clearsky"),
		MongoIndexes:   or("CLEARSKY_MONGODB_INDEXES", "auto"),
		RedisURL:       getenv("REDIS_URL"),
		RedisPrefix:    or("CLEARSKY_REDIS_PREFIX", "cs:"),
		JWTSecret:      getenv("CLEARSKY_JWT_SECRET"),
		RegistryURL:    or("CLEARSKY_REGISTRY_URL", "http://registry:8080"),
		AccountsURL:    strings.TrimRight(or("CLEARSKY_ACCOUNTS_URL", "http://accounts:8080"), "/"),
		LogLevel:       lvl,
		Version:        or("CLEARSKY_VERSION", buildVersion),
	}, nil
}

// Validate checks that a standalone service has what it needs.
func (c Config) Validate() error {
	var errs []error
	if c.MongoURI == "" {
		errs = append(errs, errors.New("MONGODB_URI is required (e.g. mongodb://127.0.0.1:27017/?replicaSet=rs0)"))
	}
	if c.RedisURL == "" {
		errs = append(errs, errors.New("REDIS_URL is required (e.g. redis://127.0.0.1:6379/0)"))
	}
	if len(c.JWTSecret) < 32 {
		errs = append(errs, errors.New("CLEARSKY_JWT_SECRET must be set to at least 32 bytes"))
	}
	return errors.Join(errs...)
}

// LogValue masks secrets when the config is logged.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("http_addr", c.HTTPAddr), slog.String("mongodb_uri", maskURI(c.MongoURI)),
		slog.String("mongodb_database", c.MongoDatabase), slog.String("mongodb_indexes", c.MongoIndexes), slog.String("redis_url", maskURI(c.RedisURL)),
		slog.String("redis_prefix", c.RedisPrefix), slog.Bool("jwt_secret_set", c.JWTSecret != ""),
		slog.String("registry_url", c.RegistryURL), slog.String("accounts_url", c.AccountsURL), slog.Any("trusted_proxies", c.TrustedProxies),
		slog.String("log_level", c.LogLevel.String()), slog.String("version", c.Version))
}

// maskURI hides a password in a connection URI.
func maskURI(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	cred := u[scheme+3 : at]
	if user, _, ok := strings.Cut(cred, ":"); ok {
		return u[:scheme+3] + user + ":***" + u[at:]
	}
	return u
}

// Deps is what a service is built from.
type Deps struct {
	DB *mongo.Database
	// Indexes says which declared indexes the stores build (mongodb.ResolveIndexPolicy).
	Indexes     mongodb.IndexPolicy
	Redis       redis.UniversalClient
	RedisPrefix string
	Logger      *slog.Logger
	Telemetry   *telemetry.Provider
	Keys        *auth.Keys
	Metrics     *prometheus.Registry
	// TrustedProxies may say who the client is (Config.TrustedProxies).
	TrustedProxies []string
	// Vehicles reads the registry's status of a vehicle (Redis first, then the registry's API).
	Vehicles *vehicleinfo.Client
	// Ready takes the readiness checks services add (the OBD gateway); /readyz asks them.
	Ready *httpserver.Readiness
}

// NewVehicles builds the registry client for service name on d, calling the registry at
// registryURL through hc (nil: a default client).
func NewVehicles(name, registryURL string, hc *http.Client, d Deps) *vehicleinfo.Client {
	return vehicleinfo.New(vehicleinfo.Config{RegistryURL: registryURL}, vehicleinfo.Deps{
		Redis: d.Redis, Prefix: d.RedisPrefix, HTTP: hc, Keys: d.Keys,
		Tracer: d.Telemetry.Tracer, Propagator: d.Telemetry.Propagator, Service: name})
}

// JWKSPath is where the accounts service publishes its token-signing keys.
const JWKSPath = "/.well-known/jwks.json"

// Open connects to MongoDB and Redis as cfg says, for service name. close releases them. The
// token keys take HS256 tokens of the shared secret and the accounts service's EdDSA tokens
// (its JWKS at cfg.AccountsURL), and follow revocations on Redis until ctx ends.
func Open(ctx context.Context, name string, cfg Config, logger *slog.Logger, tel *telemetry.Provider) (Deps, func(), error) {
	keys, err := auth.NewKeys([]byte(cfg.JWTSecret))
	if err != nil {
		return Deps{}, nil, fmt.Errorf("CLEARSKY_JWT_SECRET: %w", err)
	}
	if cfg.AccountsURL != "" {
		keys.UseKeySource(auth.NewJWKS(cfg.AccountsURL+JWKSPath, nil))
	}
	client, db, err := mongodb.Connect(ctx, cfg.MongoURI, cfg.MongoDatabase, tel.Tracer)
	if err != nil {
		return Deps{}, nil, err
	}
	policy, err := mongodb.ResolveIndexPolicy(ctx, db, cfg.MongoIndexes)
	if err != nil {
		_ = client.Disconnect(ctx)
		return Deps{}, nil, err
	}
	rdb, err := redisdb.Connect(cfg.RedisURL, tel.Tracer)
	if err != nil {
		_ = client.Disconnect(ctx)
		return Deps{}, nil, err
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		logger.WarnContext(ctx, "redis_unreachable_starting_degraded", "error", err.Error())
	}
	go keys.Revocations().Listen(ctx, rdb, cfg.RedisPrefix, logger)
	closeFn := func() {
		_ = rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Disconnect(ctx)
	}
	if policy != mongodb.AllIndexes {
		logger.InfoContext(ctx, "mongodb_indexes", "policy", policy.String(),
			"why", "FerretDB never answers a query from an index: only the unique indexes are built (CLEARSKY_MONGODB_INDEXES=all builds every one)")
	}
	d := Deps{DB: db, Indexes: policy, Redis: rdb, RedisPrefix: cfg.RedisPrefix, Logger: logger, Telemetry: tel, Keys: keys, Metrics: httpserver.NewMetrics(), Ready: &httpserver.Readiness{},
		TrustedProxies: cfg.TrustedProxies}
	d.Vehicles = NewVehicles(name, cfg.RegistryURL, nil, d)
	return d, closeFn, nil
}

// Engine returns the common HTTP edge for deps, with /readyz checking MongoDB (critical) and
// Redis (degraded when down).
func Engine(name string, d Deps) *gin.Engine {
	return httpserver.NewEngine(httpserver.Deps{
		Service: name, Logger: d.Logger, Telemetry: d.Telemetry, Keys: d.Keys, Metrics: d.Metrics, TrustedProxies: d.TrustedProxies, Ready: d.Ready,
		Checks: []httpserver.Check{
			{Name: "mongodb", Critical: true, Ping: func(ctx context.Context) error { return mongodb.Ping(ctx, d.DB) }},
			{Name: "redis", Ping: func(ctx context.Context) error { return redisdb.Ping(ctx, d.Redis) }},
		},
	})
}
