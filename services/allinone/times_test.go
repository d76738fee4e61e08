package allinone_test

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
)

var (
	instantRE   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+08:00$`)
	dayRE       = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	timeLikeRE  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}`)
	inTextRE    = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}|\b)`)
	inTextOKRE  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+08:00$`)
	timeFieldRE = regexp.MustCompile(`(_at|_on|_from|_to|_due|^at|^from|^to|deadline|since|until)$`)
)

// walk visits every string in an answer with the name of the field holding it.
func walk(v any, field string, visit func(field, s string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			walk(e, k, visit)
		}
	case []any:
		for _, e := range x {
			walk(e, field, visit)
		}
	case string:
		visit(field, x)
	}
}

// TestOneTimeFormat: every instant in an answer, reason texts included, is RFC 3339 with the
// district's +08:00; a day is a plain YYYY-MM-DD; a field is one or the other on every route.
func TestOneTimeFormat(t *testing.T) {
	s := newStack(t)
	bureau := s.token(auth.Bureau, "", "bureau-t")
	police := s.token(auth.Police, "", "officer-13")
	fleet := s.token(auth.Fleet, "fleet-shuozhou-logistics", "")
	// An OBD reading so that the truck has a state and an alarm (its reason text names a time).
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	if code, b := call(t, s.srv.URL, "POST", "/v1/obd/samples", fleet, map[string]any{"samples": []any{map[string]any{
		"vin": "LZZ1CLVB2N0000001", "at": at.Format(time.RFC3339), "speed_kmh": 40, "engine_speed_rpm": 1100, "reagent_pct": 0, "lat": 39.3, "lon": 112.4}}}); code != 200 {
		t.Fatalf("OBD upload = %d %v", code, b)
	}
	q := url.QueryEscape
	routes := []struct{ token, path string }{
		{bureau, "/v1/vehicles?limit=50"},
		{bureau, "/v1/vehicles/LZZ1CLVB2N0000001"},
		{police, "/v1/registry/status?plate=" + q("晋F89012") + "&colour=yellow"},
		{police, "/v1/registry/status?plate=" + q("晋F34567") + "&colour=yellow"},
		{bureau, "/v1/reports/phase-out"},
		{bureau, "/v1/obd/vehicles/LZZ1CLVB2N0000001/state"},
		{bureau, "/v1/obd/vehicles/LZZ1CLVB2N0000001/alarms"},
		{bureau, "/v1/obd/alarms?state=open"},
		{bureau, "/v1/remote-sensing/cases"},
		{bureau, "/v1/remote-sensing/stations"},
		{bureau, "/v1/fuel/cases"},
		{bureau, "/v1/fuel/samples?limit=20"},
		{bureau, "/v1/fuel/sites"},
		{bureau, "/v1/muck/permits"},
		{bureau, "/v1/muck/violations"},
		{bureau, "/v1/alerts"},
		{police, "/v1/checkpoint/" + url.PathEscape("晋F12345") + "?colour=yellow"},
		{police, "/v1/checkpoint/" + url.PathEscape("晋F34567") + "?colour=yellow"},
		{police, "/v1/checkpoint/" + url.PathEscape("晋F45678") + "?colour=yellow"},
		{police, "/v1/checkpoint/" + url.PathEscape("晋F89012")},
		{police, "/v1/lookups/mine"},
	}
	kinds := map[string]map[string]string{} // field → kind (instant, day) → a route that wrote it
	seen := 0
	for _, r := range routes {
		code, body := call(t, s.srv.URL, "GET", r.path, r.token, nil)
		if code != 200 {
			t.Errorf("GET %s = %d %v", r.path, code, body)
			continue
		}
		walk(body, "", func(field, v string) {
			kind := ""
			switch {
			case instantRE.MatchString(v):
				kind = "instant"
			case dayRE.MatchString(v) && timeFieldRE.MatchString(field):
				kind = "day"
			case timeLikeRE.MatchString(v):
				t.Errorf("GET %s: %s = %q is not RFC 3339 with +08:00", r.path, field, v)
				return
			}
			if kind != "" {
				seen++
				if kinds[field] == nil {
					kinds[field] = map[string]string{}
				}
				kinds[field][kind] = r.path
				return
			}
			for _, m := range inTextRE.FindAllString(v, -1) {
				if !inTextOKRE.MatchString(m) {
					t.Errorf("GET %s: %s says %q: the time %q is not RFC 3339 with +08:00", r.path, field, v, m)
				}
			}
		})
	}
	var mixed []string
	for f, k := range kinds {
		if len(k) > 1 {
			mixed = append(mixed, fmt.Sprintf("%s: an instant on %s, a day on %s", f, k["instant"], k["day"]))
		}
	}
	sort.Strings(mixed)
	if len(mixed) > 0 {
		t.Errorf("fields written two ways:\n%s", strings.Join(mixed, "\n"))
	}
	if seen < 50 {
		t.Fatalf("only %d times seen in the answers: the routes did not answer what they should", seen)
	}
}
