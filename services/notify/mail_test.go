package notify_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
)

// mailpitVersion is the SMTP server the e-mail test sends to (built from the module proxy).
const mailpitVersion = "v1.33.1"

// mailpit returns the path of a mailpit binary: CLEARSKY_MAILPIT, else the tools cache
// (CLEARSKY_TOOLS_CACHE, default ~/.cache/clearsky-tools), where it is built when missing
// (.ci/run builds it first). The test is skipped only when it cannot be built.
func mailpit(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CLEARSKY_MAILPIT"); p != "" {
		return p
	}
	cache := os.Getenv("CLEARSKY_TOOLS_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Skipf("mailpit: no tools cache (set CLEARSKY_TOOLS_CACHE or HOME): %v", err)
		}
		cache = filepath.Join(home, ".cache", "clearsky-tools")
	}
	dir := filepath.Join(cache, "mailpit-"+mailpitVersion)
	bin := filepath.Join(dir, "mailpit")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "install", "github.com/axllent/mailpit@"+mailpitVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("mailpit %s could not be built (go install github.com/axllent/mailpit@%s): %v\n%s", mailpitVersion, mailpitVersion, err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestEmailThroughARealSMTPServer: an e-mail subscription's events reach a real SMTP server
// (mailpit, started here), checked through its HTTP API: one message per event, to the
// address, with the summary and record in Chinese-safe UTF-8.
func TestEmailThroughARealSMTPServer(t *testing.T) {
	bin := mailpit(t)
	smtpAddr, apiAddr := freePort(t), freePort(t)
	srv := exec.Command(bin, "--smtp", smtpAddr, "--listen", apiAddr, "--database", filepath.Join(t.TempDir(), "mailpit.db"),
		"--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--disable-version-check")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _, _ = srv.Process.Wait() })
	api := "http://" + apiAddr + "/api/v1/messages"
	eventually(t, "mailpit answers", func() bool {
		res, err := http.Get(api)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	cfg := fast()
	cfg.SMTPURL, cfg.MailFrom = "smtp://clearsky:secret@"+smtpAddr, "noreply@clearsky.invalid"
	e := newEnv(t, cfg)
	tok := e.adminToken(t, auth.Fleet, "fleet-a")
	r := e.Do(t, "POST", "/v1/organisations/fleet-a/webhooks", tok, map[string]any{"email": "dispatch@fleet-a.invalid", "events": []string{"obd.alarm.opened"}})
	if r.Status != 201 || r.Body["email"] != "dispatch@fleet-a.invalid" {
		t.Fatalf("e-mail subscription: %d %s", r.Status, r.Raw)
	}
	e.Do(t, "POST", "/v1/organisations/fleet-a/webhooks", tok, map[string]any{"email": "not an address", "events": []string{"obd.alarm.opened"}}).Refused(t, "email")
	id := e.emit(t, events.OBDAlarmOpened, []string{"fleet-a"}, nil)
	e.emit(t, events.OBDAlarmOpened, []string{"fleet-b"}, nil) // another fleet's: no mail
	var list struct {
		Messages []struct {
			ID      string `json:"ID"`
			Subject string `json:"Subject"`
			To      []struct {
				Address string `json:"Address"`
			} `json:"To"`
		} `json:"messages"`
	}
	eventually(t, "the message in mailpit", func() bool {
		res, err := http.Get(api)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		_ = json.NewDecoder(res.Body).Decode(&list)
		return len(list.Messages) >= 1
	})
	time.Sleep(500 * time.Millisecond)
	res, err := http.Get(api)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(res.Body).Decode(&list)
	res.Body.Close()
	if len(list.Messages) != 1 || list.Messages[0].To[0].Address != "dispatch@fleet-a.invalid" || !strings.Contains(list.Messages[0].Subject, "an OBD alarm opened") {
		t.Fatalf("messages %+v", list.Messages)
	}
	res, err = http.Get(fmt.Sprintf("http://%s/api/v1/message/%s", apiAddr, list.Messages[0].ID))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var msg struct {
		Text string `json:"Text"`
	}
	_ = json.NewDecoder(res.Body).Decode(&msg)
	if !strings.Contains(msg.Text, "Event id: "+id) || !strings.Contains(msg.Text, "plate: 晋F12345") || !strings.Contains(msg.Text, "+08:00") {
		t.Fatalf("message text %q", msg.Text)
	}
}
