// Package notice is the notification service's core: the rules of webhook subscriptions (who
// may subscribe which URL to which events), the fan-out of each stored event to the
// subscriptions, inboxes and e-mail it concerns, the signed delivery of webhooks (Standard
// Webhooks) with retries and dead letters, and the inbox of a person's organisation.
package notice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/localtime"
)

// Subscription is an organisation's webhook: a URL, or an e-mail address, and the event
// types it takes.
type Subscription struct {
	ID string
	// Org is the audience key of the organisation (events.Key).
	Org string
	URL string
	// Email, instead of URL, sends the events by e-mail (when the service has an SMTP server).
	Email     string
	Events    []events.Type
	Secret    string
	CreatedAt time.Time
	CreatedBy string
}

// Wants reports whether the subscription takes event e: one of its types, about its
// organisation.
func (s Subscription) Wants(e events.Event) bool {
	return slices.Contains(s.Events, e.Type) && e.Concerns(s.Org)
}

// DeliveryState is where a webhook delivery stands.
type DeliveryState string

// Delivery states.
const (
	Pending   DeliveryState = "pending"   // not delivered yet; retried with back-off
	Delivered DeliveryState = "delivered" // the receiver answered 2xx
	Dead      DeliveryState = "dead"      // retried for the whole retry window: a dead letter, to replay
)

// Delivery is one event for one subscription: its id is derived from both, so fanning an
// event out again makes no second delivery.
type Delivery struct {
	ID             string
	SubscriptionID string
	Org            string
	EventID        string
	EventType      events.Type
	// Body is the exact JSON the receiver gets (signed as is, the same on every attempt).
	Body        []byte
	CreatedAt   time.Time
	State       DeliveryState
	Attempts    int
	LastStatus  int
	LastError   string
	NextAttempt time.Time
	DeliveredAt time.Time
}

// DeliveryID is the id of event eventID's delivery to subscription subID.
func DeliveryID(subID, eventID string) string { return subID + "." + eventID }

// InboxEntry puts an event in the inbox of one audience key.
type InboxEntry struct {
	Key   string
	Event events.Event
}

// Notification is an inbox entry: an event as a person of the organisation sees it.
type Notification struct {
	events.Event
	Summary string
	Read    bool
}

// SubscriptionStore keeps webhook subscriptions.
type SubscriptionStore interface {
	InsertSubscription(ctx context.Context, s Subscription) error
	// Subscriptions lists an organisation's subscriptions, oldest first.
	Subscriptions(ctx context.Context, org string) ([]Subscription, error)
	// AllSubscriptions lists every subscription (the fan-out; a district has hundreds).
	AllSubscriptions(ctx context.Context) ([]Subscription, error)
	GetSubscription(ctx context.Context, id string) (Subscription, error) // ErrNotFound
	DeleteSubscription(ctx context.Context, id string) error
}

// DeliveryStore keeps webhook deliveries.
type DeliveryStore interface {
	// InsertDeliveries adds deliveries, due now; one already there is left as it is.
	InsertDeliveries(ctx context.Context, ds []Delivery) error
	// Deliveries lists a subscription's deliveries in state (any when empty), newest first,
	// after the id.
	Deliveries(ctx context.Context, subID string, state DeliveryState, after string, limit int) ([]Delivery, error)
	GetDelivery(ctx context.Context, id string) (Delivery, error) // ErrNotFound
	// RecordFailure records a failed attempt's status (0: no answer) and error.
	RecordFailure(ctx context.Context, id string, status int, msg string) error
	// Replay makes deliveries due again now, with a fresh retry window; it returns how many.
	Replay(ctx context.Context, ids []string, now time.Time) (int, error)
	// DeadIDs lists up to limit ids of a subscription's dead letters.
	DeadIDs(ctx context.Context, subID string, limit int) ([]string, error)
}

// InboxStore keeps inbox entries and who read them.
type InboxStore interface {
	// InsertInbox adds the events to the inboxes of their audience keys; entries already there stay.
	InsertInbox(ctx context.Context, es []InboxEntry) error
	// Inbox lists the entries of the keys, newest first, after the cursor (an entry id).
	Inbox(ctx context.Context, keys []string, after string, limit int) ([]events.Event, []string, error)
	// CountInbox counts the entries of the keys.
	CountInbox(ctx context.Context, keys []string) (int64, error)
	// ReadOf returns which of the event ids the person has read; CountRead counts them all.
	ReadOf(ctx context.Context, person string, eventIDs []string) (map[string]bool, error)
	CountRead(ctx context.Context, person string) (int64, error)
	// MarkRead records that the person read the events, those of them in the keys' inbox.
	MarkRead(ctx context.Context, person string, keys, eventIDs []string, at time.Time) error
}

