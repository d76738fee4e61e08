package detect

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidThresholds is wrapped by Thresholds.Validate.
var ErrInvalidThresholds = errors.New("invalid thresholds")

// Thresholds are the limits of every rule. The bureau can change them, so
// they are plain data; durations are whole seconds. DefaultThresholds gives
// the values of the action plan and the documented engineering choices.
type Thresholds struct {
	// IdleRPM: a sample counts as "engine loaded" only when the engine
	// speed is strictly above it.
	IdleRPM float64 `json:"idle_rpm"`
	// SCRInletMinC: a loaded sample also needs the SCR inlet temperature
	// strictly above it (below it urea dosing is inhibited by design).
	SCRInletMinC float64 `json:"scr_inlet_min_c"`
	// WindowSeconds is the length of the NOx / SCR averaging window, 10-3600.
	WindowSeconds int `json:"window_seconds"`
	// WindowMinSamples is how many loaded samples the window needs before
	// the NOx and SCR rules judge it (open or close).
	WindowMinSamples int `json:"window_min_samples"`
	// NOxLimitPPM: the NOx alarm opens when the window average of the
	// downstream NOx is strictly above it.
	NOxLimitPPM float64 `json:"nox_limit_ppm"`
	// NOxHysteresisPPM: the NOx alarm closes when the average is at or
	// below NOxLimitPPM minus this.
	NOxHysteresisPPM float64 `json:"nox_hysteresis_ppm"`
	// SCREfficiencyMinPct: the SCR alarm opens when the window conversion
	// efficiency 100*(1 - sum(down)/sum(up)) is strictly below it.
	SCREfficiencyMinPct float64 `json:"scr_efficiency_min_pct"`
	// SCREfficiencyHysteresisPct: the SCR alarm closes when the efficiency
	// is at or above SCREfficiencyMinPct plus this many points.
	SCREfficiencyHysteresisPct float64 `json:"scr_efficiency_hysteresis_pct"`
	// SCRUpstreamFloorPPM: only loaded samples with upstream NOx at or
	// above it count for the efficiency (small denominators are noise).
	SCRUpstreamFloorPPM float64 `json:"scr_upstream_floor_ppm"`
	// ReagentEmptyPct: the reagent alarm opens on a sample at or below it.
	ReagentEmptyPct float64 `json:"reagent_empty_pct"`
	// ReagentRefillPct: the reagent alarm closes on a sample at or above it.
	ReagentRefillPct float64 `json:"reagent_refill_pct"`
	// MovingAboveKmh: the truck is moving when its speed is strictly above it.
	MovingAboveKmh float64 `json:"moving_above_kmh"`
	// OfflineAfterSeconds: Sweep opens the offline alarm when nothing
	// arrived for strictly longer than this and the last speed was moving.
	OfflineAfterSeconds int `json:"offline_after_seconds"`
	// MaxClockAheadSeconds: a sample whose At is more than this ahead of its
	// ReceivedAt is rejected (a terminal clock in the future would
	// otherwise make every later sample look late). 0 disables the check.
	MaxClockAheadSeconds int `json:"max_clock_ahead_seconds"`
	// FlatlineSamples: the flat-line tamper alarm opens after this many
	// consecutive loaded samples with exactly the same downstream NOx.
	FlatlineSamples int `json:"flatline_samples"`
	// FlatlineMinRPMSpread: ... while the engine speed over those samples
	// spans at least this many rpm (the engine really changed load).
	FlatlineMinRPMSpread float64 `json:"flatline_min_rpm_spread"`
	// MaxSpeedKmh: vehicle speed above it is implausible for a heavy truck.
	MaxSpeedKmh float64 `json:"max_speed_kmh"`
	// MaxEngineRPM: engine speed above it is implausible for a heavy diesel.
	MaxEngineRPM float64 `json:"max_engine_rpm"`
	// MaxCoolantC: coolant above it with the engine turning is implausible.
	MaxCoolantC float64 `json:"max_coolant_c"`
	// OutOfRangeSamples: an instantaneous plausibility check must fail on
	// this many consecutive samples before the tamper alarm opens.
	OutOfRangeSamples int `json:"out_of_range_samples"`
	// NOxDownAboveUpMarginPPM: downstream NOx above upstream NOx by more
	// than this, on a loaded sample, is implausible (an SCR cannot make NOx;
	// the margin absorbs sensor tolerance and ammonia slip).
	NOxDownAboveUpMarginPPM float64 `json:"nox_down_above_up_margin_ppm"`
	// NOxDownAboveUpSamples: ... on this many consecutive loaded samples.
	NOxDownAboveUpSamples int `json:"nox_down_above_up_samples"`
	// PositionJumpKmh: a speed implied by two consecutive valid positions
	// strictly above it is a position jump ...
	PositionJumpKmh float64 `json:"position_jump_kmh"`
	// PositionJumpMinKm: ... provided the two positions are at least this far
	// apart (GNSS noise of some tens of metres between 1 s samples is not a
	// jump).
	PositionJumpMinKm float64 `json:"position_jump_min_km"`
	// DataGapSeconds: consecutive samples further apart than this, with the
	// truck moving before and after, are a data gap.
	DataGapSeconds int `json:"data_gap_seconds"`
	// DataGapGraceSeconds: how long a data gap may wait for reissued
	// samples (command 0x03) to fill it before the alarm opens.
	DataGapGraceSeconds int `json:"data_gap_grace_seconds"`
	// ExemptionDays: days of alarm-free data after which a truck becomes
	// eligible for exemption from the periodic on-line test.
	ExemptionDays int `json:"exemption_days"`
	// ExemptionMinLoadedSamples: ... provided at least this many loaded
	// samples were seen in that time.
	ExemptionMinLoadedSamples int64 `json:"exemption_min_loaded_samples"`
}

