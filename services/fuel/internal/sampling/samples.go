package sampling

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

// earliest is the earliest sampling day accepted.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// uploaders are the roles that upload samples.
var uploaders = []auth.Role{auth.Station, auth.Lab, auth.Bureau}

// defaultSite fills a station's upload without site_id with its own site.
func defaultSite(p auth.Principal, in *SampleInput) {
	if p.Role == auth.Station && strings.TrimSpace(in.SiteID) == "" {
		in.SiteID = p.Tenant
	}
}

// checkUploader refuses a role that does not upload samples and a site outside the caller's
// scope: a station uploads for its own site only, a lab for the sites it is contracted for.
func checkUploader(p auth.Principal, sc scope, siteID string) error {
	if !p.Is(uploaders...) {
		return forbidden("role %s may not upload samples", p.Role)
	}
	switch {
	case sc.allows(siteID):
		return nil
	case p.Role == auth.Station:
		return forbidden("a station uploads samples of its own site (%s) only, not of %q", p.Tenant, siteID)
	default:
		return forbidden("lab %s is not contracted for site %q: the bureau records lab contracts", p.Tenant, siteID)
	}
}

// prepare validates and judges an upload against table without writing it; every field at
// fault is named. The caller has checked the uploader.
func (s *Service) prepare(ctx context.Context, p auth.Principal, in SampleInput, site *Site, table StoredTable) (Sample, error) {
	_, span := s.tracer.Start(ctx, "fuel.judge_sample", trace.WithAttributes(attribute.String("clearsky.sample.id", in.ID),
		attribute.String("clearsky.site.id", in.SiteID), attribute.Int("clearsky.limits.version", table.Version)))
	defer span.End()
	var ve apperr.ValidationError
	now := s.now().UTC()
	if !validID(in.ID) {
		ve.Add("sample_id", idRule)
	}
	product := limits.Product(strings.ToLower(strings.TrimSpace(in.Product)))
	switch {
	case strings.TrimSpace(in.SiteID) == "":
		ve.Add("site_id", "required")
	case site == nil:
		ve.Add("site_id", fmt.Sprintf("no site %q is registered", in.SiteID))
	case slices.Contains(limits.Products, product) && !site.Kind.Handles(product):
		ve.Add("product", fmt.Sprintf("a %s does not sell or store %s", site.Kind, product))
	}
	day := localtime.DayOf(in.SampledAt)
	switch {
	case in.SampledAt.IsZero():
		ve.Add("sampled_at", "required: the sampling instant, RFC 3339")
		day = localtime.DayOf(now)
	case in.SampledAt.After(now.Add(10 * time.Minute)):
		ve.Add("sampled_at", "may not be in the future")
	case in.SampledAt.Before(earliest):
		ve.Add("sampled_at", "may not be before 2000")
	}
	j, err := table.Table.Evaluate(limits.Input{Product: in.Product, Grade: in.Grade, Standard: in.Standard, Label: in.Label, Day: day, Results: in.Results})
	var jve *apperr.ValidationError
	if errors.As(err, &jve) {
		for _, f := range jve.Fields {
			if f.Field != "sampled_at" || !in.SampledAt.IsZero() {
				ve.Add(f.Field, f.Message)
			}
		}
	} else if err != nil {
		return Sample{}, err
	}
	if err := ve.Err(); err != nil {
		span.SetStatus(codes.Error, "invalid sample")
		return Sample{}, err
	}
	span.SetAttributes(attribute.String("clearsky.sample.verdict", string(j.Verdict)))
	sm := Sample{ID: SampleID(site.ID, in.ID), SiteID: site.ID, SiteKind: site.Kind, Product: j.Product, Grade: j.Grade, Declared: j.Declared, Label: j.Label,
		SampledAt: in.SampledAt.UTC(), Month: MonthOf(in.SampledAt).String(), Year: MonthOf(in.SampledAt).Year,
		Source: Supervisory, UploadedBy: p.Subject, UploaderRole: p.Role, UploadedAt: now,
		Verdict: j.Verdict, Results: j.Results, Findings: j.Findings, LimitsVersion: table.Version,
		Revision: 1, ContentHash: in.Hash(), UpdatedAt: now, UpdatedBy: p.Subject}
	switch p.Role {
	case auth.Station:
		sm.Source = SelfCheck
	case auth.Lab:
		sm.LabID = p.Tenant
	}
	sm.CasePending = sm.Verdict == limits.Fail
	return sm, nil
}

