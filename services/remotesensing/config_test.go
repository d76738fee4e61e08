package remotesensing_test

import (
	"testing"

	"github.com/clearsky/clearsky/services/remotesensing"
)

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"CLEARSKY_REMOTESENSING_LIMITS": "/etc/limits.json", "CLEARSKY_REMOTESENSING_CYCLE_DAYS": "90",
		"CLEARSKY_REMOTESENSING_MAX_BATCH": "2000"}
	cfg, err := remotesensing.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || cfg.LimitsFile != "/etc/limits.json" || cfg.CycleDays != 90 || cfg.MaxBatch != 2000 || cfg.CalibrationValidDays != 0 {
		t.Fatalf("config = %+v, %v", cfg, err)
	}
	for _, bad := range []string{"0", "-3", "six"} {
		env["CLEARSKY_REMOTESENSING_CALIBRATION_DAYS"] = bad
		if _, err := remotesensing.ConfigFromEnv(func(k string) string { return env[k] }); err == nil {
			t.Errorf("CALIBRATION_DAYS=%q accepted", bad)
		}
	}
}
