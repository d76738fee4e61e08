package permit

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/summary"
)

func codes(rs []Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

// dieselTruck is a China VIa diesel truck registered before the rule date, active.
func dieselTruck() summary.Vehicle {
	return summary.Vehicle{VIN: "LZZ1CLVB1N0000006", Plate: "晋F56789", PlateColour: "yellow", Status: "active", FuelType: "diesel",
		EmissionStandard: "VIa", Category: "N3", RegisteredOn: "2017-09-09", FleetID: "f1"}
}

func electricTruck() summary.Vehicle {
	v := dieselTruck()
	v.FuelType, v.NewEnergy, v.EmissionStandard, v.RegisteredOn, v.PlateColour = "electric", true, "", "2025-02-01", "yellow_green"
	return v
}

func equipped() Application {
	return Application{VIN: "LZZ1CLVB1N0000006", Enclosed: true, GPS: true, Video: true}
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	p := DefaultPolicy()
	clean := p
	clean.RequireClean = true
	withV := func(f func(*summary.Vehicle)) summary.Vehicle { v := dieselTruck(); f(&v); return v }
	withA := func(f func(*Application)) Application { a := equipped(); f(&a); return a }
	tests := []struct {
		name   string
		in     CheckInput
		policy Policy
		want   []string
	}{
		{"diesel China VIa registered before the rule date", CheckInput{Application: equipped(), Vehicle: dieselTruck()}, p, nil},
		{"electric truck added after the rule date", CheckInput{Application: equipped(), Vehicle: electricTruck()}, p, nil},
		{"diesel truck added the day after the rule date", CheckInput{Application: equipped(), Vehicle: withV(func(v *summary.Vehicle) { v.RegisteredOn = "2018-10-27" })}, p, []string{"not_new_energy"}},
		{"diesel truck added on the rule date is not newly added", CheckInput{Application: equipped(), Vehicle: withV(func(v *summary.Vehicle) { v.RegisteredOn = "2018-10-26" })}, p, nil},
		{"no registration day counts as newly added", CheckInput{Application: equipped(), Vehicle: withV(func(v *summary.Vehicle) { v.RegisteredOn = "" })}, p, []string{"not_new_energy"}},
		{"not enclosed", CheckInput{Application: withA(func(a *Application) { a.Enclosed = false }), Vehicle: dieselTruck()}, p, []string{"not_enclosed"}},
		{"no GPS", CheckInput{Application: withA(func(a *Application) { a.GPS = false }), Vehicle: dieselTruck()}, p, []string{"no_gps"}},
		{"no video", CheckInput{Application: withA(func(a *Application) { a.Video = false }), Vehicle: dieselTruck()}, p, []string{"no_video"}},
		{"China IV diesel is below the minimum", CheckInput{Application: equipped(), Vehicle: withV(func(v *summary.Vehicle) { v.EmissionStandard = "IV" })}, p, []string{"emission_standard_below_minimum"}},
		{"China V diesel meets the minimum", CheckInput{Application: equipped(), Vehicle: withV(func(v *summary.Vehicle) { v.EmissionStandard = "V" })}, p, nil},
		{"unknown standard is below the minimum", CheckInput{Application: equipped(), Vehicle: withV(func(v *summary.Vehicle) { v.EmissionStandard = "" })}, p, []string{"emission_standard_below_minimum"}},
		{"new-energy always meets the emission standard", CheckInput{Application: equipped(), Vehicle: func() summary.Vehicle { v := electricTruck(); v.EmissionStandard = "I"; return v }()}, p, nil},
		{"scrapped registration", CheckInput{Application: equipped(), Vehicle: withV(func(v *summary.Vehicle) { v.Status = "scrapped" })}, p, []string{"registration_not_active"}},
		{"void plate", CheckInput{Application: equipped(), Vehicle: withV(func(v *summary.Vehicle) { v.Status = "plate_void" })}, p, []string{"registration_not_active"}},
		{"past forced scrappage by the flag", CheckInput{Application: equipped(), Vehicle: withV(func(v *summary.Vehicle) { v.PastScrapDue, v.ScrapDue = true, "2026-01-01" })}, p, []string{"past_forced_scrappage"}},
		{"past forced scrappage by the day", CheckInput{Application: equipped(), Vehicle: withV(func(v *summary.Vehicle) { v.ScrapDue = "2026-05-31" }), Now: now}, p, []string{"past_forced_scrappage"}},
		{"scrappage day still ahead", CheckInput{Application: equipped(), Vehicle: withV(func(v *summary.Vehicle) { v.ScrapDue = "2026-06-02" }), Now: now}, p, nil},
		{"overdue on a phase-out list", CheckInput{Application: equipped(), Vehicle: withV(func(v *summary.Vehicle) {
			v.PhaseOut = summary.PhaseOut{Listed: true, List: "diesel_truck_china3", Deadline: "2020-12-31", Overdue: true}
		})}, p, []string{"phase_out_overdue"}},
		{"listed but not overdue", CheckInput{Application: equipped(), Vehicle: withV(func(v *summary.Vehicle) { v.PhaseOut = summary.PhaseOut{Listed: true} })}, p, nil},
		{"open remote-sensing case ignored when not configured", CheckInput{Application: equipped(), Vehicle: dieselTruck(), Signals: Signals{RemoteSensingOpen: true, OBDAlarm: true}}, p, nil},
		{"open remote-sensing case when configured", CheckInput{Application: equipped(), Vehicle: dieselTruck(), Signals: Signals{RemoteSensingOpen: true}}, clean, []string{"open_remote_sensing_case"}},
		{"OBD alarm when configured", CheckInput{Application: equipped(), Vehicle: dieselTruck(), Signals: Signals{OBDAlarm: true}}, clean, []string{"obd_alarm"}},
		{"clean record when configured", CheckInput{Application: equipped(), Vehicle: dieselTruck()}, clean, nil},
		{"every reason is listed", CheckInput{Application: Application{}, Vehicle: withV(func(v *summary.Vehicle) {
			v.RegisteredOn, v.EmissionStandard, v.Status, v.PastScrapDue, v.PhaseOut.Overdue = "2020-01-01", "III", "scrapped", true, true
		}), Signals: Signals{RemoteSensingOpen: true, OBDAlarm: true}}, clean,
			[]string{"not_new_energy", "not_enclosed", "no_gps", "no_video", "emission_standard_below_minimum", "registration_not_active",
				"past_forced_scrappage", "phase_out_overdue", "open_remote_sensing_case", "obd_alarm"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in.Now.IsZero() {
				tc.in.Now = now
			}
			got := Check(tc.in, tc.policy)
			if !slices.Equal(codes(got), tc.want) {
				t.Fatalf("Check = %v, want %v", codes(got), tc.want)
			}
			for _, r := range got {
				if r.Message == "" || r.Rule == "" {
					t.Fatalf("reason %+v lacks a message or a rule", r)
				}
			}
		})
	}
}

func TestCheckConfiguredMinimum(t *testing.T) {
	p := DefaultPolicy()
	p.MinimumStandard = "VI"
	v := dieselTruck()
	v.EmissionStandard = "V"
	if got := codes(Check(CheckInput{Application: equipped(), Vehicle: v}, p)); !slices.Equal(got, []string{"emission_standard_below_minimum"}) {
		t.Fatalf("China V under a China VI minimum = %v", got)
	}
	v.EmissionStandard = "VIa"
	if got := Check(CheckInput{Application: equipped(), Vehicle: v}, p); len(got) != 0 {
		t.Fatalf("VIa under a VI minimum = %v, want none (VI and VIa rank the same)", codes(got))
	}
}

// TestLifecycle walks every action from every state for every role that matters.
func TestLifecycle(t *testing.T) {
	states := []State{Pending, Approved, Refused, Suspended, Revoked, Expired}
	allowed := map[Action]map[State]State{
		Approve:   {Pending: Approved},
		Refuse:    {Pending: Refused},
		Suspend:   {Approved: Suspended},
		Resume:    {Suspended: Approved},
		Revoke:    {Approved: Revoked, Suspended: Revoked},
		Reinstate: {Revoked: Approved},
		Expire:    {Approved: Expired, Suspended: Expired},
	}
	actor := map[Action]auth.Role{Approve: auth.Construction, Refuse: auth.Construction, Suspend: auth.Construction,
		Resume: auth.Construction, Revoke: auth.Construction, Reinstate: auth.Bureau, Expire: auth.System}
	roles := []auth.Role{auth.Construction, auth.Bureau, auth.Police, auth.Fleet, auth.System, auth.Station, auth.Admin}
	for a, edges := range allowed {
		for _, from := range states {
			for _, role := range roles {
				st, err := Next(from, a, role)
				mayAct := role == actor[a] // admin takes no step
				want, edge := edges[from]
				name := string(a) + " " + string(from) + " by " + string(role)
				switch {
				case !mayAct:
					if !errors.Is(err, ErrNotAllowed) {
						t.Errorf("%s: error = %v, want ErrNotAllowed", name, err)
					}
					if MayTake(a, role) {
						t.Errorf("%s: MayTake = true", name)
					}
				case !edge:
					if err == nil || errors.Is(err, ErrNotAllowed) {
						t.Errorf("%s: = %v, %v; want a state error", name, st.To, err)
					}
				default:
					if err != nil || st.To != want {
						t.Errorf("%s: = %v, %v; want %v", name, st.To, err, want)
					}
				}
			}
		}
	}
	needReason := map[Action]bool{Refuse: true, Suspend: true, Revoke: true, Reinstate: true}
	recheck := map[Action]bool{Approve: true, Resume: true, Reinstate: true}
	for a, edges := range allowed {
		for from := range edges {
			st, _ := Next(from, a, actor[a])
			if st.NeedReason != needReason[a] || st.Recheck != recheck[a] {
				t.Errorf("%s from %s: need reason %v recheck %v, want %v %v", a, from, st.NeedReason, st.Recheck, needReason[a], recheck[a])
			}
		}
	}
	if _, err := Next(Pending, "destroy", auth.Construction); err == nil {
		t.Error("an unknown action was accepted")
	}
}

func TestStateAt(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	tests := []struct {
		state State
		at    time.Time
		want  State
		valid bool
	}{
		{Approved, from.Add(-time.Second), Approved, false},
		{Approved, from, Approved, true},
		{Approved, to.Add(-time.Nanosecond), Approved, true},
		{Approved, to, Expired, false},
		{Suspended, to, Expired, false},
		{Suspended, from, Suspended, false},
		{Revoked, to, Revoked, false},
		{Pending, to, Pending, false},
	}
	for _, tc := range tests {
		p := Permit{State: tc.state, ValidFrom: from, ValidTo: to}
		if got := p.StateAt(tc.at); got != tc.want {
			t.Errorf("%s at %v: StateAt = %s, want %s", tc.state, tc.at, got, tc.want)
		}
		if got := p.ValidAt(tc.at); got != tc.valid {
			t.Errorf("%s at %v: ValidAt = %v, want %v", tc.state, tc.at, got, tc.valid)
		}
	}
}
