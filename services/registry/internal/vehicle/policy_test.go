package vehicle

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
)

// TestPolicyFileMatchesDefault keeps seeds/registry-policy.json and DefaultPolicy the same, so
// the documented file tells the truth about the defaults.
func TestPolicyFileMatchesDefault(t *testing.T) {
	_, here, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(here), "../../../../seeds/registry-policy.json")
	got, err := LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, DefaultPolicy()) {
		t.Fatalf("seeds/registry-policy.json = %+v\nDefaultPolicy() = %+v", got, DefaultPolicy())
	}
	bad := filepath.Join(t.TempDir(), "p.json")
	_ = os.WriteFile(bad, []byte(`{"new_registration":[{"from":"2020-01-01","minimum":"VII"}]}`), 0o600)
	if _, err := LoadPolicy(bad); err == nil {
		t.Fatal("LoadPolicy accepted an unknown standard")
	}
}
