// Package seeds carries ClearSky's demo and reference data, embedded in the binary, and applies
// the demo data through the services' own HTTP API, so that seeded records pass the same
// validation, authorisation and cache publishing as any other.
//
// Each demo/*.json file is an ordered list of API calls, each made with a token for the role
// (and tenant) it names. Files apply in name order. A call answered 409 Conflict is a record
// that is already there, so applying a file twice changes nothing new.
package seeds

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
)

//go:embed demo/*.json registry-policy.json
var files embed.FS

// Step is one API call of a demo file.
type Step struct {
	Name   string          `json:"name"`
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Role   auth.Role       `json:"role"`
	Tenant string          `json:"tenant"`
	Body   json.RawMessage `json:"body"`
}

// File is one demo file.
type File struct {
	Name    string `json:"-"`
	Hash    string `json:"-"`
	Service string `json:"service"`
	About   string `json:"about"`
	Steps   []Step `json:"steps"`
}

// Demo returns the demo files in the order they apply.
func Demo() ([]File, error) {
	names, err := fs.Glob(files, "demo/*.json")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]File, 0, len(names))
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		var f File
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("seed file %s: %w", n, err)
		}
		sum := sha256.Sum256(b)
		f.Name, f.Hash = n, hex.EncodeToString(sum[:])
		out = append(out, f)
	}
	return out, nil
}

// RegistryPolicy returns the registration policy shipped in seeds/registry-policy.json.
func RegistryPolicy() []byte {
	b, _ := files.ReadFile("registry-policy.json")
	return b
}

// Result counts what applying a file did.
type Result struct {
	Created, Present int
}

// Apply makes f's calls against h, signing a short-lived token per call.
func Apply(ctx context.Context, h http.Handler, keys *auth.Keys, f File) (Result, error) {
	var r Result
	for i, s := range f.Steps {
		tok, err := keys.Issue(auth.Principal{Subject: "seed", Role: s.Role, Tenant: s.Tenant}, time.Now(), 5*time.Minute)
		if err != nil {
			return r, fmt.Errorf("%s step %d (%s): %w", f.Name, i+1, s.Name, err)
		}
		req := httptest.NewRequestWithContext(ctx, s.Method, s.Path, bytes.NewReader(s.Body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusConflict:
			r.Present++
		case rec.Code >= 200 && rec.Code < 300:
			r.Created++
		default:
			return r, fmt.Errorf("%s step %d (%s): %s %s answered %d: %s", f.Name, i+1, s.Name, s.Method, s.Path, rec.Code, rec.Body.String())
		}
	}
	return r, nil
}
