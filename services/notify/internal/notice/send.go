package notice

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/localtime"
)

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// PrivateHost says why a webhook may not go to host (a literal address on loopback, a private,
// link-local, unspecified or multicast network, or localhost), or "". Names are checked again
// at each connection (NewClient), so a name that resolves to such an address is refused too.
func PrivateHost(host string) string {
	if host == "localhost" {
		return "may not name this machine (localhost)"
	}
	if a, err := netip.ParseAddr(host); err == nil && private(a) {
		return fmt.Sprintf("may not point at %s, a loopback, private or link-local address", a)
	}
	return ""
}

func private(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsUnspecified() ||
		a.IsMulticast() || a.IsInterfaceLocalMulticast()
}

// NewClient is the HTTP client of webhook deliveries: a bounded time per attempt, no redirects
// followed (a 3xx is a failed attempt), and, unless allowPrivate, connections to private
// addresses refused at dial time (after name resolution, so DNS cannot point it inwards).
func NewClient(allowPrivate bool, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			if private(ap.Addr()) {
				return fmt.Errorf("webhook to %s refused: a loopback, private or link-local address", ap.Addr())
			}
			return nil
		}
	}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second,
		TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Sender posts webhook deliveries, signed (Standard Webhooks), and sends e-mail ones, a few
// at a time.
type Sender struct {
	svc      *Service
	client   *http.Client
	mail     Mailer // nil: no e-mail
	parallel int
}

// NewSender returns the sender of svc's deliveries through client and mailer (nil: none),
// parallel at once.
func NewSender(svc *Service, client *http.Client, mailer Mailer, parallel int) *Sender {
	return &Sender{svc: svc, client: client, mail: mailer, parallel: max(parallel, 1)}
}

// Send attempts the deliveries and returns one error per delivery (nil: delivered, or dropped
// because its webhook was deleted); each outcome is recorded on the delivery.
func (s *Sender) Send(ctx context.Context, ds []Delivery) []error {
	errs := make([]error, len(ds))
	subs := map[string]*Subscription{}
	for _, d := range ds {
		if _, ok := subs[d.SubscriptionID]; ok {
			continue
		}
		sub, err := s.svc.subs.GetSubscription(ctx, d.SubscriptionID)
		switch {
		case errors.Is(err, ErrNotFound):
			subs[d.SubscriptionID] = nil
		case err != nil:
			for i := range errs {
				errs[i] = err
			}
			return errs
		default:
			subs[d.SubscriptionID] = &sub
		}
	}
	sem := make(chan struct{}, s.parallel)
	var wg sync.WaitGroup
	for i, d := range ds {
		sub := subs[d.SubscriptionID]
		if sub == nil {
			_ = s.svc.dels.RecordFailure(ctx, d.ID, 0, ErrGone.Error())
			continue // dropped: cleared from the outbox, kept in the log
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = s.attempt(ctx, *sub, d)
		})
	}
	wg.Wait()
	return errs
}

func (s *Sender) attempt(ctx context.Context, sub Subscription, d Delivery) error {
	now := s.svc.now()
	var status int
	var err error
	if sub.Email != "" {
		err = s.email(ctx, sub, d)
	} else {
		status, err = s.post(ctx, sub, d, now)
	}
	if err == nil {
		return nil // the runner records the delivery when it clears it (DeliveryStore)
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	if rerr := s.svc.dels.RecordFailure(ctx, d.ID, status, msg); rerr != nil {
		s.svc.log.WarnContext(ctx, "webhook_failure_not_recorded", "delivery_id", d.ID, "error", rerr.Error())
	}
	return &SendError{Status: status, Err: err}
}

// post sends one attempt: the event's JSON with webhook-id (the event id, the same on every
// attempt and for every subscription: receivers deduplicate on it), webhook-timestamp and
// webhook-signature.
func (s *Sender) post(ctx context.Context, sub Subscription, d Delivery, now time.Time) (int, error) {
	ts := now.Unix()
	sig, err := Sign(sub.Secret, d.EventID, ts, d.Body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ClearSky-Webhooks/1")
	req.Header.Set("webhook-id", d.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	res, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, fmt.Errorf("receiver answered %d", res.StatusCode)
	}
	return res.StatusCode, nil
}

// email sends a delivery to its subscription's address: the event's summary as the subject,
// its time in China, its link and data as the text.
func (s *Sender) email(ctx context.Context, sub Subscription, d Delivery) error {
	if s.mail == nil {
		return errors.New("this deployment has no SMTP server (CLEARSKY_NOTIFY_SMTP_URL)")
	}
	var e events.Event
	if err := json.Unmarshal(d.Body, &e); err != nil {
		return fmt.Errorf("decode delivery %s: %w", d.ID, err)
	}
	subject, body := MailText(e)
	return s.mail.Send(ctx, []string{sub.Email}, subject, body)
}

// MailText is an event's e-mail: a subject line and a plain text.
func MailText(e events.Event) (subject, body string) {
	summary := string(e.Type)
	if c, ok := events.Lookup(e.Type); ok {
		summary = c.Summary
	}
	subject = "[ClearSky] " + summary + ": " + e.Subject
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nWhat: %s (%s)\nWhen: %s\nRecord: %s\n", summary, e.Subject, e.Type, localtime.Format(e.Time), e.Link)
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %v\n", k, e.Data[k])
	}
	fmt.Fprintf(&b, "\nEvent id: %s\n", e.ID)
	return subject, b.String()
}
