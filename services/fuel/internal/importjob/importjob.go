// Package importjob runs lab CSV imports as jobs: the upload is checked for form at once (a file
// that is not CSV, breaks a bound or holds a bad cell is refused with 400 before anything is
// stored), then stored as a job in MongoDB and answered 202; the job judges, stores and opens
// the cases of the file's samples through the sampling core (all or nothing, as before), and
// reports its status, progress, result and errors. A job left unfinished by a dead process is
// run again by the next instance to find its lease expired: imports are idempotent (samples
// already stored with the same content are replays), so a re-run completes the first.
//
// It sits beside the core (handler -> importjob -> sampling), owns the job's records and who
// may see them: the uploader's organisation (same role and tenant) and the bureau.
package importjob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/services/fuel/internal/csvimport"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
)

// Status is where a job stands.
type Status string

// Statuses.
const (
	Queued    Status = "queued"
	Running   Status = "running"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
)

// ErrNotFound: no such job, or not one the caller may see.
var ErrNotFound = fmt.Errorf("sample import %w", apperr.ErrNotFound)

// Progress is how far a job has got.
type Progress struct {
	TotalRows     int
	RowsChecked   int
	Samples       int
	SamplesStored int
	CasesOpened   int
}

// Problem is one error of a refused import, naming the row (the line of the file; the header
// is row 1) and, where one cell is at fault, its column.
type Problem struct {
	Field   string // rows[N].column, as in a 400 answer
	Row     int
	Column  string
	Message string
}

// Item is one sample of a finished import.
type Item struct {
	SampleID string
	Verdict  string
	CaseID   string
	Row      int
}

// Result is what a finished import did.
type Result struct {
	Layout   string
	Samples  int
	Created  int
	Replayed int
	Failed   int
	Cases    int
	Items    []Item
}

// Job is a CSV import.
type Job struct {
	ID         string
	Status     Status
	Role       auth.Role
	Tenant     string
	Subject    string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	LeaseUntil time.Time
	Attempts   int
	Progress   Progress
	Result     *Result
	// When failed: the status the refusal would have had as an answer (400, 403, 409, 500),
	// a sentence, and the problems; Header and Rows echo the offending rows' cells.
	ErrorStatus int
	Detail      string
	Problems    []Problem
	Header      []string
	Rows        map[int][]string
}

// Store keeps the jobs and their files.
type Store interface {
	// InsertJob stores a new job with its file.
	InsertJob(ctx context.Context, j Job, file []byte) error
	// GetJob returns a job (without its file) or ErrNotFound.
	GetJob(ctx context.Context, id string) (Job, error)
	// JobFile returns the file of an unfinished job, or ErrNotFound.
	JobFile(ctx context.Context, id string) ([]byte, error)
	// Claim makes j running with a lease until `until` if its lease is still `was`; it reports
	// whether it did (on FerretDB the guard is not atomic: two runners may both win, and the
	// import being idempotent, both runs give the same result).
	Claim(ctx context.Context, id string, was, until time.Time, attempts int) (bool, error)
	// SaveProgress records progress and extends the lease.
	SaveProgress(ctx context.Context, id string, p Progress, until time.Time) error
	// Finish stores a finished job and drops its file; Requeue puts it back, to run again after
	// its lease (a failure that is not the file's).
	Finish(ctx context.Context, j Job) error
	Requeue(ctx context.Context, id string, until time.Time, detail string) error
	// Unfinished returns the queued or running jobs whose lease ended before now.
	Unfinished(ctx context.Context, now time.Time, limit int) ([]Job, error)
}

// Policy bounds the runner.
type Policy struct {
	Lease       time.Duration // a running job's lease, renewed as it progresses (default 30 s)
	MaxAttempts int           // runs before a job failing for reasons not its file's fails (default 5)
}

// Runner takes uploads and runs their jobs, one at a time per instance.
type Runner struct {
	store  Store
	core   *sampling.Service
	log    *slog.Logger
	policy Policy
	now    func() time.Time
	sem    chan struct{}
	wg     sync.WaitGroup
}

// New returns a runner.
func New(store Store, core *sampling.Service, log *slog.Logger, policy Policy) *Runner {
	if policy.Lease <= 0 {
		policy.Lease = 30 * time.Second
	}
	if policy.MaxAttempts <= 0 {
		policy.MaxAttempts = 5
	}
	return &Runner{store: store, core: core, log: log, policy: policy, now: time.Now, sem: make(chan struct{}, 1)}
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "imp-" + hex.EncodeToString(b)
}

