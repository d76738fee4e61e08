package allinone

import (
	"context"
	"log/slog"
)

// seedingKey marks a context as the demo data's loading.
type seedingKey struct{}

func seeding(ctx context.Context) context.Context { return context.WithValue(ctx, seedingKey{}, true) }

func isSeeding(ctx context.Context) bool { v, _ := ctx.Value(seedingKey{}).(bool); return v }

// quietSeed logs what the demo data's requests log below warn at debug: a first start writes
// one summary line for them (demo_data_loaded), not a screenful of access logs that buries the
// banner. Warnings and errors are kept as they are.
type quietSeed struct{ slog.Handler }

func (h quietSeed) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelWarn && isSeeding(ctx) {
		l = slog.LevelDebug
	}
	return h.Handler.Enabled(ctx, l)
}

func (h quietSeed) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn && isSeeding(ctx) {
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietSeed) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietSeed{h.Handler.WithAttrs(attrs)}
}

func (h quietSeed) WithGroup(name string) slog.Handler { return quietSeed{h.Handler.WithGroup(name)} }
