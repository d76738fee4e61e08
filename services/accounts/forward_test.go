package accounts_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/services/accounts"
)

// TestWebhookRoutesForwardedToNotify: with CLEARSKY_NOTIFY_URL set (a deployment of separate
// services, whose Ingress sends /v1/organisations here), an organisation's webhook routes reach
// the notification service, path, query, method, body and token intact; the rest stays here.
func TestWebhookRoutesForwardedToNotify(t *testing.T) {
	var mu sync.Mutex
	var got []string
	notify := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
	}))
	defer notify.Close()
	e := newEnv(t, accounts.Config{NotifyURL: notify.URL})
	tok := e.Token(t, auth.Fleet, "fleet-a")
	for _, c := range []struct{ method, path string }{{"POST", "/v1/organisations/fleet-a/webhooks"}, {"GET", "/v1/organisations/fleet-a/webhooks/whs_1/deliveries?state=dead"}} {
		if r := e.Do(t, c.method, c.path, tok, map[string]any{"url": "https://x.invalid"}); r.Status != http.StatusTeapot {
			t.Fatalf("%s %s = %d, want the notification service's answer", c.method, c.path, r.Status)
		}
	}
	if r := e.Do(t, "GET", "/v1/organisations/fleet-a/people", tok, nil); r.Status == http.StatusTeapot {
		t.Fatal("an accounts route was forwarded")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "POST /v1/organisations/fleet-a/webhooks Bearer "+tok || got[1] != "GET /v1/organisations/fleet-a/webhooks/whs_1/deliveries?state=dead Bearer "+tok {
		t.Fatalf("forwarded %v", got)
	}
}
