package testenv

import (
	"os"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// ContractRoutes lists the operations of an OpenAPI file as "METHOD /path/{param}", for a
// service's authorisation-matrix test (every documented route must be in its table).
func ContractRoutes(t testing.TB, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for p, ops := range doc.Paths {
		for m := range ops {
			if m != "parameters" && !strings.HasPrefix(m, "x-") {
				out = append(out, strings.ToUpper(m)+" "+p)
			}
		}
	}
	return out
}