// Mailer sends notifications by e-mail (nil: no e-mail).
type Mailer interface {
	Send(ctx context.Context, to []string, subject, body string) error
}

// Errors.
var (
	ErrNotFound = fmt.Errorf("not found: %w", apperr.ErrNotFound)
)

// Options are the service's rules that deployments set.
type Options struct {
	// AllowPrivate admits webhook URLs (and connections) to loopback, private and link-local
	// addresses (CLEARSKY_NOTIFY_ALLOW_PRIVATE): off in production, on in tests and the demo.
	AllowPrivate bool
	// MaxSubscriptions bounds an organisation's subscriptions (default 20).
	MaxSubscriptions int
	// Mail is on when the service has an SMTP server: subscriptions may then name an e-mail
	// address.
	Mail bool
}

// Service is the notification core.
type Service struct {
	subs  SubscriptionStore
	dels  DeliveryStore
	inbox InboxStore
	opt   Options
	log   *slog.Logger
	now   func() time.Time
}

// NewService returns the core on its stores.
func NewService(subs SubscriptionStore, dels DeliveryStore, inbox InboxStore, opt Options, log *slog.Logger) *Service {
	if opt.MaxSubscriptions <= 0 {
		opt.MaxSubscriptions = 20
	}
	return &Service{subs: subs, dels: dels, inbox: inbox, opt: opt, log: log, now: time.Now}
}

func forbidden(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, apperr.ErrForbidden)...)
}

// manage checks that p may see (write false) or manage organisation org's webhooks: a person
// of it (its tenant, or its authority role) reads them, and changes them when it administers
// the organisation (Principal.OrgAdmin); the bureau reads every organisation's, and its
// administrators change them; the platform's administrators read. An organisation p may not
// see answers 404, as another tenant's records do.
func manage(p auth.Principal, org string, write bool) error {
	if p.Is(auth.System) || (write && p.Is(auth.Admin)) {
		return forbidden("role %s may not manage webhooks", p.Role)
	}
	k, _ := events.Key(p)
	if !p.Is(auth.Bureau, auth.Admin) && k != org {
		return fmt.Errorf("organisation %s: %w", org, ErrNotFound)
	}
	if write && !p.OrgAdmin {
		return forbidden("only an administrator of the organisation manages its webhooks")
	}
	return nil
}

// NewSubscription is what an organisation asks for: a URL or an e-mail address.
type NewSubscription struct {
	URL    string
	Email  string
	Events []string
}

// maxURL bounds a webhook URL's length.
const maxURL = 2048

// Subscribe adds a webhook to organisation org and returns it with its secret (shown once).
func (s *Service) Subscribe(ctx context.Context, p auth.Principal, org string, in NewSubscription) (Subscription, error) {
	if err := manage(p, org, true); err != nil {
		return Subscription{}, err
	}
	var ve apperr.ValidationError
	switch {
	case in.Email != "" && in.URL != "":
		ve.Add("email", "give a url or an email address, not both")
	case in.Email != "":
		if !s.opt.Mail {
			ve.Add("email", "this deployment sends no e-mail (no SMTP server configured): subscribe a url")
		} else if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email || len(in.Email) > 254 {
			ve.Add("email", "an e-mail address (name@example.org), at most 254 characters")
		}
	default:
		if msg := s.checkURL(in.URL); msg != "" {
			ve.Add("url", msg)
		}
	}
	var types []events.Type
	if len(in.Events) == 0 {
		ve.Add("events", "at least one event type of the catalogue (docs/events.md)")
	}
	for i, t := range in.Events {
		if _, ok := events.Lookup(events.Type(t)); !ok {
			ve.Add(fmt.Sprintf("events[%d]", i), fmt.Sprintf("%q is not an event type of the catalogue (docs/events.md)", t))
		} else if !slices.Contains(types, events.Type(t)) {
			types = append(types, events.Type(t))
		}
	}
	if err := ve.Err(); err != nil {
		return Subscription{}, err
	}
	have, err := s.subs.Subscriptions(ctx, org)
	if err != nil {
		return Subscription{}, err
	}
	if len(have) >= s.opt.MaxSubscriptions {
		return Subscription{}, fmt.Errorf("organisation %s has %d webhooks, the most it may have: %w", org, len(have), apperr.ErrConflict)
	}
	sub := Subscription{ID: "whs_" + newID(), Org: org, URL: in.URL, Email: in.Email, Events: types, Secret: NewSecret(), CreatedAt: s.now().UTC(), CreatedBy: p.Subject}
	if err := s.subs.InsertSubscription(ctx, sub); err != nil {
		return Subscription{}, err
	}
	s.log.InfoContext(ctx, "webhook_subscribed", "subscription_id", sub.ID, "org", org, "by", p.Subject)
	return sub, nil
}

