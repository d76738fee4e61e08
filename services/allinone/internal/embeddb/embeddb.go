// Package embeddb runs a FerretDB server (the MongoDB wire protocol over SQLite files, or over a
// PostgreSQL database) inside the current process. It is the all-in-one's stand-in for MongoDB
// when MONGODB_URI is unset, the server that `clearsky ferretdb` starts for the integration
// tests, and (on PostgreSQL) the stack's MongoDB (scripts/stack).
package embeddb

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Server is a running embedded FerretDB.
type Server struct {
	f    *ferretdb.FerretDB
	ln   net.Listener
	done chan struct{}
}

// Start binds addr (host:port; port 0 picks a free one) and serves the SQLite databases kept as
// files in dir, which is created when missing. The server stops when ctx is cancelled; Wait
// blocks until it has.
func Start(ctx context.Context, addr, dir string, logger *slog.Logger) (*Server, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded mongodb data dir %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("create embedded mongodb data dir %q: %w", abs, err)
	}
	return start(ctx, addr, &ferretdb.Config{Handler: "sqlite", SQLiteURL: "file:" + abs + "/"}, logger)
}

// StartPostgreSQL binds addr as Start does and keeps the databases in the PostgreSQL database
// that pgURL names (postgres://user@host:5432/dbname; FerretDB creates its schemas there).
func StartPostgreSQL(ctx context.Context, addr, pgURL string, logger *slog.Logger) (*Server, error) {
	if pgURL == "" {
		return nil, fmt.Errorf("embedded mongodb on postgresql: no PostgreSQL URL")
	}
	return start(ctx, addr, &ferretdb.Config{Handler: "postgresql", PostgreSQLURL: pgURL}, logger)
}

func start(ctx context.Context, addr string, cfg *ferretdb.Config, logger *slog.Logger) (*Server, error) {
	// FerretDB itself listens on a loopback port of its own; clients reach it at addr through
	// the serialiser (serialise.go), which makes its updates atomic.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("start embedded mongodb on %s: %w (is another one running there? pick another address)", addr, err)
	}
	cfg.Listener = ferretdb.ListenerConfig{TCP: "127.0.0.1:0"}
	cfg.Logger = slog.New(lazyHandler{base: logger.Handler()})
	f, err := ferretdb.New(cfg)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("start embedded mongodb (%s) on %s: %w", cfg.Handler, addr, err)
	}
	s := &Server{f: f, ln: ln, done: make(chan struct{})}
	ran := make(chan struct{})
	go func() {
		defer close(s.done)
		defer close(ran)
		_ = f.Run(ctx)
	}()
	backend, err := url.Parse(f.MongoDBURI())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded mongodb: its address: %w", err)
	}
	go (&serialiser{backend: backend.Host, log: logger}).serve(ln)
	go func() {
		select {
		case <-ctx.Done():
		case <-ran:
		}
		ln.Close()
	}()
	return s, nil
}

// URI is the mongodb:// address clients connect to.
func (s *Server) URI() string { return "mongodb://" + s.ln.Addr().String() + "/" }

// Wait blocks until the server has stopped after its context was cancelled.
func (s *Server) Wait() { <-s.done }

// lazyHandler applies the attributes and groups of derived loggers only when a record is
// logged. FerretDB derives loggers carrying whole documents (a query's arguments) on every
// command, and a JSON handler formats them at once, for every insert, even when its level
// keeps every record out.
type lazyHandler struct {
	base  slog.Handler
	steps []func(slog.Handler) slog.Handler
}

func (h lazyHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.base.Enabled(ctx, l) }

func (h lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	b := h.base
	for _, step := range h.steps {
		b = step(b)
	}
	return b.Handle(ctx, r)
}

func (h lazyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return lazyHandler{base: h.base, steps: append(slices.Clip(h.steps), func(b slog.Handler) slog.Handler { return b.WithAttrs(as) })}
}

func (h lazyHandler) WithGroup(name string) slog.Handler {
	return lazyHandler{base: h.base, steps: append(slices.Clip(h.steps), func(b slog.Handler) slog.Handler { return b.WithGroup(name) })}
}
