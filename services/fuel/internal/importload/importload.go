// Package importload builds a realistic fuel CSV import and sends it to a running service: a
// district's supply network (importers, refineries, depots, filling stations, urea and coal
// sellers and their producers), a lab contracted for all of it, and a file of lab results in the
// one-row-per-parameter layout that lab systems export, mixing petrol, diesel, vehicle urea and
// household coal, with a given number of failing samples spread over many sites (and a cluster
// at one station, as a bad batch gives). The fuel service's scale test and the fuelload command
// (scripts/load-fuel-import, docs/performance.md) use it.
package importload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Site is a site as POST /v1/fuel/sites takes it.
type Site map[string]any

// Network returns the district's sites, suppliers first (each can be registered in order).
func Network() []Site {
	r := rand.New(rand.NewPCG(16, 2026))
	var out []Site
	add := func(id, kind, name string, suppliers ...string) Site {
		s := Site{"site_id": id, "kind": kind, "name": name, "operator": name + " 有限公司", "lat": 39.2 + r.Float64()*0.4, "lon": 112.2 + r.Float64()*0.5,
			"operating_since": "2019-01-01"}
		if kind != "importer" && kind != "refinery" && kind != "producer" {
			s["licence"] = fmt.Sprintf("晋成品油零售%06d", r.IntN(1000000))
		}
		if len(suppliers) > 0 {
			s["suppliers"] = suppliers
		}
		out = append(out, s)
		return s
	}
	pick := func(ids []string, n int) []string {
		var sel []string
		for _, i := range r.Perm(len(ids))[:n] {
			sel = append(sel, ids[i])
		}
		return sel
	}
	var importers, refineries, depots, ureaMakers, ureaSellers, mines, coalSellers []string
	for i := range 2 {
		importers = append(importers, fmt.Sprintf("SX-IMP-%02d", i+1))
		add(importers[i], "importer", fmt.Sprintf("进口商%d", i+1))
	}
	for i := range 3 {
		refineries = append(refineries, fmt.Sprintf("SX-REF-%02d", i+1))
		add(refineries[i], "refinery", fmt.Sprintf("炼厂%d", i+1), pick(importers, 1)...)
	}
	for i := range 20 {
		id := fmt.Sprintf("SZ-DEP-%03d", i+1)
		depots = append(depots, id)
		s := add(id, "oil_depot", fmt.Sprintf("朔州油库%d", i+1), pick(refineries, 1+r.IntN(2))...)
		if i%8 == 7 {
			s["own_depot"] = true
		}
	}
	for i := range 4 {
		ureaMakers = append(ureaMakers, fmt.Sprintf("SX-UREA-P%02d", i+1))
		add(ureaMakers[i], "producer", fmt.Sprintf("尿素厂%d", i+1))
	}
	for i := range 25 {
		ureaSellers = append(ureaSellers, fmt.Sprintf("SZ-UREA-%03d", i+1))
		add(ureaSellers[i], "urea_seller", fmt.Sprintf("车用尿素经销%d", i+1), pick(ureaMakers, 1)...)
	}
	for i := range 6 {
		mines = append(mines, fmt.Sprintf("SX-COAL-P%02d", i+1))
		add(mines[i], "producer", fmt.Sprintf("洗煤厂%d", i+1))
	}
	for i := range 50 {
		coalSellers = append(coalSellers, fmt.Sprintf("SZ-COAL-%03d", i+1))
		add(coalSellers[i], "coal_seller", fmt.Sprintf("民用散煤销售点%d", i+1), pick(mines, 1)...)
	}
	for i := range 300 {
		sup := pick(depots, 1+r.IntN(2))
		if i%3 == 0 {
			sup = append(sup, pick(ureaSellers, 1)...)
		}
		add(fmt.Sprintf("SZ-GAS-%04d", i+1), "filling_station", fmt.Sprintf("加油站%d", i+1), sup...)
	}
	return out
}

// IDs returns the ids of sites.
func IDs(sites []Site) []string {
	out := make([]string, len(sites))
	for i, s := range sites {
		out[i] = s["site_id"].(string)
	}
	return out
}

// File is a generated import.
type File struct {
	CSV     []byte
	Samples int
	Failing int
	Rows    int
}