// revisionOf is the revision a sample's current state is, made by role.
func revisionOf(sm Sample, reason, hash string, role auth.Role) Revision {
	return Revision{SampleID: sm.ID, Number: sm.Revision, Results: sm.Results, Findings: sm.Findings, Verdict: sm.Verdict,
		LimitsVersion: sm.LimitsVersion, Reason: reason, By: sm.UpdatedBy, Role: role, At: sm.UpdatedAt, Hash: hash}
}

// firstRevision is revision 1 of a sample uploaded as it was.
func firstRevision(sm Sample) Revision {
	return revisionOf(sm, "uploaded", sm.ContentHash, sm.UploaderRole)
}

// Upload judges and stores a sample and, when it fails, opens its case. The sample is stored as
// SampleID(site, sample number): numbers are per site. An upload of a number stored for its
// site is a replay: the same content answers the stored sample (created false), different
// content is ErrSampleConflict. The uploader's scope is checked before anything is looked up,
// so nobody learns of a sample of a site outside it.
func (s *Service) Upload(ctx context.Context, p auth.Principal, in SampleInput) (Sample, bool, error) {
	ctx, span := s.tracer.Start(ctx, "fuel.upload_sample", trace.WithAttributes(attribute.String("clearsky.sample.id", in.ID)))
	defer span.End()
	sc, err := s.scopeOf(ctx, p)
	if err != nil {
		return Sample{}, false, err
	}
	defaultSite(p, &in)
	if err := checkUploader(p, sc, in.SiteID); err != nil {
		return Sample{}, false, err
	}
	if validID(in.ID) && validID(in.SiteID) {
		old, err := s.samples.GetSample(ctx, in.Key())
		switch {
		case err == nil:
			return s.replay(ctx, old, in)
		case !errors.Is(err, ErrSampleNotFound):
			return Sample{}, false, err
		}
	}
	table, err := s.current(ctx)
	if err != nil {
		return Sample{}, false, err
	}
	var site *Site
	if validID(in.SiteID) {
		st, err := s.sites.GetSite(ctx, in.SiteID)
		switch {
		case err == nil:
			site = &st
		case !errors.Is(err, ErrSiteNotFound):
			return Sample{}, false, err
		}
	}
	sm, err := s.prepare(ctx, p, in, site, table)
	if err != nil {
		return Sample{}, false, err
	}
	written, err := s.write(ctx, []Sample{sm})
	if err != nil {
		return Sample{}, false, err
	}
	if len(written) == 0 { // a concurrent upload of the same id won
		old, err := s.samples.GetSample(ctx, in.Key())
		if err != nil {
			return Sample{}, false, err
		}
		return s.replay(ctx, old, in)
	}
	return s.afterWrite(ctx, sm), true, nil
}

// replay answers an upload of a stored sample id.
func (s *Service) replay(ctx context.Context, old Sample, in SampleInput) (Sample, bool, error) {
	if old.ContentHash != in.Hash() {
		return Sample{}, false, ErrSampleConflict
	}
	// Finish what a crashed first upload may have left: revision 1 and the case.
	if old.Revision == 1 {
		if _, err := s.revisions.InsertRevisions(ctx, []Revision{firstRevision(old)}); err != nil {
			s.log.WarnContext(ctx, "revision_repair_failed", "sample_id", old.ID, "error", err.Error())
		}
	}
	return s.afterWrite(ctx, old), false, nil
}

