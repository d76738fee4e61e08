package monitor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/cursor"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/libs/vehicleinfo"
	"github.com/clearsky/clearsky/services/obd/internal/detect"
	"github.com/clearsky/clearsky/services/obd/internal/protocol"
)

// FrameOf describes a decoded real-time or reissued report for storage: its id, sample span
// and count. raw must not be reused by the caller afterwards.
func FrameOf(f *protocol.Frame, raw []byte, received time.Time, source string) *Frame {
	out := &Frame{VIN: f.Header.VIN.String(), Source: source, Command: f.Header.Command, Received: received, Raw: raw,
		From: f.Report.Time, To: f.Report.Time, Layout: f.Report.Layout, Readings: Readings(f, nil)}
	serial := f.Report.Serial
	if f.Report.Layout != protocol.LayoutHJ1239 && len(f.Report.Items) > 0 {
		serial = f.Report.Items[0].Serial
	}
	k := 0
	for i := range f.Report.Items {
		it := &f.Report.Items[i]
		if it.Type != protocol.ItemDiesel {
			continue
		}
		at := f.Report.Time.Add(time.Duration(k) * time.Second)
		if f.Report.Layout == protocol.LayoutHJ1239 && !it.Time.IsZero() {
			at = it.Time
		}
		if k == 0 || at.Before(out.From) {
			out.From = at
		}
		if at.After(out.To) {
			out.To = at
		}
		k++
	}
	out.Samples = k
	out.ID = FrameID(out.VIN, f.Report.Time, serial)
	return out
}

// Service is what the HTTP edge calls: the pipeline with role and tenant rules.
type Service struct {
	mon      *Monitor
	store    Store
	vehicles Vehicles
	now      func() time.Time
}

// NewService returns the OBD service's core.
func NewService(mon *Monitor, store Store, vehicles Vehicles) *Service {
	return &Service{mon: mon, store: store, vehicles: vehicles, now: time.Now}
}

// Monitor returns the pipeline.
func (s *Service) Monitor() *Monitor { return s.mon }

// ErrUnknownTruck: the registry does not know the VIN, or the caller may not see it.
var ErrUnknownTruck = fmt.Errorf("truck %w", apperr.ErrNotFound)

// authorize checks that p may see vin's telemetry: the bureau and police all trucks, a fleet
// its own (another fleet's truck is "not found").
func (s *Service) authorize(ctx context.Context, p auth.Principal, vin string) (string, summary.Vehicle, error) {
	n, err := vehicleid.NormaliseVIN(vin)
	if err != nil {
		return "", summary.Vehicle{}, apperr.Invalid("vin", err.Error())
	}
	v, err := s.vehicles.ByVIN(ctx, n)
	switch {
	case vehicleinfo.IsUnknown(err):
		return "", summary.Vehicle{}, ErrUnknownTruck
	case err != nil:
		return "", summary.Vehicle{}, err
	}
	switch p.Role {
	case auth.Admin, auth.Bureau, auth.Police, auth.System:
	case auth.Fleet:
		if v.FleetID != p.Tenant {
			return "", summary.Vehicle{}, ErrUnknownTruck
		}
	default:
		return "", summary.Vehicle{}, fmt.Errorf("role %s may not read telemetry: %w", p.Role, apperr.ErrForbidden)
	}
	return n, v, nil
}

// UploadResult counts what an upload did.
type UploadResult struct {
	Samples    int // readings received
	Accepted   int // readings in frames stored now
	Duplicates int // readings in frames already stored (a re-sent batch)
	Frames     int
}

// MaxUpload bounds the readings of one upload.
const MaxUpload = 10000

