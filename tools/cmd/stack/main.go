// Command stack runs ClearSky's deployed topology on this machine until Ctrl-C (package
// tools/stack); scripts/stack (`make stack`) installs and builds what it needs, then runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/clearsky/clearsky/tools/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	root := flag.String("root", "..", "the repository")
	jaeger := flag.String("jaeger", "", "the Jaeger v2 binary")
	pg := flag.String("postgres", "postgres://postgres@127.0.0.1:5432/postgres", "PostgreSQL URL of a user who may create databases")
	db := flag.String("database", "clearsky_stack", "the PostgreSQL database for the stack's data (dropped and created at start)")
	work := flag.String("work", "", "where binaries, configurations and logs go (default: a new temporary directory)")
	seed := flag.Bool("seed", true, "load the demo data (the compose file's seed job)")
	flag.Parse()
	if *jaeger == "" {
		return fmt.Errorf("-jaeger is required (scripts/stack builds it)")
	}
	absRoot, err := filepath.Abs(*root)
	if err != nil {
		return err
	}
	if *work == "" {
		if *work, err = os.MkdirTemp("", "clearsky-stack-"); err != nil {
			return err
		}
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	st, err := stack.Start(ctx, stack.Config{Root: absRoot, Work: *work, Jaeger: *jaeger, Postgres: *pg, Database: *db,
		Env: env, Seed: *seed, Log: os.Stdout})
	if err != nil {
		return err
	}
	defer func() {
		st.Stop()
		_ = os.RemoveAll(st.Bin()) // the binaries (hundreds of MB); the logs stay
		fmt.Printf("stack: stopped; logs in %s/logs\n", *work)
	}()
	ui := "Jaeger UI"
	if env["JAEGER_UI_ASSETS"] == "" {
		ui = "Jaeger (placeholder UI)" // no UI assets in a build from the Go module: docs/deploy.md
	}
	fmt.Printf(`
ClearSky's stack is up, every service its own process (logs in %[1]s/logs):
  console and API (the edge)  %[2]s/
  %-27[8]s %[3]s/   (traces: %[3]s/api/traces?service=clearsky-checkpoint)
  each service directly       %[4]s
  OBD terminal gateway        %[5]s
Tokens: CLEARSKY_JWT_SECRET=%[6]s %[7]s/clearsky token -role police | tail -n1
Ctrl-C stops everything.
`, *work, st.URL("edge"), st.URL("jaeger"), serviceURLs(st), st.Addr("obd", 7700), st.Secret(), st.Bin(), ui)
	<-ctx.Done()
	fmt.Println("stack: stopping ...")
	return nil
}

func serviceURLs(st *stack.Stack) string {
	var b strings.Builder
	for i, name := range st.Services() {
		if i > 0 {
			b.WriteString("\n                              ")
		}
		fmt.Fprintf(&b, "%-14s %s", name, st.URL(name))
	}
	return b.String()
}
