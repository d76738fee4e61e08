package summary

import "time"

// RemoteSensingStatus is the remote-sensing service's part (tasks 15, 32, 33): a plate's open
// exceedance cases and its roadside exceedances within the current inspection cycle. A plate the
// service knows nothing about has Exceeding false and empty lists: a clean answer from the
// owner, not a missing one.
type RemoteSensingStatus struct {
	Plate       string `json:"plate"`
	PlateColour string `json:"plate_colour"`
	// Exceeding reports at least one open case: the same pollutant exceeded twice or more within
	// one inspection cycle, and the case is neither closed nor dismissed.
	Exceeding bool `json:"exceeding"`
	// OpenCases lists the open cases, oldest first (one per pollutant at most).
	OpenCases []RemoteSensingCase `json:"open_cases"`
	// CycleDays is the length of the inspection cycle counted back from UpdatedAt; CycleFrom is
	// where that window starts.
	CycleDays int       `json:"cycle_days"`
	CycleFrom time.Time `json:"cycle_from"`
	// ExceedancesInCycle counts the judged exceedances (one per pollutant per reading) measured
	// since CycleFrom; ExceedancesByPollutant splits them by pollutant (co, hc, no, opacity,
	// ringelmann).
	ExceedancesInCycle     int            `json:"exceedances_in_cycle"`
	ExceedancesByPollutant map[string]int `json:"exceedances_by_pollutant"`
	// LastExceedance is the latest exceedance since CycleFrom, if any.
	LastExceedance *RemoteSensingExceedance `json:"last_exceedance,omitempty"`
}

// RemoteSensingCase is one open case in the remote-sensing part.
type RemoteSensingCase struct {
	ID        string `json:"id"`
	Pollutant string `json:"pollutant"`
	// State is detected, notified, penalised, repaired or retested (closed and dismissed cases
	// are not open).
	State      string    `json:"state"`
	OpenedAt   time.Time `json:"opened_at"`
	StateSince time.Time `json:"state_since"`
}

// RemoteSensingExceedance is one roadside reading above its limit.
type RemoteSensingExceedance struct {
	At        time.Time `json:"at"`
	Pollutant string    `json:"pollutant"`
	Value     float64   `json:"value"`
	Limit     float64   `json:"limit"`
	Unit      string    `json:"unit"`
	Standard  string    `json:"standard"`
	StationID string    `json:"station_id"`
	ReadingID string    `json:"reading_id"`
}