// Upload stores readings sent by a fleet platform (its own trucks) or the bureau. Readings are
// validated first (the whole upload is refused naming each field at fault, and nothing is
// written), then packed into national-format frames and stored through the same pipeline as
// terminal frames; a re-sent upload stores nothing twice.
func (s *Service) Upload(ctx context.Context, p auth.Principal, rs []Reading) (UploadResult, error) {
	if !p.Is(auth.Fleet, auth.Bureau) {
		return UploadResult{}, fmt.Errorf("role %s may not upload telemetry: %w", p.Role, apperr.ErrForbidden)
	}
	if len(rs) == 0 || len(rs) > MaxUpload {
		return UploadResult{}, apperr.Invalid("samples", fmt.Sprintf("send 1 to %d samples", MaxUpload))
	}
	now := s.now()
	var ve apperr.ValidationError
	byVIN := map[string][]int{}
	var order []string
	for i, r := range rs {
		at := "samples[" + strconv.Itoa(i) + "]."
		vin, err := vehicleid.NormaliseVIN(r.VIN)
		if err != nil {
			ve.Add(at+"vin", err.Error())
			continue
		}
		rs[i].VIN = vin
		switch {
		case r.At.IsZero():
			ve.Add(at+"at", "required: the collection instant, RFC 3339")
		case r.At.After(now.Add(10 * time.Minute)):
			ve.Add(at+"at", "is in the future")
		case r.At.Year() < 2000:
			ve.Add(at+"at", "is before 2000")
		}
		if _, seen := byVIN[vin]; !seen {
			order = append(order, vin)
		}
		byVIN[vin] = append(byVIN[vin], i)
	}
	if err := ve.Err(); err != nil {
		return UploadResult{}, err
	}
	type batch struct {
		vin    string
		frames []*Frame
		groups [][]int
	}
	var batches []batch
	for _, vin := range order {
		if _, _, err := s.authorize(ctx, p, vin); err != nil {
			if errors.Is(err, apperr.ErrNotFound) {
				return UploadResult{}, apperr.Invalid("samples["+strconv.Itoa(byVIN[vin][0])+"].vin", "not a truck of yours in the registry")
			}
			return UploadResult{}, err
		}
		idx := byVIN[vin]
		sub := make([]Reading, len(idx))
		for j, i := range idx {
			sub[j] = rs[i]
		}
		raws, groups, err := EncodeReadings(vin, sub, func(j int) string { return "samples[" + strconv.Itoa(idx[j]) + "]." })
		if err != nil {
			var fe *apperr.ValidationError
			if errors.As(err, &fe) {
				ve.Fields = append(ve.Fields, fe.Fields...)
				continue
			}
			return UploadResult{}, err
		}
		b := batch{vin: vin, groups: groups}
		var f protocol.Frame
		for k, raw := range raws {
			if err := protocol.Decode(raw, &f); err != nil {
				return UploadResult{}, fmt.Errorf("re-decode uploaded frame: %w", err)
			}
			fr := FrameOf(&f, raw, now.UTC(), SourceREST)
			fr.ID = fmt.Sprintf("%s:%d:rest:%d", vin, fr.From.Unix(), len(groups[k]))
			b.frames = append(b.frames, fr)
		}
		batches = append(batches, b)
	}
	if err := ve.Err(); err != nil {
		return UploadResult{}, err
	}
	res := UploadResult{Samples: len(rs)}
	for _, b := range batches {
		ins, err := s.mon.Store(ctx, b.vin, b.frames)
		if err != nil {
			return res, err
		}
		for k, ok := range ins {
			res.Frames++
			if ok {
				res.Accepted += len(b.groups[k])
			} else {
				res.Duplicates += len(b.groups[k])
			}
		}
	}
	return res, nil
}

// MaxRange bounds a samples query.
const MaxRange = 24 * time.Hour

// Samples returns a truck's readings in [from, to], oldest first, each instant once.
func (s *Service) Samples(ctx context.Context, p auth.Principal, vin string, from, to time.Time) ([]Reading, error) {
	vin, _, err := s.authorize(ctx, p, vin)
	if err != nil {
		return nil, err
	}
	if !to.After(from) {
		return nil, apperr.Invalid("to", "must be after from")
	}
	if to.Sub(from) > MaxRange {
		return nil, apperr.Invalid("to", "a query covers at most 24 hours; page through longer periods")
	}
	frames, err := s.store.Frames(ctx, vin, from, to, 20000)
	if err != nil {
		return nil, err
	}
	var out []Reading
	var f protocol.Frame
	for _, fr := range frames {
		if err := (protocol.Decoder{Layout: fr.Layout}).Decode(fr.Raw, &f); err != nil {
			return nil, fmt.Errorf("decode stored frame %s: %w", fr.ID, err)
		}
		start := len(out)
		out = Readings(&f, out)
		for i := start; i < len(out); i++ {
			out[i].Source = fr.Source
		}
	}
	out = slices.DeleteFunc(out, func(r Reading) bool { return r.At.Before(from) || r.At.After(to) })
	slices.SortStableFunc(out, func(a, b Reading) int { return a.At.Compare(b.At) })
	out = slices.CompactFunc(out, func(a, b Reading) bool { return a.At.Equal(b.At) })
	return out, nil
}

