package samplingstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/services/fuel/internal/importjob"
)

var _ importjob.Store = (*Store)(nil)

type progressDoc struct {
	TotalRows     int `bson:"total_rows"`
	RowsChecked   int `bson:"rows_checked"`
	Samples       int `bson:"samples"`
	SamplesStored int `bson:"samples_stored"`
	CasesOpened   int `bson:"cases_opened"`
}

type itemDoc struct {
	SampleID string `bson:"sample_id"`
	Verdict  string `bson:"verdict"`
	CaseID   string `bson:"case_id,omitempty"`
	Row      int    `bson:"row"`
}

type resultDoc struct {
	Layout   string    `bson:"layout"`
	Samples  int       `bson:"samples"`
	Created  int       `bson:"created"`
	Replayed int       `bson:"replayed"`
	Failed   int       `bson:"failed"`
	Cases    int       `bson:"cases"`
	Items    []itemDoc `bson:"items"`
}

type problemDoc struct {
	Field   string `bson:"field"`
	Row     int    `bson:"row"`
	Column  string `bson:"column,omitempty"`
	Message string `bson:"message"`
}

type jobDoc struct {
	ID          string              `bson:"_id"`
	Status      string              `bson:"status"`
	Role        string              `bson:"role"`
	Tenant      string              `bson:"tenant,omitempty"`
	Subject     string              `bson:"subject"`
	CreatedAt   time.Time           `bson:"created_at"`
	StartedAt   *time.Time          `bson:"started_at,omitempty"`
	FinishedAt  *time.Time          `bson:"finished_at,omitempty"`
	LeaseUntil  time.Time           `bson:"lease_until"`
	Attempts    int                 `bson:"attempts"`
	Progress    progressDoc         `bson:"progress"`
	Result      *resultDoc          `bson:"result,omitempty"`
	ErrorStatus int                 `bson:"error_status,omitempty"`
	Detail      string              `bson:"detail,omitempty"`
	Problems    []problemDoc        `bson:"problems,omitempty"`
	Header      []string            `bson:"header,omitempty"`
	Rows        map[string][]string `bson:"rows,omitempty"` // by row number
}

