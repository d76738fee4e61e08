package allinone_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/services/allinone"
)

// contractRoutes reads the operations of an openapi.yaml as "METHOD /path/{}" (parameters as
// {}), from its paths section: a path at two spaces of indent, its methods at four.
func contractRoutes(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pathLine := regexp.MustCompile(`^  (/\S*):\s*$`)
	methodLine := regexp.MustCompile(`^    (get|put|post|delete|patch|head|options):`)
	var out []string
	in, current := false, ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "paths:":
			in = true
		case in && line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#"):
			in = false
		case in && pathLine.MatchString(line):
			current = pathLine.FindStringSubmatch(line)[1]
		case in && current != "" && methodLine.MatchString(line):
			out = append(out, strings.ToUpper(methodLine.FindStringSubmatch(line)[1])+" "+normalise(current))
		}
	}
	return out
}

var (
	ginParam     = regexp.MustCompile(`[:*][A-Za-z_]+`)
	openapiParam = regexp.MustCompile(`\{[^}]*\}`)
)

// normalise writes a route's parameters, gin's (:vin, *file) or OpenAPI's ({vin}), as {}.
func normalise(path string) string {
	return openapiParam.ReplaceAllString(ginParam.ReplaceAllString(path, "{}"), "{}")
}

// TestEveryRouteIsInItsContract: each service's routes (gin's Routes()) are the operations of
// its openapi.yaml, no more and no fewer.
func TestEveryRouteIsInItsContract(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deps := newDeps(t, "allinone", nil)
	_, svcs, err := allinone.Build(ctx, allinone.Config{OBDAddr: "127.0.0.1:0", Getenv: func(string) string { return "" }}, deps)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, svc := range svcs {
		name := filepath.Base(reflect.TypeOf(svc).Elem().PkgPath())
		spec := filepath.Join("..", name, "openapi.yaml")
		if _, err := os.Stat(spec); os.IsNotExist(err) {
			if name != "console" { // the console serves pages, not an API
				t.Errorf("service %s has no openapi.yaml", name)
			}
			continue
		}
		gin.SetMode(gin.ReleaseMode)
		e := gin.New()
		svc.Routes(e)
		var served []string
		for _, r := range e.Routes() {
			served = append(served, r.Method+" "+normalise(r.Path))
		}
		documented := contractRoutes(t, spec)
		if len(documented) == 0 {
			t.Errorf("%s: no operations read from %s", name, spec)
		}
		for _, r := range served {
			if !slices.Contains(documented, r) {
				t.Errorf("%s serves %s, which %s does not describe", name, r, spec)
			}
		}
		for _, r := range documented {
			if !slices.Contains(served, r) {
				t.Errorf("%s describes %s, which %s does not serve", spec, r, name)
			}
		}
		t.Logf("%s: %d routes, each in %s", name, len(served), spec)
		checked++
	}
	if checked != 9 {
		t.Fatalf("checked %d services' contracts, want 9", checked)
	}
}