// State returns a truck's current monitoring state.
func (s *Service) State(ctx context.Context, p auth.Principal, vin string) (detect.Summary, error) {
	vin, _, err := s.authorize(ctx, p, vin)
	if err != nil {
		return detect.Summary{}, err
	}
	ds, _ := s.mon.Summary(ctx, vin)
	return ds, nil
}

// Alarms returns a truck's alarms, newest first.
func (s *Service) Alarms(ctx context.Context, p auth.Principal, vin string, openOnly bool, limit int) ([]Alarm, error) {
	vin, _, err := s.authorize(ctx, p, vin)
	if err != nil {
		return nil, err
	}
	return s.store.Alarms(ctx, vin, openOnly, limit)
}

// ListAlarms returns the district's alarms, newest first, for the bureau's follow-up (a fleet
// reads its own trucks' alarms one truck at a time).
func (s *Service) ListAlarms(ctx context.Context, p auth.Principal, f AlarmFilter, after cursor.Key, limit int) ([]Alarm, error) {
	if !p.Is(auth.Bureau, auth.Admin) {
		return nil, fmt.Errorf("only the bureau lists the district's alarms: %w", apperr.ErrForbidden)
	}
	if f.Kind != "" && !slices.Contains(detect.Kinds(), f.Kind) {
		return nil, apperr.Invalid("kind", "not an alarm kind: one of "+kindList())
	}
	return s.store.ListAlarms(ctx, f, after, limit)
}

func kindList() string {
	var b strings.Builder
	for i, k := range detect.Kinds() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(k))
	}
	return b.String()
}

// CloseAlarm closes an open alarm by hand (the bureau, e.g. a tamper alarm after inspection).
func (s *Service) CloseAlarm(ctx context.Context, p auth.Principal, vin string, kind detect.Kind) (Alarm, error) {
	if !p.Is(auth.Bureau) {
		return Alarm{}, fmt.Errorf("only the bureau closes alarms: %w", apperr.ErrForbidden)
	}
	if !slices.Contains(detect.Kinds(), kind) {
		return Alarm{}, apperr.Invalid("kind", "not an alarm kind")
	}
	vin, _, err := s.authorize(ctx, p, vin)
	if err != nil {
		return Alarm{}, err
	}
	a, err := s.mon.Close(ctx, vin, kind, p.Subject)
	if errors.Is(err, detect.ErrNotOpen) {
		return Alarm{}, fmt.Errorf("no open %s alarm: %w", kind, apperr.ErrConflict)
	}
	return a, err
}

// SetThresholds replaces the detection thresholds (the bureau).
func (s *Service) SetThresholds(ctx context.Context, p auth.Principal, th detect.Thresholds) error {
	if !p.Is(auth.Bureau) {
		return fmt.Errorf("only the bureau sets thresholds: %w", apperr.ErrForbidden)
	}
	return s.mon.SetThresholds(ctx, th, p.Subject)
}

// Status returns the OBD part of a plate for the checkpoint and rewrites it in Redis. A plate
// the registry does not know, or a vehicle without a terminal, answers an empty part.
func (s *Service) Status(ctx context.Context, p auth.Principal, plate, colour string) (summary.Truck, error) {
	if !p.Is(auth.Police, auth.Bureau, auth.Admin, auth.System) {
		return summary.Truck{}, fmt.Errorf("role %s may not read OBD status: %w", p.Role, apperr.ErrForbidden)
	}
	var ve apperr.ValidationError
	pl, err := vehicleid.NormalisePlate(plate)
	if err != nil {
		ve.Add("plate", err.Error())
	}
	c, err := vehicleid.ParseColour(colour)
	if err != nil {
		ve.Add("colour", err.Error())
	}
	if err := ve.Err(); err != nil {
		return summary.Truck{}, err
	}
	v, err := s.vehicles.ByPlate(ctx, pl, c)
	switch {
	case vehicleinfo.IsUnknown(err):
		return summary.Truck{OpenAlarms: []summary.OBDAlarm{}, OfflineAfterSeconds: s.mon.Thresholds().OfflineAfterSeconds}, nil
	case err != nil:
		return summary.Truck{}, err
	}
	_, st := s.mon.Summary(ctx, v.VIN)
	return st, nil
}
