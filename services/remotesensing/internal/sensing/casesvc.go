package sensing

import (
	"context"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// Transition moves a case one step of the loop, as Steps allows the caller's role; the step is
// appended to the case's history with who, when, why and the document it rests on.
func (s *Service) Transition(ctx context.Context, p auth.Principal, id string, m Move) (Case, error) {
	ctx, span := s.tracer.Start(ctx, "remotesensing.transition", trace.WithAttributes(
		attribute.String("clearsky.case.id", id), attribute.String("clearsky.case.to", string(m.To)), attribute.String("clearsky.principal.role", string(p.Role))))
	defer span.End()
	c, err := s.cases.GetCase(ctx, id)
	if err != nil {
		return Case{}, err
	}
	if err := CheckMove(c, p.Role, m); err != nil {
		return Case{}, err
	}
	n, e := Apply(c, p, m, s.now().UTC())
	if err := s.cases.UpdateCase(ctx, n, c.State, e); err != nil {
		return Case{}, err
	}
	span.SetAttributes(attribute.String("clearsky.case.from", string(c.State)))
	s.log.InfoContext(ctx, "case_moved", "case_id", n.ID, "from", string(c.State), "to", string(n.State), "by", p.Subject)
	s.publishPlate(ctx, n)
	return n, nil
}

// ReportRepair records a repair shop's report on a penalised case; the repair shop is the
// caller's tenant, kept on the case for trace-back. The transport bureau then confirms it.
func (s *Service) ReportRepair(ctx context.Context, p auth.Principal, id string, r RepairReport) (Case, error) {
	ctx, span := s.tracer.Start(ctx, "remotesensing.report_repair", trace.WithAttributes(attribute.String("clearsky.case.id", id)))
	defer span.End()
	c, err := s.cases.GetCase(ctx, id)
	if err != nil {
		return Case{}, err
	}
	if err := CheckRepairReport(c, p, r); err != nil {
		return Case{}, err
	}
	n, e := ApplyRepairReport(c, p, r, s.now().UTC())
	if err := s.cases.UpdateCase(ctx, n, c.State, e); err != nil {
		return Case{}, err
	}
	s.log.InfoContext(ctx, "repair_reported", "case_id", n.ID, "repair_shop", p.Tenant)
	s.publishPlate(ctx, n)
	return n, nil
}

// ChooseRepairShop records the owner's choice of the repair shop for a case (the owning fleet,
// or the transport bureau for an owner without a fleet account): from then on that shop, and
// only it, sees the case and reports its repair. Choosing the shop the case is assigned to
// already changes nothing.
func (s *Service) ChooseRepairShop(ctx context.Context, p auth.Principal, id string, ch ShopChoice) (Case, error) {
	ctx, span := s.tracer.Start(ctx, "remotesensing.choose_repair_shop", trace.WithAttributes(attribute.String("clearsky.case.id", id)))
	defer span.End()
	c, err := s.cases.GetCase(ctx, id)
	if err != nil {
		return Case{}, err
	}
	if err := CheckShopChoice(c, p, ch); err != nil {
		return Case{}, err
	}
	if c.RepairShopID == strings.TrimSpace(ch.ShopID) {
		return c, nil
	}
	n, e := ApplyShopChoice(c, p, ch, s.now().UTC())
	if err := s.cases.UpdateCase(ctx, n, c.State, e); err != nil {
		return Case{}, err
	}
	s.log.InfoContext(ctx, "repair_shop_chosen", "case_id", n.ID, "repair_shop", n.RepairShopID, "by", p.Subject)
	s.publishPlate(ctx, n)
	return n, nil
}

// canSeeCase: the bureau, police and transport bureau see every case; a fleet the cases of its
// vehicles; a repair shop only the cases assigned to it (the owner's choice), whatever their
// state.
func canSeeCase(p auth.Principal, c Case) bool {
	switch p.Role {
	case auth.Bureau, auth.Police, auth.Transport, auth.Admin:
		return true
	case auth.Fleet:
		return c.Trace.FleetID != "" && c.Trace.FleetID == p.Tenant
	case auth.Repair:
		return c.RepairShopID != "" && c.RepairShopID == p.Tenant
	}
	return false
}

// GetCase returns a case the caller may see; others are "not found".
func (s *Service) GetCase(ctx context.Context, p auth.Principal, id string) (Case, error) {
	if !p.Is(auth.Bureau, auth.Police, auth.Transport, auth.Fleet, auth.Repair, auth.Admin) {
		return Case{}, forbidden("role %s may not read cases", p.Role)
	}
	c, err := s.cases.GetCase(ctx, id)
	if err != nil {
		return Case{}, err
	}
	if !canSeeCase(p, c) {
		return Case{}, ErrCaseNotFound
	}
	return c, nil
}

// ParsePlate normalises a plate filter; the colour is optional here ("" when absent).
func ParsePlate(plate, colour string, needColour bool) (string, vehicleid.Colour, error) {
	var ve apperr.ValidationError
	pl, err := vehicleid.NormalisePlate(plate)
	if err != nil {
		ve.Add("plate", err.Error())
	}
	var c vehicleid.Colour
	if colour != "" || needColour {
		if c, err = vehicleid.ParseColour(colour); err != nil {
			ve.Add("colour", err.Error())
		}
	}
	return pl, c, ve.Err()
}

// plateFilter normalises a plate and optional colour into the filter fields.
func plateFilter(plate, colour string) (string, string, error) {
	if plate == "" {
		if colour != "" {
			return "", "", apperr.Invalid("colour", "only with plate")
		}
		return "", "", nil
	}
	pl, c, err := ParsePlate(plate, colour, false)
	if err != nil {
		return "", "", err
	}
	if c == "" {
		return pl, "", nil
	}
	return "", vehicleid.Key(pl, c), nil
}

// auditPlate records a lookup of a plate's movements or cases by anyone but its own fleet.
func (s *Service) auditPlate(ctx context.Context, p auth.Principal, action, plate, plateKey string) error {
	subject := plateKey
	if subject == "" {
		subject = plate
	}
	if subject == "" || p.Role == auth.Fleet {
		return nil
	}
	return s.audit.Record(ctx, p, action, subject, nil)
}

// ListCases returns a page of the cases the caller may see, newest first, and the cursor to go
// on from (nil at the end). plate and colour narrow it to a vehicle.
func (s *Service) ListCases(ctx context.Context, p auth.Principal, f CaseFilter, colour string, after *Cursor, limit int) ([]Case, *Cursor, error) {
	switch p.Role {
	case auth.Bureau, auth.Police, auth.Transport, auth.Admin:
	case auth.Fleet:
		if f.FleetID != "" && f.FleetID != p.Tenant {
			return nil, nil, forbidden("a fleet lists the cases of its own vehicles only")
		}
		f.FleetID = p.Tenant
	case auth.Repair:
		f.RepairShopID = p.Tenant
	default:
		return nil, nil, forbidden("role %s may not list cases", p.Role)
	}
	var err error
	if f.Plate, f.PlateKey, err = plateFilter(f.Plate, colour); err != nil {
		return nil, nil, err
	}
	if f.State != "" && !slices.Contains(States, f.State) {
		return nil, nil, apperr.Invalid("state", "one of detected, notified, penalised, repaired, retested, closed, dismissed")
	}
	if f.Pollutant != "" && !f.Pollutant.Valid() {
		return nil, nil, apperr.Invalid("pollutant", "one of co, hc, no, opacity, ringelmann")
	}
	if err := s.auditPlate(ctx, p, "list_cases", f.Plate, f.PlateKey); err != nil {
		return nil, nil, err
	}
	cs, err := s.cases.ListCases(ctx, f, after, limit+1)
	if err != nil {
		return nil, nil, err
	}
	var next *Cursor
	if len(cs) > limit {
		cs = cs[:limit]
		next = &Cursor{At: cs[limit-1].OpenedAt, ID: cs[limit-1].ID}
	}
	return cs, next, nil
}

// ListReadings returns a page of the readings the caller may see, newest first: the bureau,
// police and transport bureau every reading, a sensor operator its stations', a fleet its
// vehicles'. Plate lookups by the authorities are audited (a plate's passages are personal data).
func (s *Service) ListReadings(ctx context.Context, p auth.Principal, f ReadingFilter, colour string, after *Cursor, limit int) ([]Reading, *Cursor, error) {
	switch p.Role {
	case auth.Bureau, auth.Police, auth.Transport, auth.Admin:
	case auth.Sensor:
		f.OperatorID = p.Tenant
	case auth.Fleet:
		f.FleetID = p.Tenant
	default:
		return nil, nil, forbidden("role %s may not list readings", p.Role)
	}
	var err error
	if f.Plate, f.PlateKey, err = plateFilter(f.Plate, colour); err != nil {
		return nil, nil, err
	}
	if f.Verdict != "" && !slices.Contains(Verdicts, f.Verdict) {
		return nil, nil, apperr.Invalid("verdict", "one of pass, exceed, invalid, not_judged, unknown_vehicle, pending")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, nil, apperr.Invalid("to", "must be after from")
	}
	f.StationID = strings.TrimSpace(f.StationID)
	if err := s.auditPlate(ctx, p, "list_readings", f.Plate, f.PlateKey); err != nil {
		return nil, nil, err
	}
	rs, err := s.readings.ListReadings(ctx, f, after, limit+1)
	if err != nil {
		return nil, nil, err
	}
	var next *Cursor
	if len(rs) > limit {
		rs = rs[:limit]
		next = &Cursor{At: rs[limit-1].MeasuredAt, ID: rs[limit-1].Key}
	}
	for i := range rs {
		rs[i] = s.Explain(rs[i])
	}
	return rs, next, nil
}

// StatusOf builds a plate's remote-sensing part from MongoDB and rewrites it in Redis: the
// checkpoint's fallback when the part is missing (police, bureau, the services). A plate the
// service knows nothing about answers an empty part.
func (s *Service) StatusOf(ctx context.Context, p auth.Principal, plate, colour string) (summary.RemoteSensingStatus, error) {
	if !p.Is(auth.Police, auth.Bureau, auth.System, auth.Admin) {
		return summary.RemoteSensingStatus{}, forbidden("role %s may not read remote-sensing status", p.Role)
	}
	pl, c, err := ParsePlate(plate, colour, true)
	if err != nil {
		return summary.RemoteSensingStatus{}, err
	}
	parts, err := s.build(ctx, []Plate{{pl, c}})
	if err != nil {
		return summary.RemoteSensingStatus{}, err
	}
	if err := s.cache.Put(ctx, entries(parts)...); err != nil {
		s.log.WarnContext(ctx, "status_cache_put_failed", "plate", pl, "error", err.Error())
	}
	return parts[0], nil
}

// build reads the plates' exceedances within the cycle and open cases from the store and builds
// their parts.
func (s *Service) build(ctx context.Context, plates []Plate) ([]summary.RemoteSensingStatus, error) {
	now := s.now().UTC()
	keys := make([]string, len(plates))
	for i, p := range plates {
		keys[i] = vehicleid.Key(p.Plate, p.Colour)
	}
	exc, err := s.readings.ExceedancesOf(ctx, keys, now.Add(-s.opt.cycle()))
	if err != nil {
		return nil, err
	}
	cases, err := s.cases.CasesOf(ctx, keys, now)
	if err != nil {
		return nil, err
	}
	out := make([]summary.RemoteSensingStatus, len(plates))
	for i, p := range plates {
		out[i] = SummaryOf(p.Plate, p.Colour, exc, cases, now, s.opt.CycleDays)
	}
	return out, nil
}

// entries are the parts as summary.Writer entries.
func entries(parts []summary.RemoteSensingStatus) []summary.Entry {
	es := make([]summary.Entry, len(parts))
	for i, p := range parts {
		es[i] = summary.Entry{PlateKey: vehicleid.Key(p.Plate, vehicleid.Colour(p.PlateColour)), Data: p}
	}
	return es
}

// Summarise implements partsync.Owner.
func (s *Service) Summarise(ctx context.Context, plateKeys []string) ([]summary.Entry, error) {
	plates := make([]Plate, 0, len(plateKeys))
	for _, k := range plateKeys {
		if plate, colour, ok := vehicleid.SplitKey(k); ok {
			plates = append(plates, Plate{plate, colour})
		}
	}
	parts, err := s.build(ctx, plates)
	if err != nil {
		return nil, err
	}
	return entries(parts), nil
}

// EachPlate implements partsync.Owner: every plate with an open case or an exceedance within
// the cycle, 500 at a time.
func (s *Service) EachPlate(ctx context.Context, fn func(plateKeys []string) error) error {
	plates, err := s.reports.ActivePlates(ctx, s.now().Add(-s.opt.cycle()))
	if err != nil {
		return err
	}
	const chunk = 500
	for i := 0; i < len(plates); i += chunk {
		keys := make([]string, 0, chunk)
		for _, p := range plates[i:min(i+chunk, len(plates))] {
			keys = append(keys, vehicleid.Key(p.Plate, p.Colour))
		}
		if err := fn(keys); err != nil {
			return err
		}
	}
	return nil
}

// publishPlate rebuilds and publishes the part of c's plate after a case changed, then clears
// the case's outbox records; failures are logged and left to the outbox runner.
func (s *Service) publishPlate(ctx context.Context, c Case) {
	parts, err := s.build(ctx, []Plate{{c.Plate, c.PlateColour}})
	if err == nil {
		err = s.publish(ctx, parts, []Case{c})
	}
	if err != nil {
		s.log.WarnContext(ctx, "status_publish_deferred", "case_id", c.ID, "error", err.Error())
	}
}
