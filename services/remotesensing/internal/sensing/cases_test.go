package sensing

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
)

// The loop as docs/remotesensing.md states it ("The case loop"), written out independently of
// Steps: the role of each target state, and the allowed (from, to) pairs.
var (
	stepRole = map[State]auth.Role{Notified: auth.Bureau, Penalised: auth.Police, Repaired: auth.Transport, Retested: auth.Bureau,
		Closed: auth.Bureau, Dismissed: auth.Bureau}
	allowed = map[[2]State]bool{
		{Detected, Notified}: true, {Notified, Penalised}: true, {Penalised, Repaired}: true, {Repaired, Retested}: true,
		{Retested, Closed}:    true,
		{Detected, Dismissed}: true, {Notified, Dismissed}: true, {Penalised, Dismissed}: true, {Repaired, Dismissed}: true,
		{Retested, Dismissed}: true,
	}
)

func caseIn(s State) Case {
	c := Case{ID: "rsc_1", Plate: "晋F12345", PlateColour: "yellow", Pollutant: "opacity", State: s, Version: 3,
		History: []Entry{{Event: EventTransition, To: Detected}}}
	if s == Penalised || s == Repaired || s == Retested || s == Closed {
		c.Repair = &RepairReport{ShopID: "shop-1", Reference: "WX-1"}
	}
	return c
}

// TestEveryTransitionByRole tries every state, every target and every role: only the loop's
// steps by their own role pass; a wrong role is 403, a step out of order 409, "detected" is no
// step (400).
func TestEveryTransitionByRole(t *testing.T) {
	for _, from := range States {
		for _, to := range States {
			for _, role := range auth.Roles {
				var want error
				switch {
				case to == Detected:
					want = apperr.ErrInvalid
				case role != stepRole[to]:
					want = apperr.ErrForbidden
				case !allowed[[2]State{from, to}]:
					want = apperr.ErrConflict
				}
				t.Run(fmt.Sprintf("%s to %s by %s", from, to, role), func(t *testing.T) {
					err := CheckMove(caseIn(from), role, Move{To: to, Reason: "because", Reference: "DOC-1"})
					if (want == nil) != (err == nil) || (want != nil && !errors.Is(err, want)) {
						t.Fatalf("CheckMove = %v, want %v", err, want)
					}
				})
			}
		}
	}
}

func TestMoveRequirements(t *testing.T) {
	cases := []struct {
		name      string
		c         Case
		role      auth.Role
		m         Move
		wantErr   error
		wantField string
	}{
		{"dismissal needs a reason", caseIn(Notified), auth.Bureau, Move{To: Dismissed}, apperr.ErrInvalid, "reason"},
		{"blank reason is no reason", caseIn(Notified), auth.Bureau, Move{To: Dismissed, Reason: "  "}, apperr.ErrInvalid, "reason"},
		{"dismissal with a reason", caseIn(Notified), auth.Bureau, Move{To: Dismissed, Reason: "plate misread"}, nil, ""},
		{"penalty needs its decision number", caseIn(Notified), auth.Police, Move{To: Penalised}, apperr.ErrInvalid, "reference"},
		{"penalty with its decision number", caseIn(Notified), auth.Police, Move{To: Penalised, Reference: "FK-2026-001"}, nil, ""},
		{"retest needs the inspection report", caseIn(Repaired), auth.Bureau, Move{To: Retested}, apperr.ErrInvalid, "reference"},
		{"confirming a repair nobody reported", func() Case { c := caseIn(Penalised); c.Repair = nil; return c }(), auth.Transport, Move{To: Repaired}, apperr.ErrConflict, ""},
		{"confirming a reported repair", caseIn(Penalised), auth.Transport, Move{To: Repaired}, nil, ""},
		{"unknown target", caseIn(Detected), auth.Bureau, Move{To: "archived"}, apperr.ErrInvalid, "to"},
		{"closed takes nothing more", caseIn(Closed), auth.Bureau, Move{To: Dismissed, Reason: "x"}, apperr.ErrConflict, ""},
		{"dismissed takes nothing more", caseIn(Dismissed), auth.Bureau, Move{To: Dismissed, Reason: "x"}, apperr.ErrConflict, ""},
		{"admin takes no enforcement step", caseIn(Detected), auth.Admin, Move{To: Notified}, apperr.ErrForbidden, ""},
		{"system takes no step through the API", caseIn(Repaired), auth.System, Move{To: Retested, Reference: "x"}, apperr.ErrForbidden, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckMove(tc.c, tc.role, tc.m)
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("CheckMove = %v, want %v", err, tc.wantErr)
			}
			var ve *apperr.ValidationError
			if tc.wantField != "" && (!errors.As(err, &ve) || ve.Fields[0].Field != tc.wantField) {
				t.Fatalf("CheckMove = %v, want field %q", err, tc.wantField)
			}
		})
	}
}

