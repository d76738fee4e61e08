package docs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// TestContractsBoundEveryInput: in every services/*/openapi.yaml, each string a request body
// may carry has a maxLength (an enum, a date or a time is bounded by its form), each array a
// maxItems, and each number a minimum and a maximum: the bounds docs/inputs.md lists, which
// libs/request enforces.
func TestContractsBoundEveryInput(t *testing.T) {
	specs, err := filepath.Glob(filepath.Join(root, "services", "*", "openapi.yaml"))
	if err != nil || len(specs) == 0 {
		t.Fatalf("no contracts found: %v", err)
	}
	for _, spec := range specs {
		b, err := os.ReadFile(spec)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		w := boundsWalker{doc: doc, seen: map[string]bool{}}
		if strings.Contains(spec, filepath.Join("services", "fuel")) {
			// Fuel's limit tables get their bounds with the limit-table and CSV import work;
			// every other fuel body is checked here.
			w.seen["#/components/schemas/LimitTable"], w.seen["#/components/schemas/Limit"] = true, true
		}
		paths, _ := doc["paths"].(map[string]any)
		for p, item := range paths {
			ops, _ := item.(map[string]any)
			for method, op := range ops {
				o, _ := op.(map[string]any)
				rb, _ := o["requestBody"].(map[string]any)
				content, _ := rb["content"].(map[string]any)
				for ct, media := range content {
					if !strings.Contains(ct, "json") {
						continue
					}
					m, _ := media.(map[string]any)
					w.walk(fmt.Sprintf("%s %s body", strings.ToUpper(method), p), m["schema"])
				}
			}
		}
		sort.Strings(w.missing)
		rel, _ := filepath.Rel(root, spec)
		for _, m := range slices.Compact(w.missing) {
			t.Errorf("%s: %s", rel, m)
		}
	}
}

type boundsWalker struct {
	doc     map[string]any
	seen    map[string]bool
	missing []string
}

func (w *boundsWalker) walk(at string, node any) {
	s, _ := node.(map[string]any)
	if s == nil {
		return
	}
	if ref, ok := s["$ref"].(string); ok {
		if w.seen[ref] {
			return
		}
		w.seen[ref] = true
		var cur any = w.doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, _ := cur.(map[string]any)
			cur = m[part]
		}
		w.walk(ref, cur)
		return
	}
	for _, key := range []string{"allOf", "oneOf", "anyOf"} {
		list, _ := s[key].([]any)
		for _, sub := range list {
			w.walk(at, sub)
		}
	}
	types := map[string]bool{}
	switch ty := s["type"].(type) {
	case string:
		types[ty] = true
	case []any:
		for _, x := range ty {
			if str, ok := x.(string); ok {
				types[str] = true
			}
		}
	}
	_, enum := s["enum"]
	_, konst := s["const"]
	format, _ := s["format"].(string)
	has := func(k string) bool { _, ok := s[k]; return ok }
	switch {
	case types["string"] && !enum && !konst && format != "date" && format != "date-time" && !has("maxLength"):
		w.missing = append(w.missing, at+": a string without maxLength")
	case types["array"] && !has("maxItems"):
		w.missing = append(w.missing, at+": an array without maxItems")
	case (types["number"] || types["integer"]) && !enum && (!has("minimum") && !has("exclusiveMinimum") || !has("maximum") && !has("exclusiveMaximum")):
		w.missing = append(w.missing, at+": a number without minimum and maximum")
	case types["object"] && has("additionalProperties") && !has("maxProperties"):
		if _, free := s["additionalProperties"].(map[string]any); free {
			w.missing = append(w.missing, at+": a map without maxProperties")
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for name, sub := range props {
			w.walk(at+"."+name, sub)
		}
	}
	w.walk(at+"[]", s["items"])
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		w.walk(at+".*", ap)
	}
}