// Submit checks an upload's form (csvimport.Parse), stores it as a job and starts it. Only the
// roles that upload samples may submit; whether each row is within the caller's sites is the
// job's to check, as the rest of the content.
func (r *Runner) Submit(ctx context.Context, p auth.Principal, file []byte) (Job, error) {
	if !p.Is(auth.Station, auth.Lab, auth.Bureau) {
		return Job{}, fmt.Errorf("role %s may not upload samples: %w", p.Role, apperr.ErrForbidden)
	}
	f, err := csvimport.Parse(bytes.NewReader(file))
	if err != nil {
		return Job{}, err
	}
	now := r.now().UTC().Truncate(time.Millisecond) // as MongoDB keeps it: the lease is a guard
	j := Job{ID: newID(), Status: Queued, Role: p.Role, Tenant: p.Tenant, Subject: p.Subject, CreatedAt: now,
		LeaseUntil: now.Add(r.policy.Lease), Progress: Progress{TotalRows: f.Rows, Samples: len(f.Items)}}
	if err := r.store.InsertJob(ctx, j, file); err != nil {
		return Job{}, err
	}
	r.log.InfoContext(ctx, "sample_import_queued", "import_id", j.ID, "rows", f.Rows, "samples", len(f.Items))
	r.start(j, j.LeaseUntil)
	return j, nil
}

// Get returns a job to its uploader's organisation and to the bureau (the admin reads it too);
// anyone else is told it does not exist.
func (r *Runner) Get(ctx context.Context, p auth.Principal, id string) (Job, error) {
	j, err := r.store.GetJob(ctx, id)
	if err != nil {
		return Job{}, err
	}
	if !Visible(p, j) {
		return Job{}, ErrNotFound
	}
	return j, nil
}

// Visible reports whether p may see job j.
func Visible(p auth.Principal, j Job) bool {
	switch {
	case p.Is(auth.Bureau, auth.Admin):
		return true
	case p.Role == auth.Bureau || j.Role == auth.Bureau:
		return false
	default:
		return p.Role == j.Role && p.Tenant != "" && p.Tenant == j.Tenant
	}
}

// Resume starts the unfinished jobs whose lease has ended (their runner died); the service
// calls it at start and on its timer. It reports how many it started.
func (r *Runner) Resume(ctx context.Context) (int, error) {
	js, err := r.store.Unfinished(ctx, r.now().UTC(), 20)
	if err != nil {
		return 0, err
	}
	for _, j := range js {
		r.log.InfoContext(ctx, "sample_import_resumed", "import_id", j.ID, "status", string(j.Status), "attempts", j.Attempts)
		r.start(j, j.LeaseUntil)
	}
	return len(js), nil
}

// Wait waits for the jobs this runner started (tests, shutdown).
func (r *Runner) Wait() { r.wg.Wait() }

// start runs j in the background once this instance's previous job is done. Its context is
// not the request's: the job outlives the answer.
func (r *Runner) start(j Job, lease time.Time) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.sem <- struct{}{}
		defer func() { <-r.sem }()
		ctx := context.Background()
		if err := r.run(ctx, j, lease); err != nil {
			r.log.WarnContext(ctx, "sample_import_error", "import_id", j.ID, "error", err.Error())
		}
	}()
}