type fileDoc struct {
	ID   string `bson:"_id"`
	File []byte `bson:"file"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func toJobDoc(j importjob.Job) jobDoc {
	d := jobDoc{ID: j.ID, Status: string(j.Status), Role: string(j.Role), Tenant: j.Tenant, Subject: j.Subject, CreatedAt: j.CreatedAt.UTC(),
		StartedAt: timePtr(j.StartedAt), FinishedAt: timePtr(j.FinishedAt), LeaseUntil: j.LeaseUntil.UTC(), Attempts: j.Attempts,
		Progress: progressDoc(j.Progress), ErrorStatus: j.ErrorStatus, Detail: j.Detail, Header: j.Header}
	if r := j.Result; r != nil {
		d.Result = &resultDoc{Layout: r.Layout, Samples: r.Samples, Created: r.Created, Replayed: r.Replayed, Failed: r.Failed, Cases: r.Cases, Items: []itemDoc{}}
		for _, it := range r.Items {
			d.Result.Items = append(d.Result.Items, itemDoc(it))
		}
	}
	for _, p := range j.Problems {
		d.Problems = append(d.Problems, problemDoc(p))
	}
	if len(j.Rows) > 0 {
		d.Rows = map[string][]string{}
		for n, cells := range j.Rows {
			d.Rows[strconv.Itoa(n)] = cells
		}
	}
	return d
}

func (d jobDoc) job() importjob.Job {
	j := importjob.Job{ID: d.ID, Status: importjob.Status(d.Status), Role: auth.Role(d.Role), Tenant: d.Tenant, Subject: d.Subject,
		CreatedAt: d.CreatedAt.UTC(), LeaseUntil: d.LeaseUntil.UTC(), Attempts: d.Attempts, Progress: importjob.Progress(d.Progress),
		ErrorStatus: d.ErrorStatus, Detail: d.Detail, Header: d.Header}
	if d.StartedAt != nil {
		j.StartedAt = d.StartedAt.UTC()
	}
	if d.FinishedAt != nil {
		j.FinishedAt = d.FinishedAt.UTC()
	}
	if r := d.Result; r != nil {
		j.Result = &importjob.Result{Layout: r.Layout, Samples: r.Samples, Created: r.Created, Replayed: r.Replayed, Failed: r.Failed, Cases: r.Cases}
		for _, it := range r.Items {
			j.Result.Items = append(j.Result.Items, importjob.Item(it))
		}
	}
	for _, p := range d.Problems {
		j.Problems = append(j.Problems, importjob.Problem(p))
	}
	if len(d.Rows) > 0 {
		j.Rows = map[int][]string{}
		for k, cells := range d.Rows {
			if n, err := strconv.Atoi(k); err == nil {
				j.Rows[n] = cells
			}
		}
	}
	return j
}

// InsertJob implements importjob.Store: the file first, then the job that names it.
func (s *Store) InsertJob(ctx context.Context, j importjob.Job, file []byte) error {
	if _, err := s.importFiles.InsertOne(ctx, fileDoc{ID: j.ID, File: file}); err != nil {
		return fmt.Errorf("store import file %s: %w", j.ID, err)
	}
	if _, err := s.imports.InsertOne(ctx, toJobDoc(j)); err != nil {
		return fmt.Errorf("store import %s: %w", j.ID, err)
	}
	return nil
}

// GetJob implements importjob.Store.
func (s *Store) GetJob(ctx context.Context, id string) (importjob.Job, error) {
	d, err := mongodb.FindOne[jobDoc](ctx, s.imports, bson.D{{Key: "_id", Value: id}}, importjob.ErrNotFound)
	if err != nil {
		return importjob.Job{}, err
	}
	return d.job(), nil
}

// JobFile implements importjob.Store.
func (s *Store) JobFile(ctx context.Context, id string) ([]byte, error) {
	d, err := mongodb.FindOne[fileDoc](ctx, s.importFiles, bson.D{{Key: "_id", Value: id}}, importjob.ErrNotFound)
	if err != nil {
		return nil, err
	}
	return d.File, nil
}

// Claim implements importjob.Store.
func (s *Store) Claim(ctx context.Context, id string, was, until time.Time, attempts int) (bool, error) {
	res, err := s.imports.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "lease_until", Value: was.UTC()},
		{Key: "status", Value: bson.D{{Key: "$in", Value: []string{string(importjob.Queued), string(importjob.Running)}}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(importjob.Running)}, {Key: "lease_until", Value: until.UTC()},
			{Key: "attempts", Value: attempts}, {Key: "started_at", Value: time.Now().UTC()}}}})
	if err != nil {
		return false, fmt.Errorf("claim import %s: %w", id, err)
	}
	return res.MatchedCount == 1, nil
}

// SaveProgress implements importjob.Store.
func (s *Store) SaveProgress(ctx context.Context, id string, p importjob.Progress, until time.Time) error {
	_, err := s.imports.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "progress", Value: progressDoc(p)}, {Key: "lease_until", Value: until.UTC()}}}})
	if err != nil {
		return fmt.Errorf("progress of import %s: %w", id, err)
	}
	return nil
}

// Finish implements importjob.Store.
func (s *Store) Finish(ctx context.Context, j importjob.Job) error {
	if _, err := s.imports.ReplaceOne(ctx, bson.D{{Key: "_id", Value: j.ID}}, toJobDoc(j)); err != nil {
		return fmt.Errorf("finish import %s: %w", j.ID, err)
	}
	if _, err := s.importFiles.DeleteOne(ctx, bson.D{{Key: "_id", Value: j.ID}}); err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("drop the file of import %s: %w", j.ID, err)
	}
	return nil
}

// Requeue implements importjob.Store.
func (s *Store) Requeue(ctx context.Context, id string, until time.Time, detail string) error {
	_, err := s.imports.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(importjob.Queued)}, {Key: "lease_until", Value: until.UTC()}, {Key: "detail", Value: detail}}}})
	if err != nil {
		return fmt.Errorf("requeue import %s: %w", id, err)
	}
	return nil
}

// Unfinished implements importjob.Store.
func (s *Store) Unfinished(ctx context.Context, now time.Time, limit int) ([]importjob.Job, error) {
	cur, err := s.imports.Find(ctx, bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: []string{string(importjob.Queued), string(importjob.Running)}}}},
		{Key: "lease_until", Value: bson.D{{Key: "$lt", Value: now.UTC()}}}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetLimit(int64(limit)).SetProjection(bson.D{{Key: "rows", Value: 0}, {Key: "result", Value: 0}}))
	if err != nil {
		return nil, fmt.Errorf("find unfinished imports: %w", err)
	}
	return all(ctx, cur, jobDoc.job)
}