var header = "sample_id,site_id,product,grade,standard,label,sampled_at,parameter,value,unit\n"

// Build returns a file of n samples of which failing fail, sampled in the three months before
// end (China time), numbered as a lab numbers them (SXZJ-2026-004711). The same seed gives the
// same file.
func Build(sites []Site, n, failing int, end time.Time, seed uint64) File {
	r := rand.New(rand.NewPCG(seed, 7))
	byKind := map[string][]string{}
	for _, s := range sites {
		byKind[s["kind"].(string)] = append(byKind[s["kind"].(string)], s["site_id"].(string))
	}
	fuelSites := append(append([]string{}, byKind["filling_station"]...), byKind["oil_depot"]...)
	ureaSites := append(append([]string{}, byKind["urea_seller"]...), byKind["filling_station"][:60]...)
	hot := byKind["filling_station"][41] // a station sold a bad batch: many of the failures
	fails := map[int]bool{}
	for _, i := range r.Perm(n)[:failing] {
		fails[i] = true
	}
	cluster := failing * 3 / 10
	var b strings.Builder
	b.WriteString(header)
	rows := 0
	start := end.AddDate(0, -3, 0)
	span := end.Sub(start) - time.Hour
	cst := time.FixedZone("CST", 8*3600)
	for i := range n {
		fail := fails[i]
		at := start.Add(time.Duration(r.Int64N(int64(span)))).In(cst).Format("2006-01-02 15:04")
		id := fmt.Sprintf("SXZJ-2026-%06d", 4711+i)
		var product, site, grade, standard, label string
		var results [][3]string
		v := func(lo, hi float64, dec int) string { return fmt.Sprintf("%.*f", dec, lo+r.Float64()*(hi-lo)) }
		switch x := r.IntN(100); {
		case x < 45:
			product, site, grade, standard = "gasoline", fuelSites[r.IntN(len(fuelSites))], []string{"92", "95", "98"}[r.IntN(3)], "VIB"
			ron := map[string]float64{"92": 92, "95": 95, "98": 98}[grade]
			results = [][3]string{{"sulfur", v(3, 9.5, 1), "mg/kg"}, {"olefins", v(9, 14.5, 1), "%(v/v)"}, {"aromatics", v(24, 34, 1), "%(v/v)"},
				{"benzene", v(0.3, 0.75, 2), "%(v/v)"}, {"research_octane", v(ron+0.2, ron+1.5, 1), ""}}
			if fail {
				switch r.IntN(3) {
				case 0:
					results[0][1] = v(12, 48, 1)
				case 1:
					results[1][1] = v(15.6, 24, 1)
				default:
					standard = "国五"
				}
			}
		case x < 75:
			product, site, grade, standard = "diesel", fuelSites[r.IntN(len(fuelSites))], []string{"0", "-10", "-20"}[r.IntN(3)], "VI"
			cetane, dlo, dhi, flash := v(51.5, 55, 1), 812.0, 843.0, v(61, 72, 0)
			if grade == "-20" {
				cetane, dlo, dhi, flash = v(49.5, 53, 1), 792, 838, v(51, 60, 0)
			}
			results = [][3]string{{"sulfur", v(2, 9.5, 1), "mg/kg"}, {"cetane_number", cetane, ""}, {"density_20c", v(dlo, dhi, 1), "kg/m3"},
				{"flash_point", flash, "°C"}, {"polycyclic_aromatics", v(1.5, 6.5, 1), "%(m/m)"}}
			if fail {
				switch r.IntN(3) {
				case 0:
					results[0][1] = v(15, 350, 0)
				case 1:
					results[4][1] = v(7.5, 11, 1)
				default:
					grade, label = "ordinary", "0号普通柴油"
				}
			}
		case x < 90:
			product, site = "urea", ureaSites[r.IntN(len(ureaSites))]
			results = [][3]string{{"urea_content", v(32.0, 33.0, 1), "%(m/m)"}, {"density_20c", v(1088.5, 1092.5, 1), "kg/m3"},
				{"biuret", v(0.05, 0.28, 2), "%(m/m)"}, {"aldehydes", v(0.5, 4.5, 1), "mg/kg"}}
			if fail {
				results[0][1] = v(26, 31.5, 1)
			}
		default:
			product, site, grade = "coal", byKind["coal_seller"][r.IntN(len(byKind["coal_seller"]))], "loose"
			results = [][3]string{{"total_sulfur", v(0.35, 0.95, 2), "%(m/m)"}, {"ash", v(7, 15.5, 1), "%(m/m)"}}
			if fail {
				results[0][1] = v(1.1, 2.6, 2)
			}
		}
		if fail && cluster > 0 && product != "coal" && product != "urea" {
			site, cluster = hot, cluster-1
		}
		for _, res := range results {
			fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", id, site, product, grade, standard, label, at, res[0], res[1], res[2])
			rows++
		}
	}
	return File{CSV: []byte(b.String()), Samples: n, Failing: failing, Rows: rows}
}