// DefaultThresholds returns the defaults: the action plan's numbers
// (docs/limits.md, "OBD telemetry") and the engineering choices documented on
// each field.
func DefaultThresholds() Thresholds {
	return Thresholds{
		IdleRPM:                    600,
		SCRInletMinC:               200,
		WindowSeconds:              300,
		WindowMinSamples:           60,
		NOxLimitPPM:                500,
		NOxHysteresisPPM:           25,
		SCREfficiencyMinPct:        60,
		SCREfficiencyHysteresisPct: 5,
		SCRUpstreamFloorPPM:        100,
		ReagentEmptyPct:            0,
		ReagentRefillPct:           10,
		MovingAboveKmh:             0,
		OfflineAfterSeconds:        600,
		MaxClockAheadSeconds:       600,
		FlatlineSamples:            120,
		FlatlineMinRPMSpread:       100,
		MaxSpeedKmh:                160,
		MaxEngineRPM:               3500,
		MaxCoolantC:                150,
		OutOfRangeSamples:          3,
		NOxDownAboveUpMarginPPM:    200,
		NOxDownAboveUpSamples:      60,
		PositionJumpKmh:            200,
		PositionJumpMinKm:          1,
		DataGapSeconds:             60,
		DataGapGraceSeconds:        900,
		ExemptionDays:              30,
		ExemptionMinLoadedSamples:  180_000,
	}
}

// Validate reports every inconsistent or out-of-range threshold, wrapping
// ErrInvalidThresholds. The rules assume validated thresholds.
func (th Thresholds) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidThresholds}, args...)...))
	}
	if th.IdleRPM < 0 {
		bad("idle_rpm %v is negative", th.IdleRPM)
	}
	if th.WindowSeconds < 10 || th.WindowSeconds > maxWindowSeconds {
		bad("window_seconds %d outside [10, %d]", th.WindowSeconds, maxWindowSeconds)
	}
	if th.WindowMinSamples < 1 || th.WindowMinSamples > th.WindowSeconds+1 {
		bad("window_min_samples %d outside [1, window_seconds+1]", th.WindowMinSamples)
	}
	if th.NOxLimitPPM <= 0 {
		bad("nox_limit_ppm %v must be positive", th.NOxLimitPPM)
	}
	if th.NOxHysteresisPPM < 0 || th.NOxHysteresisPPM >= th.NOxLimitPPM {
		bad("nox_hysteresis_ppm %v outside [0, nox_limit_ppm)", th.NOxHysteresisPPM)
	}
	if th.SCREfficiencyMinPct <= 0 || th.SCREfficiencyMinPct >= 100 {
		bad("scr_efficiency_min_pct %v outside (0, 100)", th.SCREfficiencyMinPct)
	}
	if th.SCREfficiencyHysteresisPct < 0 || th.SCREfficiencyMinPct+th.SCREfficiencyHysteresisPct > 100 {
		bad("scr_efficiency_hysteresis_pct %v outside [0, 100-scr_efficiency_min_pct]", th.SCREfficiencyHysteresisPct)
	}
	if th.SCRUpstreamFloorPPM <= 0 || th.SCRUpstreamFloorPPM > noxMaxPPM {
		bad("scr_upstream_floor_ppm %v outside (0, %v]", th.SCRUpstreamFloorPPM, noxMaxPPM)
	}
	if th.ReagentRefillPct <= th.ReagentEmptyPct {
		bad("reagent_refill_pct %v must exceed reagent_empty_pct %v", th.ReagentRefillPct, th.ReagentEmptyPct)
	}
	if th.MovingAboveKmh < 0 {
		bad("moving_above_kmh %v is negative", th.MovingAboveKmh)
	}
	if th.OfflineAfterSeconds < 1 {
		bad("offline_after_seconds %d must be positive", th.OfflineAfterSeconds)
	}
	if th.MaxClockAheadSeconds < 0 {
		bad("max_clock_ahead_seconds %d is negative", th.MaxClockAheadSeconds)
	}
	if th.FlatlineSamples < 2 {
		bad("flatline_samples %d must be at least 2", th.FlatlineSamples)
	}
	if th.FlatlineMinRPMSpread < 0 {
		bad("flatline_min_rpm_spread %v is negative", th.FlatlineMinRPMSpread)
	}
	if th.MaxSpeedKmh <= 0 || th.MaxEngineRPM <= 0 || th.MaxCoolantC <= 0 {
		bad("max_speed_kmh, max_engine_rpm and max_coolant_c must be positive")
	}
	if th.OutOfRangeSamples < 1 || th.NOxDownAboveUpSamples < 1 {
		bad("out_of_range_samples and nox_down_above_up_samples must be at least 1")
	}
	if th.NOxDownAboveUpMarginPPM < 0 {
		bad("nox_down_above_up_margin_ppm %v is negative", th.NOxDownAboveUpMarginPPM)
	}
	if th.PositionJumpKmh <= 0 || th.PositionJumpMinKm < 0 {
		bad("position_jump_kmh must be positive and position_jump_min_km not negative")
	}
	if th.DataGapSeconds < 1 || th.DataGapGraceSeconds < 0 {
		bad("data_gap_seconds must be positive and data_gap_grace_seconds not negative")
	}
	if th.ExemptionDays < 1 || th.ExemptionMinLoadedSamples < 0 {
		bad("exemption_days must be positive and exemption_min_loaded_samples not negative")
	}
	return errors.Join(errs...)
}

// maxWindowSeconds bounds the window, hence the per-truck memory.
const maxWindowSeconds = 3600

// seconds converts a whole number of seconds to a Duration.
func seconds(n int) time.Duration { return time.Duration(n) * time.Second }
