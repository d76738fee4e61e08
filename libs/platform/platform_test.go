package platform

import (
	"slices"
	"strings"
	"testing"
)

func TestFromEnvTrustedProxies(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "CLEARSKY_TRUSTED_PROXIES" {
				return v
			}
			return ""
		}
	}
	cfg, err := FromEnv(env(""))
	if err != nil || cfg.TrustedProxies != nil {
		t.Fatalf("unset: %v, %v; want none trusted", cfg.TrustedProxies, err)
	}
	cfg, err = FromEnv(env(" 10.0.0.0/8, 192.168.1.5 ,"))
	if err != nil || !slices.Equal(cfg.TrustedProxies, []string{"10.0.0.0/8", "192.168.1.5"}) {
		t.Fatalf("two: %v, %v", cfg.TrustedProxies, err)
	}
	if _, err = FromEnv(env("10.0.0.0/8,ingress")); err == nil || !strings.Contains(err.Error(), `"ingress"`) {
		t.Fatalf("a name: error %v, want one naming it", err)
	}
}
