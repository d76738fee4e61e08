// Package notify is the notification service: it fans out the domain events every owning
// service stores in the events collection (libs/events) to organisations' webhooks (signed
// per the Standard Webhooks specification, retried with back-off for a day, then kept as dead
// letters to replay), to the inboxes people read in the console, and to e-mail. See
// docs/events.md.
package notify

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/services/notify/internal/handler"
	"github.com/clearsky/clearsky/services/notify/internal/mailer"
	"github.com/clearsky/clearsky/services/notify/internal/notice"
	"github.com/clearsky/clearsky/services/notify/internal/noticestore"
)

// Name is the service's name in traces, logs and audit entries.
const Name = "notify"

// Config is the notification service's own configuration (docs/configuration.md).
type Config struct {
	// AllowPrivate admits webhooks to loopback and private addresses
	// (CLEARSKY_NOTIFY_ALLOW_PRIVATE=true; default false: they are refused, SSRF).
	AllowPrivate bool
	// RetryMin, RetryMax and RetryFor: a failed delivery is retried after RetryMin, doubling
	// up to RetryMax, until the waits add up to RetryFor; then it is a dead letter
	// (CLEARSKY_NOTIFY_RETRY_MIN 10s, CLEARSKY_NOTIFY_RETRY_MAX 1h, CLEARSKY_NOTIFY_RETRY_FOR 24h).
	RetryMin, RetryMax, RetryFor time.Duration
	// Timeout bounds one delivery attempt (CLEARSKY_NOTIFY_TIMEOUT, 10s).
	Timeout time.Duration
	// Parallel is how many deliveries are attempted at once (CLEARSKY_NOTIFY_PARALLEL, 16).
	Parallel int
	// Every is how often events are fanned out and due deliveries sent (CLEARSKY_NOTIFY_EVERY, 1s).
	Every time.Duration
	// SMTPURL (CLEARSKY_NOTIFY_SMTP_URL: smtp://[user:password@]host[:port] or smtps://…) and
	// MailFrom (CLEARSKY_NOTIFY_MAIL_FROM) send e-mail subscriptions; unset: no e-mail.
	SMTPURL, MailFrom string
}

// ConfigFromEnv reads the service's variables.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Config{RetryMin: 10 * time.Second, RetryMax: time.Hour, RetryFor: 24 * time.Hour, Timeout: 10 * time.Second, Parallel: 16, Every: time.Second,
		SMTPURL: getenv("CLEARSKY_NOTIFY_SMTP_URL"), MailFrom: getenv("CLEARSKY_NOTIFY_MAIL_FROM")}
	if c.SMTPURL != "" {
		if _, err := mailer.Parse(c.SMTPURL, c.MailFrom, c.Timeout); err != nil {
			return c, fmt.Errorf("CLEARSKY_NOTIFY_SMTP_URL, CLEARSKY_NOTIFY_MAIL_FROM: %w", err)
		}
	}
	if s := getenv("CLEARSKY_NOTIFY_ALLOW_PRIVATE"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return c, fmt.Errorf("CLEARSKY_NOTIFY_ALLOW_PRIVATE must be true or false, not %q", s)
		}
		c.AllowPrivate = b
	}
	for _, d := range []struct {
		name   string
		dst    *time.Duration
		lo, hi time.Duration
	}{{"CLEARSKY_NOTIFY_RETRY_MIN", &c.RetryMin, 10 * time.Millisecond, time.Hour}, {"CLEARSKY_NOTIFY_RETRY_MAX", &c.RetryMax, 10 * time.Millisecond, 24 * time.Hour},
		{"CLEARSKY_NOTIFY_RETRY_FOR", &c.RetryFor, 10 * time.Millisecond, 30 * 24 * time.Hour}, {"CLEARSKY_NOTIFY_TIMEOUT", &c.Timeout, 100 * time.Millisecond, time.Minute},
		{"CLEARSKY_NOTIFY_EVERY", &c.Every, 10 * time.Millisecond, time.Minute}} {
		s := getenv(d.name)
		if s == "" {
			continue
		}
		v, err := time.ParseDuration(s)
		if err != nil || v < d.lo || v > d.hi {
			return c, fmt.Errorf("%s must be a duration from %s to %s (e.g. 10s, 1h), not %q", d.name, d.lo, d.hi, s)
		}
		*d.dst = v
	}
	if c.RetryMax < c.RetryMin {
		return c, fmt.Errorf("CLEARSKY_NOTIFY_RETRY_MAX (%s) is below CLEARSKY_NOTIFY_RETRY_MIN (%s)", c.RetryMax, c.RetryMin)
	}
	if err := platform.ReadInts(getenv, platform.EnvInt{Name: "CLEARSKY_NOTIFY_PARALLEL", Dst: &c.Parallel}); err != nil {
		return c, err
	}
	return c, nil
}

// Service is a running notification service.
type Service struct {
	cfg     Config
	core    *notice.Service
	handler *handler.Handler
	deps    platform.Deps
	fanout  func(context.Context) (int, error)
	send    func(context.Context) (int, error)
}

// New builds the service on deps, creating its indexes.
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	store := noticestore.New(deps.DB)
	if err := store.EnsureIndexes(ctx, deps.Indexes); err != nil {
		return nil, fmt.Errorf("notify indexes: %w", err)
	}
	var mail notice.Mailer
	if cfg.SMTPURL != "" {
		m, err := mailer.Parse(cfg.SMTPURL, cfg.MailFrom, cfg.Timeout)
		if err != nil {
			return nil, fmt.Errorf("CLEARSKY_NOTIFY_SMTP_URL: %w", err)
		}
		mail = m
	}
	core := notice.NewService(store, store, store, notice.Options{AllowPrivate: cfg.AllowPrivate, Mail: mail != nil}, deps.Logger)
	sender := notice.NewSender(core, notice.NewClient(cfg.AllowPrivate, cfg.Timeout), mail, cfg.Parallel)
	fan := store.FanoutRunner(core.Fanout)
	del := store.DeliveryRunner(sender.Send, noticestore.Retry{Min: cfg.RetryMin, Max: cfg.RetryMax, For: cfg.RetryFor})
	return &Service{cfg: cfg, core: core, handler: handler.New(core, deps.Logger), deps: deps,
		fanout: drain(fan), send: drain(del)}, nil
}

// drain runs r until a round finds less than a full batch: a backlog (a receiver back after
// an outage, a burst of events) goes out at once, not a batch per period.
func drain(r *outbox.Runner) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		total := 0
		for {
			n, err := r.Run(ctx)
			total += n
			if err != nil || n < r.Batch || ctx.Err() != nil {
				return total, err
			}
		}
	}
}

// Routes registers the routes.
func (s *Service) Routes(r gin.IRouter) { s.handler.Routes(r) }

// Run fans out the stored events and sends the due deliveries every Every until ctx ends.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		platform.Every(ctx, s.cfg.Every, s.deps.Logger, platform.Job{Name: "notify_fanout", Run: s.fanout})
	})
	platform.Every(ctx, s.cfg.Every, s.deps.Logger, platform.Job{Name: "notify_webhooks", Run: s.send})
	wg.Wait()
}
