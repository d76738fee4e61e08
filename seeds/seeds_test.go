package seeds

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/clearsky/clearsky/libs/auth"
)

func TestDemoFilesAreWellFormed(t *testing.T) {
	files, err := Demo()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no demo files")
	}
	for _, f := range files {
		for i, s := range f.Steps {
			if _, err := auth.ParseRole(string(s.Role)); err != nil {
				t.Errorf("%s step %d: %v", f.Name, i+1, err)
			}
			if s.Role.NeedsTenant() && s.Tenant == "" {
				t.Errorf("%s step %d: role %s needs a tenant", f.Name, i+1, s.Role)
			}
			if !strings.HasPrefix(s.Path, "/v1/") || s.Method == "" || !json.Valid(s.Body) {
				t.Errorf("%s step %d: bad call %s %s", f.Name, i+1, s.Method, s.Path)
			}
		}
	}
}

// The shipped policy file documents the registry's defaults; it must parse and stay valid JSON.
func TestRegistryPolicyFile(t *testing.T) {
	var v map[string]any
	if err := json.NewDecoder(bytes.NewReader(RegistryPolicy())).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if _, ok := v["new_registration"]; !ok {
		t.Fatal("registry-policy.json lacks new_registration")
	}
}