// write stores new samples and their first revisions, sample documents first: a crash in
// between leaves samples whose replay (or correction) writes the missing revision. It returns
// the samples it wrote; ids already stored are left out (the caller treats them as replays).
func (s *Service) write(ctx context.Context, samples []Sample) ([]Sample, error) {
	for i, sm := range samples {
		if sm.Verdict == limits.Fail {
			samples[i].Outgoing = []events.Draft{sampleFailed(sm, sm.UploadedAt)}
		}
	}
	existing, err := s.samples.InsertSamples(ctx, samples)
	if err != nil {
		return nil, err
	}
	var written []Sample
	var revs []Revision
	for _, sm := range samples {
		if slices.Contains(existing, sm.ID) {
			continue
		}
		written = append(written, sm)
		revs = append(revs, firstRevision(sm))
	}
	if len(revs) > 0 {
		if _, err := s.revisions.InsertRevisions(ctx, revs); err != nil {
			s.log.WarnContext(ctx, "revision_insert_failed", "samples", len(revs), "error", err.Error())
		}
	}
	return written, nil
}

// afterWrite brings a written sample's case in line with it, and returns the sample as it then
// stands. A failure is logged: the case-pending flag stays set for the background loop.
func (s *Service) afterWrite(ctx context.Context, sm Sample) Sample {
	return s.afterWriteAll(ctx, []Sample{sm})[0]
}

// afterWriteAll is afterWrite for a batch: the cases of every pending sample, and of every
// failing sample stored already linked to its case (an import's), in one pass. A failure is
// logged and leaves the samples as they were.
func (s *Service) afterWriteAll(ctx context.Context, sms []Sample) []Sample {
	out, err := s.syncAll(ctx, sms)
	if err != nil {
		s.log.WarnContext(ctx, "case_sync_failed", "samples", len(sms), "sample_id", sms[0].ID, "error", err.Error())
		return sms
	}
	return out
}

// syncAll brings the cases of sms in line and returns the samples as they then stand.
func (s *Service) syncAll(ctx context.Context, sms []Sample) ([]Sample, error) {
	// Cases record who acted: the sample's last writer.
	byWriter := map[string][]Sample{}
	var writers []string
	for _, sm := range sms {
		if !sm.CasePending && (sm.Verdict != limits.Fail || sm.CaseID == "") {
			continue
		}
		if _, ok := byWriter[sm.UpdatedBy]; !ok {
			writers = append(writers, sm.UpdatedBy)
		}
		byWriter[sm.UpdatedBy] = append(byWriter[sm.UpdatedBy], sm)
	}
	cases := map[string]Case{}
	for _, w := range writers {
		got, err := s.syncCases(ctx, byWriter[w], w)
		if err != nil {
			return nil, err
		}
		maps.Copy(cases, got)
	}
	out := make([]Sample, len(sms))
	for i, sm := range sms {
		if c, ok := cases[sm.ID]; ok || sm.CasePending {
			sm.CaseID, sm.CasePending = c.ID, false
		}
		out[i] = sm
	}
	return out, nil
}

// ItemError is the refusal of one sample of an import.
type ItemError struct {
	Index int
	Err   error
}

// ImportError refuses an import: nothing was written. Kind is apperr.ErrForbidden when a
// sample is outside the caller's scope, apperr.ErrInvalid when a sample is invalid, and
// apperr.ErrConflict when a sample id is stored with other content; Items lists each refusal.
type ImportError struct {
	Kind  error
	Items []ItemError
}

// Error summarises the refusal.
func (e *ImportError) Error() string {
	return fmt.Sprintf("%d sample(s) refused, nothing imported: %v", len(e.Items), e.Items[0].Err)
}

// Unwrap returns the kind.
func (e *ImportError) Unwrap() error { return e.Kind }

// ImportResult is what an import did.
type ImportResult struct {
	Created  int
	Replayed int
	Samples  []Sample
}

// ImportProgress is how far an import has got: samples checked (validated and judged), stored
// (written or found stored already) and cases opened.
type ImportProgress struct {
	Checked, Stored, CasesOpened int
}