func TestRepairReport(t *testing.T) {
	shop7 := auth.Principal{Subject: "repair@shop-7", Role: auth.Repair, Tenant: "shop-7"}
	shop8 := auth.Principal{Subject: "repair@shop-8", Role: auth.Repair, Tenant: "shop-8"}
	assigned := func(s State) Case { c := caseIn(s); c.RepairShopID = "shop-7"; return c }
	cases := []struct {
		name string
		c    Case
		p    auth.Principal
		r    RepairReport
		want error
	}{
		{"the chosen shop on a penalised case", assigned(Penalised), shop7, RepairReport{Reference: "WX-9"}, nil},
		{"without the repair order", assigned(Penalised), shop7, RepairReport{}, apperr.ErrInvalid},
		{"before the penalty", assigned(Notified), shop7, RepairReport{Reference: "WX-9"}, apperr.ErrConflict},
		{"after the confirmation", assigned(Repaired), shop7, RepairReport{Reference: "WX-9"}, apperr.ErrConflict},
		{"another shop: no such case", assigned(Penalised), shop8, RepairReport{Reference: "WX-9"}, apperr.ErrNotFound},
		{"no shop chosen yet: no such case", caseIn(Penalised), shop7, RepairReport{Reference: "WX-9"}, apperr.ErrNotFound},
		{"the transport bureau does not report repairs", assigned(Penalised), auth.Principal{Role: auth.Transport}, RepairReport{Reference: "WX-9"}, apperr.ErrForbidden},
		{"nor does a fleet", assigned(Penalised), auth.Principal{Role: auth.Fleet, Tenant: "f1"}, RepairReport{Reference: "WX-9"}, apperr.ErrForbidden},
		{"nor the admin", assigned(Penalised), auth.Principal{Role: auth.Admin}, RepairReport{Reference: "WX-9"}, apperr.ErrForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRepairReport(tc.c, tc.p, tc.r)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("CheckRepairReport = %v, want %v", err, tc.want)
			}
		})
	}
	now := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	c := assigned(Penalised)
	c.Repair = nil
	n, e := ApplyRepairReport(c, shop7, RepairReport{Reference: " WX-9 "}, now)
	if n.State != Penalised || n.RepairShopID != "shop-7" || n.Repair.ShopID != "shop-7" || n.Repair.Reference != "WX-9" || n.Version != c.Version+1 {
		t.Fatalf("after the report: %+v", n)
	}
	if e.Event != EventRepairReported || e.From != Penalised || e.To != Penalised || e.Shop != "shop-7" || len(n.History) != 2 || len(c.History) != 1 {
		t.Fatalf("history entry %+v; history %d (original %d)", e, len(n.History), len(c.History))
	}
}