// checkURL says what is wrong with a webhook URL, or "".
func (s *Service) checkURL(raw string) string {
	if raw == "" {
		return "required: the https (or http) URL to post events to"
	}
	if len(raw) > maxURL {
		return fmt.Sprintf("at most %d characters", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "must be an absolute http or https URL, without credentials or fragment"
	}
	if !s.opt.AllowPrivate {
		if msg := PrivateHost(u.Hostname()); msg != "" {
			return msg
		}
	}
	return ""
}

// Subscriptions lists organisation org's webhooks (without their secrets).
func (s *Service) Subscriptions(ctx context.Context, p auth.Principal, org string) ([]Subscription, error) {
	if err := manage(p, org, false); err != nil {
		return nil, err
	}
	return s.subs.Subscriptions(ctx, org)
}

// Subscription returns one of organisation org's webhooks.
func (s *Service) Subscription(ctx context.Context, p auth.Principal, org, id string, write bool) (Subscription, error) {
	if err := manage(p, org, write); err != nil {
		return Subscription{}, err
	}
	sub, err := s.subs.GetSubscription(ctx, id)
	if err != nil {
		return Subscription{}, err
	}
	if sub.Org != org {
		return Subscription{}, fmt.Errorf("webhook %s: %w", id, ErrNotFound)
	}
	return sub, nil
}

// Unsubscribe deletes a webhook; its pending deliveries are dropped when they come due.
func (s *Service) Unsubscribe(ctx context.Context, p auth.Principal, org, id string) error {
	if _, err := s.Subscription(ctx, p, org, id, true); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "webhook_unsubscribed", "subscription_id", id, "org", org, "by", p.Subject)
	return s.subs.DeleteSubscription(ctx, id)
}

// Deliveries is a webhook's delivery log, newest first: every event it was sent, with its
// attempts and outcome; state "dead" lists its dead letters.
func (s *Service) Deliveries(ctx context.Context, p auth.Principal, org, id string, state DeliveryState, after string, limit int) ([]Delivery, error) {
	if _, err := s.Subscription(ctx, p, org, id, false); err != nil {
		return nil, err
	}
	switch state {
	case "", Pending, Delivered, Dead:
	default:
		return nil, apperr.Invalid("state", "must be pending, delivered or dead")
	}
	return s.dels.Deliveries(ctx, id, state, after, limit)
}

// Replay sends a delivery again (a dead letter, or one delivered that the receiver lost), with
// a fresh retry window.
func (s *Service) Replay(ctx context.Context, p auth.Principal, org, id, deliveryID string) (Delivery, error) {
	if _, err := s.Subscription(ctx, p, org, id, true); err != nil {
		return Delivery{}, err
	}
	d, err := s.dels.GetDelivery(ctx, deliveryID)
	if err != nil {
		return Delivery{}, err
	}
	if d.SubscriptionID != id {
		return Delivery{}, fmt.Errorf("delivery %s: %w", deliveryID, ErrNotFound)
	}
	if d.State == Pending {
		return Delivery{}, fmt.Errorf("delivery %s is still being retried: %w", deliveryID, apperr.ErrConflict)
	}
	if _, err := s.dels.Replay(ctx, []string{deliveryID}, s.now().UTC()); err != nil {
		return Delivery{}, err
	}
	return s.dels.GetDelivery(ctx, deliveryID)
}

// ReplayDead sends every dead letter of a webhook again (up to 1000 a call) and says how many.
func (s *Service) ReplayDead(ctx context.Context, p auth.Principal, org, id string) (int, error) {
	if _, err := s.Subscription(ctx, p, org, id, true); err != nil {
		return 0, err
	}
	ids, err := s.dels.DeadIDs(ctx, id, 1000)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return s.dels.Replay(ctx, ids, s.now().UTC())
}