// Import judges and stores a batch of samples (a lab system's CSV file) all or nothing: every
// sample is checked first, and any refusal writes nothing. Samples already stored with the
// same content are replays, so running an import whose first run was cut short completes it.
// progress, when not nil, is told how far it got as it goes.
func (s *Service) Import(ctx context.Context, p auth.Principal, inputs []SampleInput, progress func(ImportProgress)) (ImportResult, error) {
	if progress == nil {
		progress = func(ImportProgress) {}
	}
	ctx, span := s.tracer.Start(ctx, "fuel.import_samples", trace.WithAttributes(attribute.Int("clearsky.import.samples", len(inputs))))
	defer span.End()
	if len(inputs) == 0 {
		return ImportResult{}, apperr.Invalid("body", "the file holds no samples")
	}
	if len(inputs) > s.policy.MaxImport {
		return ImportResult{}, apperr.Invalid("body", fmt.Sprintf("at most %d samples per file; split it", s.policy.MaxImport))
	}
	sc, err := s.scopeOf(ctx, p)
	if err != nil {
		return ImportResult{}, err
	}
	var denied, invalid, conflicts []ItemError
	var siteIDs, sampleIDs []string
	for i := range inputs {
		defaultSite(p, &inputs[i])
		in := inputs[i]
		if err := checkUploader(p, sc, in.SiteID); err != nil {
			denied = append(denied, ItemError{i, err})
		}
		siteIDs, sampleIDs = append(siteIDs, in.SiteID), append(sampleIDs, in.Key())
	}
	if len(denied) > 0 {
		return ImportResult{}, &ImportError{Kind: apperr.ErrForbidden, Items: denied}
	}
	table, err := s.current(ctx)
	if err != nil {
		return ImportResult{}, err
	}
	sites, err := s.sites.GetSites(ctx, siteIDs)
	if err != nil {
		return ImportResult{}, err
	}
	stored, err := s.samples.GetSamples(ctx, sampleIDs)
	if err != nil {
		return ImportResult{}, err
	}
	var res ImportResult
	var fresh []Sample
	replays := map[int]Sample{}
	first := map[string]int{}
	for i, in := range inputs {
		if i%500 == 0 && i > 0 {
			progress(ImportProgress{Checked: i})
		}
		if j, dup := first[in.Key()]; dup && validID(in.ID) {
			invalid = append(invalid, ItemError{i, apperr.Invalid("sample_id", fmt.Sprintf("%s appears twice in the file for site %s (also sample %d)", in.ID, in.SiteID, j+1))})
			continue
		}
		first[in.Key()] = i
		if old, ok := stored[in.Key()]; ok {
			if old.ContentHash != in.Hash() {
				conflicts = append(conflicts, ItemError{i, ErrSampleConflict})
			} else {
				replays[i] = old
			}
			continue
		}
		var site *Site
		if st, ok := sites[in.SiteID]; ok {
			site = &st
		}
		sm, err := s.prepare(ctx, p, in, site, table)
		if err != nil {
			invalid = append(invalid, ItemError{i, err})
			continue
		}
		if sm.CasePending {
			// Stored linked to the case it opens, without the flag: clearing a flag is one write
			// per sample, and an interrupted import is completed by running it again, which
			// opens the cases still missing.
			sm.CaseID, sm.CasePending = CaseID(sm.ID), false
		}
		fresh = append(fresh, sm)
	}
	switch {
	case len(invalid) > 0:
		return ImportResult{}, &ImportError{Kind: apperr.ErrInvalid, Items: invalid}
	case len(conflicts) > 0:
		return ImportResult{}, &ImportError{Kind: apperr.ErrConflict, Items: conflicts}
	}
	progress(ImportProgress{Checked: len(inputs)})
	written := []Sample{}
	if len(fresh) > 0 {
		if written, err = s.write(ctx, fresh); err != nil {
			return ImportResult{}, err
		}
	}
	progress(ImportProgress{Checked: len(inputs), Stored: len(inputs)})
	// Replays: a sample of the file already stored with the same content (an earlier import of
	// it, perhaps cut short) has its missing revision 1 written and its case opened, all in one
	// pass with the new samples'.
	isNew := map[string]bool{}
	for _, sm := range written {
		isNew[sm.ID] = true
	}
	var repairs []Revision
	all := make([]Sample, 0, len(inputs))
	for _, sm := range written {
		all = append(all, sm)
	}
	for i, in := range inputs {
		if isNew[in.Key()] {
			continue
		}
		old, ok := replays[i]
		if !ok { // lost a race with a concurrent upload of the same id
			if old, err = s.samples.GetSample(ctx, in.Key()); err != nil {
				return res, err
			}
			if old.ContentHash != in.Hash() {
				return res, &ImportError{Kind: apperr.ErrConflict, Items: []ItemError{{i, ErrSampleConflict}}}
			}
		}
		if old.Revision == 1 {
			repairs = append(repairs, firstRevision(old))
		}
		all = append(all, old)
	}
	if len(repairs) > 0 {
		if _, err := s.revisions.InsertRevisions(ctx, repairs); err != nil {
			s.log.WarnContext(ctx, "revision_repair_failed", "samples", len(repairs), "error", err.Error())
		}
	}
	synced, err := s.syncAll(ctx, all)
	if err != nil {
		return res, fmt.Errorf("open the cases of the import: %w", err)
	}
	byID := map[string]Sample{}
	for _, sm := range synced {
		byID[sm.ID] = sm
	}
	opened := 0
	for _, in := range inputs {
		if isNew[in.Key()] {
			res.Created++
		} else {
			res.Replayed++
		}
		sm := byID[in.Key()]
		if sm.Verdict == limits.Fail && sm.CaseID != "" && !sm.CasePending {
			opened++
		}
		res.Samples = append(res.Samples, sm)
	}
	progress(ImportProgress{Checked: len(inputs), Stored: len(inputs), CasesOpened: opened})
	span.SetAttributes(attribute.Int("clearsky.import.created", res.Created), attribute.Int("clearsky.import.replayed", res.Replayed))
	return res, nil
}

