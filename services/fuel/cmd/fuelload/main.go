// Command fuelload measures a lab's CSV import end to end against a running fuel service
// (standalone or the all-in-one): it registers a district's supply network and a lab contracted
// for it (bureau token), sends a file of -samples samples of which -failing fail (lab token),
// waits until they are judged, stored and their cases opened, and prints the time; then it sends
// the same file again (the documented way to finish an interrupted import) and prints that too.
// It works with a service that answers the import at once (200/201) and with one that answers
// 202 and a job to poll.
//
//	fuelload -url http://127.0.0.1:8080 -bureau $BUREAU_TOKEN -lab $LAB_TOKEN -lab-id lab-load -samples 5000 -failing 500
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/clearsky/clearsky/services/fuel/internal/importload"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "the service's base URL")
	bureau := flag.String("bureau", "", "a bureau token (registers the sites and the lab contract)")
	lab := flag.String("lab", "", "a lab token whose tenant is -lab-id (uploads the file)")
	labID := flag.String("lab-id", "lab-load", "the lab's id")
	samples := flag.Int("samples", 5000, "samples in the file")
	failing := flag.Int("failing", 500, "failing samples among them")
	seed := flag.Uint64("seed", 1, "the file's seed")
	timeout := flag.Duration("timeout", 60*time.Minute, "give up after")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	hc := &http.Client{} // no timeout: a synchronous import may take minutes
	sites := importload.Network()
	t0 := time.Now()
	if err := importload.Setup(ctx, importload.Client{URL: *url, Token: *bureau, HTTP: hc}, sites, *labID); err != nil {
		fail(err)
	}
	file := importload.Build(sites, *samples, *failing, time.Now().Add(-24*time.Hour), *seed)
	fmt.Printf("fuelload: %d sites registered in %s; file: %d samples (%d failing), %d rows, %d bytes\n",
		len(sites), time.Since(t0).Round(time.Millisecond), file.Samples, file.Failing, file.Rows, len(file.CSV))
	c := importload.Client{URL: *url, Token: *lab, HTTP: hc}
	for _, round := range []string{"import", "re-send"} {
		o, err := importload.Import(ctx, c, file.CSV, 200*time.Millisecond)
		if err != nil {
			fail(fmt.Errorf("%s: %w", round, err))
		}
		fmt.Printf("fuelload: %-8s %7.1f s  status %d  samples %d  created %d  replayed %d  failed %d  cases %d\n",
			round, o.Took.Seconds(), o.Status, o.Samples, o.Created, o.Replayed, o.Failed, o.Cases)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fuelload:", err)
	os.Exit(1)
}