// Fanout hands stored events to what they concern: a delivery per subscription that wants
// each, and an entry in each concerned inbox. It is idempotent (derived ids), so an event fanned
// out twice (at-least-once) is delivered and listed once.
func (s *Service) Fanout(ctx context.Context, evs []events.Event) error {
	subs, err := s.subs.AllSubscriptions(ctx)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	var ds []Delivery
	var inbox []InboxEntry
	for _, e := range evs {
		body, err := Body(e)
		if err != nil {
			return err
		}
		for _, sub := range subs {
			if sub.Wants(e) {
				ds = append(ds, Delivery{ID: DeliveryID(sub.ID, e.ID), SubscriptionID: sub.ID, Org: sub.Org, EventID: e.ID, EventType: e.Type,
					Body: body, CreatedAt: now, State: Pending})
			}
		}
		for _, k := range e.Audience() {
			inbox = append(inbox, InboxEntry{Key: k, Event: e})
		}
	}
	if err := s.inbox.InsertInbox(ctx, inbox); err != nil {
		return err
	}
	return s.dels.InsertDeliveries(ctx, ds)
}

// Body is an event's JSON as receivers get it (docs/events.schema.json), times in China
// Standard Time.
func Body(e events.Event) ([]byte, error) {
	e.Time = e.Time.In(localtime.CST)
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return b, nil
}

// inboxKeys are the audience keys whose entries p's inbox shows.
func inboxKeys(p auth.Principal) ([]string, error) {
	k, ok := events.Key(p)
	if !ok {
		return nil, forbidden("role %s has no inbox", p.Role)
	}
	if k == events.BureauKey {
		return []string{k}, nil // every event is addressed to the bureau
	}
	return []string{k, events.Everyone}, nil
}

// Inbox lists the notifications of p's organisation, newest first, with whether p read each;
// only the unread ones when unread.
func (s *Service) Inbox(ctx context.Context, p auth.Principal, unread bool, after string, limit int) ([]Notification, string, error) {
	keys, err := inboxKeys(p)
	if err != nil {
		return nil, "", err
	}
	var out []Notification
	for len(out) < limit {
		evs, cursors, err := s.inbox.Inbox(ctx, keys, after, limit)
		if err != nil {
			return nil, "", err
		}
		ids := make([]string, len(evs))
		for i, e := range evs {
			ids[i] = e.ID
		}
		read, err := s.inbox.ReadOf(ctx, p.Subject, ids)
		if err != nil {
			return nil, "", err
		}
		for i, e := range evs {
			after = cursors[i]
			if unread && read[e.ID] {
				continue
			}
			n := Notification{Event: e, Read: read[e.ID]}
			if c, ok := events.Lookup(e.Type); ok {
				n.Summary = c.Summary
			}
			out = append(out, n)
			if len(out) == limit {
				return out, after, nil
			}
		}
		if len(evs) < limit {
			return out, "", nil
		}
	}
	return out, after, nil
}

// Unread counts p's unread notifications.
func (s *Service) Unread(ctx context.Context, p auth.Principal) (int64, error) {
	keys, err := inboxKeys(p)
	if err != nil {
		return 0, err
	}
	n, err := s.inbox.CountInbox(ctx, keys)
	if err != nil {
		return 0, err
	}
	r, err := s.inbox.CountRead(ctx, p.Subject)
	if err != nil {
		return 0, err
	}
	return max(n-r, 0), nil
}

// MarkRead records that p read the notifications (event ids of its inbox; others are ignored).
func (s *Service) MarkRead(ctx context.Context, p auth.Principal, ids []string) error {
	keys, err := inboxKeys(p)
	if err != nil {
		return err
	}
	var ve apperr.ValidationError
	for i, id := range ids {
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			ve.Add(fmt.Sprintf("ids[%d]", i), "an event id: 32 lowercase hexadecimal digits")
		}
	}
	if len(ids) == 0 {
		ve.Add("ids", "at least one event id")
	}
	if err := ve.Err(); err != nil {
		return err
	}
	return s.inbox.MarkRead(ctx, p.Subject, keys, ids, s.now().UTC())
}

// SendError is a failed webhook attempt: the receiver's status (0: no answer) and what failed.
type SendError struct {
	Status int
	Err    error
}

func (e *SendError) Error() string {
	if e.Status > 0 {
		return fmt.Sprintf("receiver answered %d", e.Status)
	}
	return e.Err.Error()
}

// ErrGone marks a delivery whose subscription was deleted: it is dropped, not retried.
var ErrGone = errors.New("the webhook was deleted")