func (r *Runner) run(ctx context.Context, j Job, lease time.Time) error {
	now := r.now().UTC()
	until := now.Add(r.policy.Lease).Truncate(time.Millisecond)
	ok, err := r.store.Claim(ctx, j.ID, lease, until, j.Attempts+1)
	if err != nil || !ok {
		return err // another runner has it
	}
	file, err := r.store.JobFile(ctx, j.ID)
	if err != nil {
		return err
	}
	j.Attempts++
	j.Status, j.StartedAt = Running, now
	f, err := csvimport.Parse(bytes.NewReader(file))
	if err != nil { // checked at submission; a later release may bound more
		return r.refuse(ctx, j, csvimport.File{}, err)
	}
	j.Progress.TotalRows, j.Progress.Samples = f.Rows, len(f.Items)
	// Rows checked are counted per sample: the rows of the samples checked so far.
	rowsUpTo := make([]int, len(f.Items)+1)
	for i, it := range f.Items {
		rowsUpTo[i+1] = rowsUpTo[i] + len(it.ResultRows)
	}
	var last time.Time
	progress := func(p sampling.ImportProgress) {
		j.Progress.RowsChecked = rowsUpTo[min(p.Checked, len(f.Items))]
		if p.Checked == len(f.Items) {
			j.Progress.RowsChecked = f.Rows
		}
		j.Progress.SamplesStored, j.Progress.CasesOpened = p.Stored, p.CasesOpened
		if time.Since(last) < 250*time.Millisecond && p.Stored == 0 {
			return
		}
		last = time.Now()
		if err := r.store.SaveProgress(ctx, j.ID, j.Progress, r.now().UTC().Add(r.policy.Lease)); err != nil {
			r.log.WarnContext(ctx, "sample_import_progress_failed", "import_id", j.ID, "error", err.Error())
		}
	}
	p := auth.Principal{Subject: j.Subject, Role: j.Role, Tenant: j.Tenant}
	res, err := r.core.Import(ctx, p, f.Inputs(), progress)
	var ie *sampling.ImportError
	var ve *apperr.ValidationError
	switch {
	case errors.As(err, &ie), errors.As(err, &ve), errors.Is(err, apperr.ErrForbidden):
		return r.refuse(ctx, j, f, err)
	case err != nil:
		if j.Attempts >= r.policy.MaxAttempts {
			return r.finishFailed(ctx, j, 500, "the import failed "+fmt.Sprint(j.Attempts)+" times for a reason that is not the file's; send it again later", nil, f)
		}
		backoff := time.Duration(j.Attempts) * 5 * time.Second
		r.log.WarnContext(ctx, "sample_import_retry", "import_id", j.ID, "attempt", j.Attempts, "error", err.Error())
		return r.store.Requeue(ctx, j.ID, r.now().UTC().Add(backoff), "retrying after an internal error")
	}
	out := Result{Layout: string(f.Layout), Samples: len(res.Samples), Created: res.Created, Replayed: res.Replayed}
	for i, s := range res.Samples {
		out.Items = append(out.Items, Item{SampleID: s.ID, Verdict: string(s.Verdict), CaseID: s.CaseID, Row: f.Items[i].Row})
		if s.Verdict == limits.Fail {
			out.Failed++
			if s.CaseID != "" {
				out.Cases++
			}
		}
	}
	j.Status, j.FinishedAt, j.Result = Succeeded, r.now().UTC(), &out
	j.Progress.RowsChecked, j.Progress.SamplesStored, j.Progress.CasesOpened = f.Rows, len(res.Samples), out.Cases
	r.log.InfoContext(ctx, "sample_import_succeeded", "import_id", j.ID, "created", res.Created, "replayed", res.Replayed, "cases", out.Cases,
		"seconds", j.FinishedAt.Sub(j.StartedAt).Seconds())
	return r.store.Finish(ctx, j)
}

// refuse finishes a job whose file the core refused, naming each row (and cell) at fault.
func (r *Runner) refuse(ctx context.Context, j Job, f csvimport.File, err error) error {
	var problems []Problem
	status, detail := 400, "the file has invalid rows: nothing was imported"
	add := func(row int, column, msg string) {
		problems = append(problems, Problem{Field: csvimport.Field(row, column), Row: row, Column: column, Message: msg})
	}
	var ie *sampling.ImportError
	var ve *apperr.ValidationError
	switch {
	case errors.As(err, &ie):
		switch {
		case errors.Is(ie.Kind, apperr.ErrForbidden):
			status, detail = 403, "rows outside the uploader's sites: nothing was imported"
		case errors.Is(ie.Kind, apperr.ErrConflict):
			status, detail = 409, "sample ids stored with other content: nothing was imported"
		}
		for _, it := range ie.Items {
			item := f.Items[it.Index]
			var fve *apperr.ValidationError
			if errors.As(it.Err, &fve) {
				for _, fe := range fve.Fields {
					row, col := item.Locate(fe.Field)
					add(row, col, fe.Message)
				}
				continue
			}
			add(item.Row, "", fmt.Sprintf("sample %s: %s", item.Input.ID, trimKind(it.Err)))
		}
	case errors.As(err, &ve):
		for _, fe := range ve.Fields {
			row, col := parseField(fe.Field)
			problems = append(problems, Problem{Field: fe.Field, Row: row, Column: col, Message: fe.Message})
		}
	default:
		status, detail = 403, trimKind(err)
	}
	return r.finishFailed(ctx, j, status, detail, problems, f)
}

func (r *Runner) finishFailed(ctx context.Context, j Job, status int, detail string, problems []Problem, f csvimport.File) error {
	j.Status, j.FinishedAt, j.ErrorStatus, j.Detail, j.Problems = Failed, r.now().UTC(), status, detail, problems
	j.Header, j.Rows = f.Header, map[int][]string{}
	for _, p := range problems {
		if rec, ok := f.Records[p.Row]; ok && len(j.Rows) < 5000 {
			j.Rows[p.Row] = rec
		}
	}
	r.log.InfoContext(ctx, "sample_import_failed", "import_id", j.ID, "status", status, "problems", len(problems))
	return r.store.Finish(ctx, j)
}

// parseField reads "rows[5].unit" back into its row and column.
func parseField(field string) (int, string) {
	var row int
	if n, _ := fmt.Sscanf(field, "rows[%d]", &row); n != 1 {
		return 0, ""
	}
	_, col, _ := strings.Cut(field, "].")
	return row, col
}

// trimKind drops the kind's own words from the end of an error message.
func trimKind(err error) string {
	s := err.Error()
	for _, k := range []error{apperr.ErrForbidden, apperr.ErrConflict} {
		s = strings.TrimSuffix(s, ": "+k.Error())
	}
	return s
}