func TestShopChoice(t *testing.T) {
	owned := func(s State, fleet string) Case { c := caseIn(s); c.Trace.FleetID = fleet; return c }
	f1, f2 := auth.Principal{Subject: "fleet@f1", Role: auth.Fleet, Tenant: "f1"}, auth.Principal{Role: auth.Fleet, Tenant: "f2"}
	transport := auth.Principal{Subject: "transport:wang", Role: auth.Transport}
	cases := []struct {
		name string
		c    Case
		p    auth.Principal
		ch   ShopChoice
		want error
	}{
		{"the owning fleet, penalised", owned(Penalised, "f1"), f1, ShopChoice{ShopID: "shop-7"}, nil},
		{"the owning fleet, early", owned(Detected, "f1"), f1, ShopChoice{ShopID: "shop-7"}, nil},
		{"another fleet: no such case", owned(Penalised, "f1"), f2, ShopChoice{ShopID: "shop-7"}, apperr.ErrNotFound},
		{"a fleet, for a vehicle of no fleet", owned(Penalised, ""), f1, ShopChoice{ShopID: "shop-7"}, apperr.ErrNotFound},
		{"transport for an owner without a fleet account", owned(Penalised, ""), transport, ShopChoice{ShopID: "shop-7"}, nil},
		{"transport may not choose for a fleet", owned(Penalised, "f1"), transport, ShopChoice{ShopID: "shop-7"}, apperr.ErrForbidden},
		{"a repair shop does not choose itself", owned(Penalised, "f1"), auth.Principal{Role: auth.Repair, Tenant: "shop-7"}, ShopChoice{ShopID: "shop-7"}, apperr.ErrForbidden},
		{"nor the bureau", owned(Penalised, "f1"), auth.Principal{Role: auth.Bureau}, ShopChoice{ShopID: "shop-7"}, apperr.ErrForbidden},
		{"nor the admin", owned(Penalised, "f1"), auth.Principal{Role: auth.Admin}, ShopChoice{ShopID: "shop-7"}, apperr.ErrForbidden},
		{"after the confirmation", owned(Repaired, "f1"), f1, ShopChoice{ShopID: "shop-7"}, apperr.ErrConflict},
		{"no shop named", owned(Penalised, "f1"), f1, ShopChoice{}, apperr.ErrInvalid},
		{"a bad shop id", owned(Penalised, "f1"), f1, ShopChoice{ShopID: "shop 7"}, apperr.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckShopChoice(tc.c, tc.p, tc.ch)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("CheckShopChoice = %v, want %v", err, tc.want)
			}
		})
	}
	now := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	c := owned(Penalised, "f1") // carries shop-1's report
	n, e := ApplyShopChoice(c, f1, ShopChoice{ShopID: " shop-7 ", Note: "closer to the depot"}, now)
	if n.RepairShopID != "shop-7" || n.Repair != nil || n.State != Penalised || n.Version != c.Version+1 || c.Repair == nil {
		t.Fatalf("after the choice: %+v (original repair %v)", n, c.Repair)
	}
	if e.Event != EventShopChosen || e.Shop != "shop-7" || e.Role != auth.Fleet || e.Tenant != "f1" || e.Reason != "closer to the depot" || len(n.History) != 2 {
		t.Fatalf("history entry %+v", e)
	}
}

func TestApplyAppendsHistory(t *testing.T) {
	now := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	c := caseIn(Retested)
	police := auth.Principal{Subject: "bureau:li", Role: auth.Bureau}
	n, e := Apply(c, police, Move{To: Closed, Reason: " done "}, now)
	if n.State != Closed || !n.EndedAt.Equal(now) || !n.StateSince.Equal(now) || n.Version != 4 || n.OpenKey() != c.ID {
		t.Fatalf("closed case = %+v", n)
	}
	want := Entry{Event: EventTransition, From: Retested, To: Closed, By: "bureau:li", Role: auth.Bureau, At: now, Reason: "done"}
	if e != want || n.History[len(n.History)-1] != want || len(n.History) != len(c.History)+1 {
		t.Fatalf("entry = %+v, history %+v", e, n.History)
	}
	if len(c.History) != 1 {
		t.Fatal("Apply changed the original case's history")
	}
	open, _ := Apply(caseIn(Detected), police, Move{To: Notified}, now)
	if !open.EndedAt.IsZero() || open.OpenKey() != "晋F12345:yellow|opacity" {
		t.Fatalf("an open case has no end and keeps its open key: %+v %q", open.EndedAt, open.OpenKey())
	}
}
