// Package mailer sends the notification service's e-mail over SMTP, with
// github.com/wneessen/go-mail (a maintained client: STARTTLS, implicit TLS, SMTP AUTH, and
// correct MIME for Chinese subjects and bodies, which net/smtp leaves to the caller).
package mailer

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/wneessen/go-mail"
)

// Mailer sends plain-text messages from one address through one SMTP server.
type Mailer struct {
	host    string
	opts    []mail.Option
	from    string
	timeout time.Duration
}

// Parse reads an SMTP URL: smtp://[user:password@]host[:port] (STARTTLS when the server
// offers it; port 587 by default) or smtps://… (TLS from the start; port 465).
func Parse(raw, from string, timeout time.Duration) (*Mailer, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return nil, fmt.Errorf("an SMTP URL is smtp://[user:password@]host[:port] or smtps://…")
	}
	if from == "" {
		return nil, fmt.Errorf("a sender address is needed with an SMTP URL")
	}
	port := 587
	opts := []mail.Option{mail.WithTimeout(timeout)}
	if u.Scheme == "smtps" {
		port = 465
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("SMTP port %q is not a port", p)
		}
	}
	opts = append(opts, mail.WithPort(port))
	if u.User != nil {
		pw, _ := u.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(u.User.Username()), mail.WithPassword(pw))
	}
	return &Mailer{host: u.Hostname(), opts: opts, from: from, timeout: timeout}, nil
}

// Send sends one message to the recipients.
func (m *Mailer) Send(ctx context.Context, to []string, subject, body string) error {
	msg := mail.NewMsg()
	if err := msg.From(m.from); err != nil {
		return fmt.Errorf("sender %q: %w", m.from, err)
	}
	if err := msg.To(to...); err != nil {
		return fmt.Errorf("recipients %v: %w", to, err)
	}
	msg.Subject(subject)
	msg.SetBodyString(mail.TypeTextPlain, body)
	c, err := mail.NewClient(m.host, m.opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("send mail to %v: %w", to, err)
	}
	return nil
}