// canRead reports whether p may read sample sm: the bureau any, a station those of its site,
// a lab those it uploaded or of a site it is contracted for.
func canRead(p auth.Principal, sc scope, sm Sample) bool {
	return sc.all || sc.allows(sm.SiteID) || (p.Role == auth.Lab && sm.LabID == p.Tenant)
}

// GetSample returns a sample the caller may read; others are "not found".
func (s *Service) GetSample(ctx context.Context, p auth.Principal, id string) (Sample, error) {
	sc, err := s.scopeOf(ctx, p)
	if err != nil {
		return Sample{}, err
	}
	sm, err := s.samples.GetSample(ctx, id)
	if err != nil {
		return Sample{}, err
	}
	if !canRead(p, sc, sm) {
		return Sample{}, ErrSampleNotFound
	}
	return sm, nil
}

// ListSamples lists samples newest first: the bureau any, a station those of its site, a lab
// those of the sites it is contracted for.
func (s *Service) ListSamples(ctx context.Context, p auth.Principal, f SampleFilter, after Key, limit int) ([]Sample, error) {
	sc, err := s.scopeOf(ctx, p)
	if err != nil {
		return nil, err
	}
	if f.Product != "" && !slices.Contains(limits.Products, f.Product) {
		return nil, apperr.Invalid("product", "must be gasoline, diesel, urea or coal")
	}
	if f.Verdict != "" && f.Verdict != limits.Pass && f.Verdict != limits.Fail {
		return nil, apperr.Invalid("verdict", "must be pass or fail")
	}
	if f.Month != "" {
		if _, err := ParseMonth(f.Month); err != nil {
			return nil, apperr.Invalid("month", err.Error())
		}
	}
	if !sc.all {
		if f.SiteID != "" && !sc.allows(f.SiteID) {
			return nil, forbidden("%s %s may not read the samples of site %q", p.Role, p.Tenant, f.SiteID)
		}
		if f.SiteID == "" {
			f.SiteIDs = append([]string{}, sc.sites...)
		}
	}
	return s.samples.ListSamples(ctx, f, after, limit)
}

// Revisions returns a sample's history, oldest first, to whoever may read the sample.
func (s *Service) Revisions(ctx context.Context, p auth.Principal, id string) ([]Revision, error) {
	if _, err := s.GetSample(ctx, p, id); err != nil {
		return nil, err
	}
	return s.revisions.ListRevisions(ctx, id)
}