// Client talks to a fuel service (or the all-in-one).
type Client struct {
	URL   string
	Token string
	HTTP  *http.Client
}

func (c Client) do(ctx context.Context, method, path, ctype string, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b, err
}

// Setup registers the sites (bureau token) and contracts lab for all of them.
func Setup(ctx context.Context, bureau Client, sites []Site, lab string) error {
	for _, s := range sites {
		body, _ := json.Marshal(s)
		st, _, b, err := bureau.do(ctx, "POST", "/v1/fuel/sites", "application/json", body)
		if err != nil {
			return err
		}
		if st != http.StatusCreated && st != http.StatusOK {
			return fmt.Errorf("register %s: %d %s", s["site_id"], st, b)
		}
	}
	body, _ := json.Marshal(map[string]any{"name": "山西省朔州市产品质量检验所", "site_ids": IDs(sites)})
	st, _, b, err := bureau.do(ctx, "PUT", "/v1/fuel/labs/"+lab, "application/json", body)
	if err != nil {
		return err
	}
	if st != http.StatusCreated && st != http.StatusOK {
		return fmt.Errorf("lab contract: %d %s", st, b)
	}
	return nil
}

// Outcome is what an import did, as the service reported it.
type Outcome struct {
	Status   int // the final answer's status (the upload's, or the job's GET)
	Took     time.Duration
	Samples  int
	Created  int
	Replayed int
	Failed   int
	Cases    int // failing samples whose case was opened by the end of the import
	Polls    int
	Body     []byte
}

// Import sends file and waits for its end: a synchronous answer (201 or 200), or a job (202 and
// a Location, polled every poll until it succeeds or fails).
func Import(ctx context.Context, c Client, file []byte, poll time.Duration) (Outcome, error) {
	start := time.Now()
	st, h, b, err := c.do(ctx, "POST", "/v1/fuel/samples/import", "text/csv; charset=utf-8", file)
	if err != nil {
		return Outcome{}, err
	}
	o := Outcome{Status: st, Body: b}
	var result map[string]any
	switch st {
	case http.StatusOK, http.StatusCreated:
		result = map[string]any{}
		if err := json.Unmarshal(b, &result); err != nil {
			return o, err
		}
	case http.StatusAccepted:
		loc := h.Get("Location")
		if loc == "" {
			return o, errors.New("202 without a Location")
		}
		for {
			o.Polls++
			select {
			case <-ctx.Done():
				return o, ctx.Err()
			case <-time.After(poll):
			}
			st, _, b, err := c.do(ctx, "GET", loc, "", nil)
			if err != nil {
				return o, err
			}
			o.Status, o.Body = st, b
			var job map[string]any
			if err := json.Unmarshal(b, &job); err != nil || st != http.StatusOK {
				return o, fmt.Errorf("GET %s = %d %s", loc, st, b)
			}
			if job["status"] == "failed" {
				return o, fmt.Errorf("import job failed: %s", b)
			}
			if job["status"] == "succeeded" {
				result, _ = job["result"].(map[string]any)
				break
			}
		}
	default:
		return o, fmt.Errorf("import = %d %s", st, b)
	}
	o.Took = time.Since(start)
	num := func(k string) int { f, _ := result[k].(float64); return int(f) }
	o.Samples, o.Created, o.Replayed, o.Failed = num("samples"), num("created"), num("replayed"), num("failed")
	items, _ := result["items"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		if m["verdict"] == "fail" && m["case_id"] != nil && m["case_id"] != "" {
			o.Cases++
		}
	}
	return o, nil
}
