// Command clearsky is the all-in-one ClearSky: every service in one process on one port, with an
// embedded MongoDB (FerretDB) and an in-process Redis unless MONGODB_URI and REDIS_URL say
// otherwise. See usage below for its subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/seeds"
	"github.com/clearsky/clearsky/services/allinone"
	"github.com/clearsky/clearsky/services/allinone/internal/embeddb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "clearsky:", err)
		os.Exit(1)
	}
}

// usage is what -h, --help and help print.
const usage = `Usage: clearsky [command] [flags]

Commands:
  run                                 start the platform (the default): every service on
                                      CLEARSKY_HTTP_ADDR (127.0.0.1:8080), data in CLEARSKY_DATA_DIR (./data)
  token -role R [-tenant T] [-org-admin] [-data-dir D]
                                      print a bearer token signed with the server's secret (last line)
  seed -url BASE [-wait D]            load the demo data into a running deployment over HTTP
  ferretdb -addr A -dir D             run only the embedded FerretDB (the tests' MongoDB) on SQLite files in D
  ferretdb -addr A -postgresql URL    ... or on the PostgreSQL database URL names (the stack's MongoDB)
  version                             print the version
  help                                print this

Every setting is an environment variable: see docs/configuration.md.
`

func run(ctx context.Context, args []string, out io.Writer) error {
	cmd := "run"
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fmt.Fprint(out, usage)
			return nil
		case "-version", "--version", "version":
			cmd, args = "version", args[1:]
		default:
			if strings.HasPrefix(args[0], "-") {
				return fmt.Errorf("unknown flag %s; run \"clearsky help\" for the commands", args[0])
			}
			cmd, args = args[0], args[1:]
		}
	}
	cfg, err := allinone.FromEnv(nil)
	if err != nil {
		return err
	}
	switch cmd {
	case "run":
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		fs.SetOutput(out)
		fs.Usage = func() { fmt.Fprint(out, usage) }
		if err := fs.Parse(args); err != nil {
			return helpIsNoError(err)
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("run takes no arguments (settings are environment variables: see docs/configuration.md), not %q", fs.Arg(0))
		}
		return allinone.Run(ctx, cfg, out)
	case "version":
		fmt.Fprintf(out, "clearsky %s\n", cfg.Version)
		return nil
	case "token":
		return token(cfg, args, out)
	case "ferretdb":
		return ferret(ctx, args, out)
	case "seed":
		return seed(ctx, cfg, args, out)
	default:
		return fmt.Errorf("unknown command %q: use run, token, seed, ferretdb, version or help", cmd)
	}
}

// helpIsNoError turns a subcommand's -h into a clean exit: the flag package printed its usage.
func helpIsNoError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func token(cfg allinone.Config, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	role := fs.String("role", "", "role: police, fleet, station, lab, bureau, construction, transport, repair, sensor, admin")
	tenant := fs.String("tenant", "", "organisation id, required for fleet, station, lab, construction, repair and sensor")
	subject := fs.String("subject", "", "who the token is for (recorded in audit trails); defaults to role@tenant")
	orgAdmin := fs.Bool("org-admin", false, "the token's person administers its organisation (manages its webhooks)")
	ttl := fs.Duration("ttl", 12*time.Hour, "how long the token is valid")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "the server's data dir, which holds its token secret (CLEARSKY_DATA_DIR)")
	fs.SetOutput(out)
	if err := fs.Parse(args); err != nil {
		return helpIsNoError(err)
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("%w: pass -role with one of police, fleet, station, lab, bureau, construction, transport, repair, sensor, admin", err)
	}
	// Never a new secret here: a token signed with one the server does not hold is refused.
	secret, from, err := allinone.ExistingSecret(cfg)
	if err != nil {
		return err
	}
	keys, err := auth.NewKeys(secret)
	if err != nil {
		return err
	}
	tok, err := keys.Issue(auth.Principal{Subject: *subject, Role: r, Tenant: *tenant, OrgAdmin: *orgAdmin}, time.Now(), *ttl)
	if err != nil {
		return fmt.Errorf("%w (pass -tenant ID)", err)
	}
	fmt.Fprintf(out, "# %s token%s, valid %s, signed with %s\n", r, tenantNote(*tenant), *ttl, from)
	fmt.Fprintln(out, tok)
	return nil
}

func tenantNote(t string) string {
	if t == "" {
		return ""
	}
	return " for " + t
}

func ferret(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ferretdb", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:27017", "listen address")
	dir := fs.String("dir", "./data/ferretdb-test", "SQLite data directory")
	pg := fs.String("postgresql", "", "PostgreSQL backend instead of SQLite: a connection URL, e.g. postgres://postgres@127.0.0.1:5432/clearsky_stack")
	fs.SetOutput(out)
	if err := fs.Parse(args); err != nil {
		return helpIsNoError(err)
	}
	quiet := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	var srv *embeddb.Server
	var err error
	if *pg != "" {
		srv, err = embeddb.StartPostgreSQL(ctx, *addr, *pg, quiet)
	} else {
		srv, err = embeddb.Start(ctx, *addr, *dir, quiet)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(out, srv.URI())
	srv.Wait()
	return nil
}

// seed applies the demo data to a running deployment (docker-compose's seed job): each file's
// calls go to BASE, where "{service}" is replaced by the file's service, with tokens signed by
// CLEARSKY_JWT_SECRET. A 409 is a record already there, so running it again changes nothing.
func seed(ctx context.Context, cfg allinone.Config, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	base := fs.String("url", "", "base URL of the deployment (the edge, or per service with {service})")
	wait := fs.Duration("wait", 0, "wait this long for BASE/readyz to answer 200 first")
	fs.SetOutput(out)
	if err := fs.Parse(args); err != nil {
		return helpIsNoError(err)
	}
	if *base == "" {
		return fmt.Errorf("seed needs -url, e.g. -url http://edge:8080")
	}
	if len(cfg.JWTSecret) < 32 {
		return fmt.Errorf("seed needs CLEARSKY_JWT_SECRET (the deployment's, at least 32 bytes)")
	}
	keys, err := auth.NewKeys([]byte(cfg.JWTSecret))
	if err != nil {
		return err
	}
	files, err := seeds.Demo()
	if err != nil {
		return err
	}
	for _, f := range files {
		target := strings.ReplaceAll(*base, "{service}", f.Service)
		u, err := url.Parse(target)
		if err != nil || u.Host == "" {
			return fmt.Errorf("seed -url %q is not a URL", target)
		}
		if err := waitReady(ctx, target, *wait, out); err != nil {
			return err
		}
		r, err := seeds.Apply(ctx, httputil.NewSingleHostReverseProxy(u), keys, f)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %d created, %d already present\n", f.Name, r.Created, r.Present)
	}
	return nil
}

func waitReady(ctx context.Context, base string, wait time.Duration, out io.Writer) error {
	deadline := time.Now().Add(wait)
	for {
		res, err := http.Get(strings.TrimRight(base, "/") + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("status %d", res.StatusCode)
			}
			return fmt.Errorf("%s/readyz did not answer 200 (%v); is the deployment up?", base, err)
		}
		fmt.Fprintf(out, "waiting for %s ...\n", base)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