// Correct applies a lab's correction to a sample it uploaded (the bureau may correct any),
// re-judges it with the table in force now on the sample's own day, appends the new revision
// to the history and brings the case in line (opened, updated, reopened or closed). Sending
// the same correction again answers the sample (created false); a correction of a revision
// that is no longer the current one is ErrRevisionConflict.
func (s *Service) Correct(ctx context.Context, p auth.Principal, id string, c Correction) (Sample, bool, error) {
	ctx, span := s.tracer.Start(ctx, "fuel.correct_sample", trace.WithAttributes(attribute.String("clearsky.sample.id", id)))
	defer span.End()
	if !p.Is(auth.Lab, auth.Bureau) {
		return Sample{}, false, forbidden("role %s may not correct samples", p.Role)
	}
	old, err := s.GetSample(ctx, p, id)
	if err != nil {
		return Sample{}, false, err
	}
	if p.Role == auth.Lab && old.LabID != p.Tenant {
		return Sample{}, false, forbidden("a lab corrects the samples it uploaded only")
	}
	var ve apperr.ValidationError
	if strings.TrimSpace(c.Reason) == "" {
		ve.Add("reason", "required: why the result is corrected")
	}
	if len(c.Results) == 0 {
		ve.Add("results", "at least one corrected result")
	}
	if c.BaseRevision < 1 {
		ve.Add("base_revision", "required: the revision being corrected, as last read")
	}
	if err := ve.Err(); err != nil {
		return Sample{}, false, err
	}
	hash := c.Hash()
	if old.Revision != c.BaseRevision {
		if old.Revision == c.BaseRevision+1 {
			revs, err := s.revisions.ListRevisions(ctx, id)
			if err != nil {
				return Sample{}, false, err
			}
			for _, r := range revs {
				if r.Number == old.Revision && r.Hash == hash {
					return s.afterWrite(ctx, old), false, nil
				}
			}
		}
		return Sample{}, false, ErrRevisionConflict
	}
	table, err := s.current(ctx)
	if err != nil {
		return Sample{}, false, err
	}
	in := limits.Input{Product: string(old.Product), Grade: old.Grade, Standard: string(old.Declared), Label: old.Label, Day: localtime.DayOf(old.SampledAt)}
	check := in
	check.Results = c.Results
	if _, err := table.Table.Evaluate(check); err != nil { // names the fields of the correction
		return Sample{}, false, err
	}
	in.Results = c.merge(old.Readings())
	j, err := table.Table.Evaluate(in)
	if err != nil {
		return Sample{}, false, err
	}
	now := s.now().UTC()
	sm := old
	sm.Results, sm.Findings, sm.Verdict, sm.LimitsVersion = j.Results, j.Findings, j.Verdict, table.Version
	sm.Revision, sm.UpdatedAt, sm.UpdatedBy = old.Revision+1, now, p.Subject
	sm.CasePending = sm.Verdict == limits.Fail || sm.CaseID != ""
	span.SetAttributes(attribute.String("clearsky.sample.verdict", string(sm.Verdict)), attribute.Int("clearsky.sample.revision", sm.Revision))
	rev := revisionOf(sm, strings.TrimSpace(c.Reason), hash, p.Role)
	revs := []Revision{rev}
	if old.Revision == 1 { // repairs a history a crash cut short after the upload; else a no-op
		revs = []Revision{firstRevision(old), rev}
	}
	existing, err := s.revisions.InsertRevisions(ctx, revs)
	if err != nil {
		return Sample{}, false, err
	}
	for _, e := range existing {
		if e.Number == rev.Number && e.Hash != hash {
			return Sample{}, false, ErrRevisionConflict
		}
	}
	if sm.Verdict == limits.Fail && old.Verdict != limits.Fail {
		sm.Outgoing = []events.Draft{sampleFailed(sm, now)}
	}
	if err := s.samples.ReplaceSample(ctx, sm, old.Revision); err != nil {
		return Sample{}, false, err
	}
	return s.afterWrite(ctx, sm), true, nil
}
