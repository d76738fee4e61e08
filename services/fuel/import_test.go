package fuel_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/services/fuel/internal/importjob"
	"github.com/clearsky/clearsky/services/fuel/internal/importload"
	"github.com/clearsky/clearsky/services/fuel/internal/samplingstore"
)

// TestImportScale: a lab file of 5,000 samples, 500 of them failing across many sites and
// products, is judged, stored and its cases opened within 30 s on FerretDB (docs/performance.md,
// "Fuel CSV import"; the command that produces the figure is scripts/load-fuel-import).
func TestImportScale(t *testing.T) {
	if testing.Short() {
		t.Skip("the 5,000-sample import takes seconds")
	}
	rdb, prefix := testenv.Redis(t)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix)
	ctx := context.Background()
	sites := importload.Network()
	if err := importload.Setup(ctx, importload.Client{URL: e.URL, Token: e.token(t, auth.Bureau, "")}, sites, "lab-scale"); err != nil {
		t.Fatal(err)
	}
	f := importload.Build(sites, 5000, 500, time.Now().Add(-24*time.Hour), 1)
	lab := importload.Client{URL: e.URL, Token: e.token(t, auth.Lab, "lab-scale")}
	o, err := importload.Import(ctx, lab, f.CSV, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("5,000 samples (500 failing, %d rows): %.1f s", f.Rows, o.Took.Seconds())
	if o.Created != 5000 || o.Failed != 500 || o.Cases != 500 {
		t.Fatalf("created %d, failed %d, cases %d; want 5000, 500, 500", o.Created, o.Failed, o.Cases)
	}
	if n := count(t, e.db, "fuel_cases", bson.D{}); n != 500 {
		t.Fatalf("cases stored = %d, want 500", n)
	}
	if o.Took > 30*time.Second {
		t.Fatalf("the import took %s, want under 30 s", o.Took)
	}
	again, err := importload.Import(ctx, lab, f.CSV, 100*time.Millisecond)
	if err != nil || again.Replayed != 5000 || again.Cases != 500 {
		t.Fatalf("re-send = %+v, %v", again, err)
	}
	t.Logf("re-sent: %.1f s", again.Took.Seconds())
	if n := count(t, e.db, "fuel_cases", bson.D{}); n != 500 {
		t.Fatalf("cases after the re-send = %d, want 500", n)
	}
}

// TestImportResumesAfterCrash: a job left running by a dead process (its lease run out), whose
// samples were stored but whose cases were not, is run again by the background loop: it
// completes, opening the missing cases and duplicating nothing.
func TestImportResumesAfterCrash(t *testing.T) {
	db := testenv.Mongo(t)
	rdb, prefix := testenv.Redis(t)
	e := newEnv(t, db, rdb, prefix)
	bureau, lab1 := e.token(t, auth.Bureau, ""), e.token(t, auth.Lab, "lab-1")
	seedSites(t, e, bureau)
	file := "sample_id,site_id,product,grade,sampled_at,parameter,value,unit\n" +
		"R-1,D1,gasoline,92,2026-03-15 10:00,sulfur,25,mg/kg\n" +
		"R-2,D1,gasoline,92,2026-04-15 10:00,sulfur,30,mg/kg\n" +
		"R-3,C1,coal,,2026-03-16 10:00,total_sulfur,0.5,%\n"
	if j := e.importJob(t, lab1, file); j.body["status"] != "succeeded" {
		t.Fatalf("first run = %s", j.raw)
	}
	// The crash: cases not written yet, the job still running, its runner gone.
	ctx := context.Background()
	if _, err := db.Collection("fuel_cases").DeleteMany(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	st := samplingstore.New(db)
	job := importjob.Job{ID: "imp-crashed", Status: importjob.Running, Role: auth.Lab, Tenant: "lab-1", Subject: "lab-1-user",
		CreatedAt: time.Now().Add(-time.Minute), LeaseUntil: time.Now().Add(-time.Second).Truncate(time.Millisecond), Attempts: 1}
	if err := st.InsertJob(ctx, job, []byte(file)); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.svc.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done; e.svc.WaitImports() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := e.do(t, "GET", "/v1/fuel/samples/imports/imp-crashed", lab1, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET the crashed job = %d %s", r.status, r.raw)
		}
		if r.body["status"] == "succeeded" {
			if res := jobResult(r); res["replayed"].(float64) != 3 || res["cases"].(float64) != 2 || r.body["attempts"].(float64) != 2 {
				t.Fatalf("resumed job = %s", r.raw)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job was not resumed within 20 s: %s", r.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := count(t, db, "fuel_cases", bson.D{}); n != 2 {
		t.Fatalf("cases = %d after the re-run, want 2", n)
	}
	if n := count(t, db, "fuel_samples", bson.D{}); n != 3 {
		t.Fatalf("samples = %d after the re-run, want 3 (no duplicates)", n)
	}
	// The later failure at D1 escalates (two failures within 12 months), counted in one pass.
	if c := e.do(t, "GET", "/v1/fuel/cases/nc-D1:R-2", bureau, nil); c.body["escalated"] != true {
		t.Fatalf("case of R-2 = %s", c.raw)
	}
	if c := e.do(t, "GET", "/v1/fuel/cases/nc-D1:R-1", bureau, nil); c.body["escalated"] != false {
		t.Fatalf("case of R-1 = %s", c.raw)
	}
}
