// Package console is ClearSky's web console: the pages the officer at a checkpoint, the
// bureau's staff, a fleet operator and a filling station or lab use instead of curl. It holds no
// data and no rules. It serves one HTML shell at "/" and its static assets (small vanilla
// JavaScript modules, one stylesheet, an icon) under /console/<version>/, all embedded in the
// binary; the pages call the platform's REST API from the browser with the user's bearer token,
// and the API decides what the token may do. Nothing here needs Node.js to build.
package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"unicode"

	"github.com/gin-gonic/gin"
)

// Name is the service's name in logs and traces.
const Name = "console"

// AssetPrefix is the path under which the console's static assets are served, followed by the
// assets' content version (/console/<version>/app.js).
const AssetPrefix = "/console/"

//go:embed static
var static embed.FS

//go:embed index.html
var indexHTML string

//go:embed public.html
var publicHTML string

// PublicPath is the public disclosure page: the alert in force and the published monthly lists,
// with no sign-in (docs/disclosure.md).
const PublicPath = "/public/"

// Config is the console's configuration. The zero value is usable.
type Config struct {
	// Province is the plate prefix (one Chinese character) the checkpoint page puts in front of
	// a plate typed without one: officers on a phone type "F23456" for 晋F23456. Default "晋".
	Province string
	// Title names the deployment in the page header and title. Default "ClearSky".
	Title string
}

// ConfigFromEnv reads the console's settings: CLEARSKY_CONSOLE_PROVINCE (one Chinese
// character, default 晋) and CLEARSKY_CONSOLE_TITLE (default ClearSky). getenv is os.Getenv
// when nil.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Config{Province: strings.TrimSpace(getenv("CLEARSKY_CONSOLE_PROVINCE")), Title: strings.TrimSpace(getenv("CLEARSKY_CONSOLE_TITLE"))}
	if c.Province != "" {
		r := []rune(c.Province)
		if len(r) != 1 || !unicode.Is(unicode.Han, r[0]) {
			return Config{}, fmt.Errorf("CLEARSKY_CONSOLE_PROVINCE %q: want one Chinese character, the plate's province (e.g. 晋)", c.Province)
		}
	}
	if len(c.Title) > 80 {
		return Config{}, fmt.Errorf("CLEARSKY_CONSOLE_TITLE is longer than 80 characters")
	}
	return c, nil
}

// Service serves the console.
type Service struct {
	cfg     Config
	assets  fs.FS
	version string
	index   []byte
	policy  []byte
	public  []byte
}

// New returns the console service. It panics only if the embedded assets are broken, which
// the package's tests rule out.
func New(cfg Config) *Service {
	if cfg.Province == "" {
		cfg.Province = "晋"
	}
	if cfg.Title == "" {
		cfg.Title = "ClearSky"
	}
	assets, err := fs.Sub(static, "static")
	if err != nil {
		panic(fmt.Sprintf("console: embedded assets: %v", err))
	}
	version, err := contentVersion(assets)
	if err != nil {
		panic(fmt.Sprintf("console: embedded assets: %v", err))
	}
	tpl := template.Must(template.New("index").Parse(indexHTML))
	var buf bytes.Buffer
	err = tpl.Execute(&buf, struct{ Base, Province, Title string }{
		Base: AssetPrefix + version, Province: cfg.Province, Title: cfg.Title,
	})
	if err != nil {
		panic(fmt.Sprintf("console: index template: %v", err))
	}
	var pub bytes.Buffer
	if err := template.Must(template.New("public").Parse(publicHTML)).Execute(&pub, struct{ Base, Title string }{AssetPrefix + version, cfg.Title}); err != nil {
		panic(fmt.Sprintf("console: public template: %v", err))
	}
	return &Service{cfg: cfg, assets: assets, version: version, index: buf.Bytes(), policy: policyPage(AssetPrefix+version, cfg.Title), public: pub.Bytes()}
}

// Version is the content version of the embedded assets (a prefix of their SHA-256), part of
// every asset URL so that browsers may cache assets for good and still get a new release.
func (s *Service) Version() string { return s.version }

// Routes serves the console's shell at "/", the action plan's tasks at PolicyPath and its
// assets under AssetPrefix.
func (s *Service) Routes(r gin.IRouter) {
	r.GET("/", s.serveIndex)
	r.GET("/console", func(c *gin.Context) { c.Redirect(http.StatusFound, "/") })
	r.GET(PolicyPath, s.servePolicy)
	r.GET(PublicPath, s.servePublic)
	r.GET("/public", func(c *gin.Context) { c.Redirect(http.StatusFound, PublicPath) })
	r.GET(AssetPrefix+":version/*file", s.serveAsset)
}

// Run has no background work: it returns when ctx ends.
func (s *Service) Run(ctx context.Context) { <-ctx.Done() }

// contentSecurityPolicy allows the console's own scripts, styles and API calls only: no inline
// script, no third-party origin (nothing is fetched from a CDN, a font service or a tile
// server), no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	// The sign-in link carries a token: never send the page's URL to anyone.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

func (s *Service) serveIndex(c *gin.Context) {
	securityHeaders(c)
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	// The shell names the current asset version; it must not be cached past a release.
	h.Set("Cache-Control", "no-store")
	c.Data(http.StatusOK, "text/html; charset=utf-8", s.index)
}

func (s *Service) serveAsset(c *gin.Context) {
	securityHeaders(c)
	name := strings.TrimPrefix(c.Param("file"), "/")
	if name == "" || !fs.ValidPath(name) {
		c.AbortWithStatus(http.StatusNotFound)
		return
	}
	b, err := fs.ReadFile(s.assets, name)
	if err != nil {
		c.Header("Cache-Control", "no-store")
		c.AbortWithStatus(http.StatusNotFound)
		return
	}
	if c.Param("version") == s.version {
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// An old page asking for its assets after a release gets the current ones, uncached.
		c.Header("Cache-Control", "no-cache")
	}
	c.Data(http.StatusOK, contentType(name), b)
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// contentVersion hashes every asset's name and content, in name order.
func contentVersion(assets fs.FS) (string, error) {
	var names []string
	err := fs.WalkDir(assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(assets, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
