package console_test

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/services/console"
)

func serve(t *testing.T, cfg console.Config) (*httptest.Server, *console.Service) {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	svc := console.New(cfg)
	svc.Routes(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv, svc
}

func fetch(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestShell: "/" serves the shell naming the current asset version, with a strict CSP and no
// caching; the province and title are escaped into it.
func TestShell(t *testing.T) {
	srv, svc := serve(t, console.Config{Province: "京", Title: `Blue <Sky> & "Co"`})
	res, body := fetch(t, srv.URL+"/")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`src="/console/` + svc.Version() + `/app.js"`, `data-province="京"`, `Blue &lt;Sky&gt; &amp; &#34;Co&#34;`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("shell lacks %q", want)
		}
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "http") {
		t.Errorf("CSP %q allows inline code or another origin", csp)
	}
	if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("shell headers = %v", res.Header)
	}
	if r, _ := fetch(t, srv.URL+"/console"); r.Request.URL.Path != "/" {
		t.Errorf("/console did not lead to /: %s", r.Request.URL)
	}
}

// TestAssets: every embedded asset is served with its type; versioned URLs are immutable, others
// not cached; unknown or escaping paths are 404.
func TestAssets(t *testing.T) {
	srv, svc := serve(t, console.Config{})
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	n := 0
	err := fs.WalkDir(os.DirFS("static"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		res, body := fetch(t, srv.URL+"/console/"+svc.Version()+"/"+p)
		want := types[p[strings.LastIndex(p, "."):]]
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != want || body == "" {
			t.Errorf("%s = %d %q, want 200 %q", p, res.StatusCode, res.Header.Get("Content-Type"), want)
		}
		if !strings.Contains(res.Header.Get("Cache-Control"), "immutable") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s headers = %v", p, res.Header)
		}
		return nil
	})
	if err != nil || n < 10 {
		t.Fatalf("walked %d assets: %v", n, err)
	}
	if res, _ := fetch(t, srv.URL+"/console/old/app.js"); res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("old version = %d %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	for _, p := range []string{"/console/" + svc.Version() + "/nope.js", "/console/" + svc.Version() + "/../console.go", "/console/" + svc.Version() + "/"} {
		if res, _ := fetch(t, srv.URL+p); res.StatusCode != 404 {
			t.Errorf("%s = %d, want 404", p, res.StatusCode)
		}
	}
}

// TestNoUnsafeDOM: the scripts insert data as text only (no innerHTML, outerHTML,
// insertAdjacentHTML, document.write, eval) and load nothing from another origin.
func TestNoUnsafeDOM(t *testing.T) {
	bad := regexp.MustCompile(`\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(|https?://(?:[a-z0-9-]+\.)+[a-z]{2,}`)
	err := fs.WalkDir(os.DirFS("static"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".css")) {
			return err
		}
		b, err := os.ReadFile("static/" + p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := bad.FindString(line); m != "" && !strings.Contains(line, "http://www.w3.org/2000/svg") {
				t.Errorf("static/%s:%d uses %q", p, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    console.Config
		wantErr bool
	}{
		{"defaults", nil, console.Config{}, false},
		{"province and title", map[string]string{"CLEARSKY_CONSOLE_PROVINCE": " 京 ", "CLEARSKY_CONSOLE_TITLE": "朔州蓝天"}, console.Config{Province: "京", Title: "朔州蓝天"}, false},
		{"latin province", map[string]string{"CLEARSKY_CONSOLE_PROVINCE": "J"}, console.Config{}, true},
		{"two characters", map[string]string{"CLEARSKY_CONSOLE_PROVINCE": "晋京"}, console.Config{}, true},
		{"long title", map[string]string{"CLEARSKY_CONSOLE_TITLE": strings.Repeat("x", 81)}, console.Config{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := console.ConfigFromEnv(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("ConfigFromEnv = %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestPolicyPage: /policy lists the action plan's 33 tasks, each with the anchor the console's
// "task N" links point at.
func TestPolicyPage(t *testing.T) {
	srv, _ := serve(t, console.Config{})
	res, body := fetch(t, srv.URL+console.PolicyPath)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || res.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("GET /policy = %d %v", res.StatusCode, res.Header)
	}
	for n := 1; n <= 33; n++ {
		if !strings.Contains(body, fmt.Sprintf(`<tr id="task-%d">`, n)) {
			t.Errorf("/policy has no row for task %d", n)
		}
	}
	if !strings.Contains(body, "muck transport permit") || strings.Contains(body, "](") {
		t.Errorf("/policy does not show policy.md's text as plain text:\n%s", body)
	}
}
