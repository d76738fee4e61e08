package sensingstore

import (
	"github.com/clearsky/clearsky/libs/outbox"

	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensing"
)

type stationDoc struct {
	ID                   string    `bson:"_id"`
	Name                 string    `bson:"name"`
	Lat                  float64   `bson:"lat"`
	Lon                  float64   `bson:"lon"`
	Site                 string    `bson:"site"`
	Lane                 string    `bson:"lane"`
	Device               string    `bson:"device"`
	OperatorID           string    `bson:"operator_id"`
	CalibratedOn         time.Time `bson:"calibrated_on"`
	CalibrationValidDays int       `bson:"calibration_valid_days"`
	SlopePct             float64   `bson:"slope_pct"`
	CreatedAt            time.Time `bson:"created_at"`
	UpdatedAt            time.Time `bson:"updated_at"`
	UpdatedBy            string    `bson:"updated_by"`
	Version              int64     `bson:"version"`
}

func stationToDoc(s sensing.Station) stationDoc {
	return stationDoc{ID: s.ID, Name: s.Name, Lat: s.Lat, Lon: s.Lon, Site: s.Site, Lane: s.Lane, Device: s.Device, OperatorID: s.OperatorID,
		CalibratedOn: s.CalibratedOn.UTC(), CalibrationValidDays: s.CalibrationValidDays, SlopePct: s.SlopePct, CreatedAt: s.CreatedAt,
		UpdatedAt: s.UpdatedAt, UpdatedBy: s.UpdatedBy, Version: s.Version}
}

func stationFromDoc(d stationDoc) sensing.Station {
	return sensing.Station{ID: d.ID, Name: d.Name, Lat: d.Lat, Lon: d.Lon, Site: d.Site, Lane: d.Lane, Device: d.Device, OperatorID: d.OperatorID,
		CalibratedOn: d.CalibratedOn.UTC(), CalibrationValidDays: d.CalibrationValidDays, SlopePct: d.SlopePct, CreatedAt: d.CreatedAt.UTC(),
		UpdatedAt: d.UpdatedAt.UTC(), UpdatedBy: d.UpdatedBy, Version: d.Version}
}

type reasonDoc struct {
	Code    string `bson:"code"`
	Message string `bson:"message"`
}

type resultDoc struct {
	Parameter string  `bson:"parameter"`
	Value     float64 `bson:"value"`
	Limit     float64 `bson:"limit"`
	Unit      string  `bson:"unit"`
	Standard  string  `bson:"standard"`
	Clause    string  `bson:"clause,omitempty"`
	Exceeded  bool    `bson:"exceeded"`
	Confirm   bool    `bson:"confirm,omitempty"`
}

// readingDoc is a stored reading. It is kept lean because FerretDB's insert rate falls with
// every field and subdocument: the judgement keeps its verdict, table version, reasons and the
// exceedances in full (the evidence), while the results within their limits are recomputed
// from the table version on read (sensing.Service.Explain). The chain fields are always written,
// empty included, so that $group finds them on every document.
type readingDoc struct {
	Key               string      `bson:"_id"`
	ReadingID         string      `bson:"reading_id"`
	StationID         string      `bson:"station_id"`
	OperatorID        string      `bson:"operator_id"`
	Plate             string      `bson:"plate"`
	PlateColour       string      `bson:"plate_colour"`
	MeasuredAt        time.Time   `bson:"measured_at"`
	CO                *float64    `bson:"co_pct,omitempty"`
	HC                *float64    `bson:"hc_ppm,omitempty"`
	NO                *float64    `bson:"no_ppm,omitempty"`
	Opacity           *float64    `bson:"opacity_pct,omitempty"`
	Ringelmann        *float64    `bson:"ringelmann,omitempty"`
	SpeedKmh          float64     `bson:"speed_kmh"`
	AccelMS2          float64     `bson:"accel_ms2"`
	WindMS            *float64    `bson:"wind_ms,omitempty"`
	TemperatureC      *float64    `bson:"temperature_c,omitempty"`
	HumidityPct       *float64    `bson:"humidity_pct,omitempty"`
	Rain              bool        `bson:"rain,omitempty"`
	Fog               bool        `bson:"fog,omitempty"`
	Lane              string      `bson:"lane,omitempty"`
	Photos            []string    `bson:"photos,omitempty"`
	Hash              string      `bson:"hash"`
	Verdict           string      `bson:"verdict"`
	TableVersion      string      `bson:"table_version,omitempty"`
	Reasons           []reasonDoc `bson:"reasons,omitempty"`
	Exceedances       []resultDoc `bson:"exceedances,omitempty"`
	VIN               string      `bson:"vin"`
	FuelType          string      `bson:"fuel_type"`
	Maker             string      `bson:"maker"`
	FleetID           string      `bson:"fleet_id"`
	InspectionStation string      `bson:"inspection_station"`
	RegisteredPlace   string      `bson:"registered_place"`
	ReceivedAt        time.Time   `bson:"received_at"`
	UploadedBy        string      `bson:"uploaded_by"`
	JudgedAt          time.Time   `bson:"judged_at"`
}

func readingToDoc(r sensing.Reading) readingDoc {
	d := readingDoc{Key: r.Key, ReadingID: r.ReadingID, StationID: r.StationID, OperatorID: r.OperatorID, Plate: r.Plate,
		PlateColour: string(r.PlateColour), MeasuredAt: r.MeasuredAt.UTC(),
		CO: r.Values.CO, HC: r.Values.HC, NO: r.Values.NO, Opacity: r.Values.Opacity, Ringelmann: r.Values.Ringelmann,
		SpeedKmh: r.SpeedKmh, AccelMS2: r.AccelMS2, WindMS: r.WindMS, TemperatureC: r.TemperatureC, HumidityPct: r.HumidityPct,
		Rain: r.Rain, Fog: r.Fog, Lane: r.Lane, Photos: r.Photos, Hash: r.Hash, Verdict: string(r.Verdict), TableVersion: r.Judgement.Version,
		VIN: r.Trace.VIN, FuelType: r.Trace.FuelType, Maker: r.Trace.Maker, FleetID: r.Trace.FleetID,
		InspectionStation: r.Trace.InspectionStation, RegisteredPlace: r.Trace.RegisteredPlace, ReceivedAt: r.ReceivedAt.UTC(),
		UploadedBy: r.UploadedBy, JudgedAt: r.JudgedAt.UTC()}
	for _, x := range r.Judgement.Reasons {
		d.Reasons = append(d.Reasons, reasonDoc(x))
	}
	for _, x := range r.Judgement.Exceedances() {
		d.Exceedances = append(d.Exceedances, resultDoc{Parameter: string(x.Parameter), Value: x.Value, Limit: x.Limit, Unit: x.Unit,
			Standard: x.Standard, Clause: x.Clause, Exceeded: true, Confirm: x.Confirm})
	}
	return d
}

func readingFromDoc(d readingDoc) sensing.Reading {
	r := sensing.Reading{Key: d.Key, ReadingID: d.ReadingID, StationID: d.StationID, OperatorID: d.OperatorID, Plate: d.Plate,
		PlateColour: vehicleid.Colour(d.PlateColour), MeasuredAt: d.MeasuredAt.UTC(),
		Values:   limits.Values{CO: d.CO, HC: d.HC, NO: d.NO, Opacity: d.Opacity, Ringelmann: d.Ringelmann},
		SpeedKmh: d.SpeedKmh, AccelMS2: d.AccelMS2, WindMS: d.WindMS, TemperatureC: d.TemperatureC, HumidityPct: d.HumidityPct,
		Rain: d.Rain, Fog: d.Fog, Lane: d.Lane, Photos: d.Photos, Hash: d.Hash, Verdict: sensing.Verdict(d.Verdict),
		Trace: sensing.Trace{VIN: d.VIN, FuelType: d.FuelType, Maker: d.Maker, FleetID: d.FleetID, InspectionStation: d.InspectionStation,
			RegisteredPlace: d.RegisteredPlace},
		ReceivedAt: d.ReceivedAt.UTC(), UploadedBy: d.UploadedBy}
	if !d.JudgedAt.IsZero() {
		r.JudgedAt = d.JudgedAt.UTC()
	}
	r.Judgement = judgementFromDoc(d)
	return r
}

// judgementFromDoc restores the stored part of a judgement: verdict, version, reasons and the
// exceedances (the results within their limits are not stored).
func judgementFromDoc(d readingDoc) limits.Judgement {
	j := limits.Judgement{Verdict: limits.Verdict(d.Verdict), Version: d.TableVersion}
	switch sensing.Verdict(d.Verdict) {
	case sensing.UnknownVehicle:
		j.Verdict = limits.NotJudged
	case sensing.Pending:
		j.Verdict = ""
	}
	for _, x := range d.Reasons {
		j.Reasons = append(j.Reasons, limits.Reason(x))
	}
	for _, x := range d.Exceedances {
		j.Results = append(j.Results, limits.Result{Parameter: limits.Parameter(x.Parameter), Value: x.Value, Limit: x.Limit, Unit: x.Unit,
			Standard: x.Standard, Clause: x.Clause, Exceeded: true, Confirm: x.Confirm})
	}
	return j
}

type exceedanceDoc struct {
	Key         string    `bson:"_id"`
	ReadingKey  string    `bson:"reading_key"`
	ReadingID   string    `bson:"reading_id"`
	StationID   string    `bson:"station_id"`
	Plate       string    `bson:"plate"`
	PlateColour string    `bson:"plate_colour"`
	PlateKey    string    `bson:"plate_key"`
	Pollutant   string    `bson:"pollutant"`
	Value       float64   `bson:"value"`
	Limit       float64   `bson:"limit"`
	Unit        string    `bson:"unit"`
	Standard    string    `bson:"standard"`
	MeasuredAt  time.Time `bson:"measured_at"`
}

func exceedanceToDoc(e sensing.Exceedance) exceedanceDoc {
	return exceedanceDoc{Key: e.Key, ReadingKey: e.ReadingKey, ReadingID: e.ReadingID, StationID: e.StationID, Plate: e.Plate,
		PlateColour: string(e.PlateColour), PlateKey: e.PlateKey(), Pollutant: string(e.Pollutant), Value: e.Value, Limit: e.Limit,
		Unit: e.Unit, Standard: e.Standard, MeasuredAt: e.MeasuredAt.UTC()}
}

func exceedanceFromDoc(d exceedanceDoc) sensing.Exceedance {
	return sensing.Exceedance{Key: d.Key, ReadingKey: d.ReadingKey, ReadingID: d.ReadingID, StationID: d.StationID, Plate: d.Plate,
		PlateColour: vehicleid.Colour(d.PlateColour), Pollutant: limits.Parameter(d.Pollutant), Value: d.Value, Limit: d.Limit,
		Unit: d.Unit, Standard: d.Standard, MeasuredAt: d.MeasuredAt.UTC()}
}

type triggerDoc struct {
	ReadingKey string    `bson:"reading_key"`
	ReadingID  string    `bson:"reading_id"`
	StationID  string    `bson:"station_id"`
	MeasuredAt time.Time `bson:"measured_at"`
	Value      float64   `bson:"value"`
	Limit      float64   `bson:"limit"`
	Unit       string    `bson:"unit"`
}

type repairDoc struct {
	ShopID      string    `bson:"shop_id"`
	Reference   string    `bson:"reference"`
	Description string    `bson:"description,omitempty"`
	ReportedAt  time.Time `bson:"reported_at"`
	ReportedBy  string    `bson:"reported_by"`
}

type entryDoc struct {
	Event     string    `bson:"event"`
	From      string    `bson:"from"`
	To        string    `bson:"to"`
	By        string    `bson:"by"`
	Role      string    `bson:"role"`
	Tenant    string    `bson:"tenant,omitempty"`
	At        time.Time `bson:"at"`
	Reason    string    `bson:"reason,omitempty"`
	Reference string    `bson:"reference,omitempty"`
	Shop      string    `bson:"shop,omitempty"`
}

// caseDoc is a stored case. OpenKey makes "one open case per plate and pollutant" a unique
// index without a partial filter (FerretDB has none): plate key and pollutant while open, the
// case id once ended.
type caseDoc struct {
	ID                string       `bson:"_id"`
	Plate             string       `bson:"plate"`
	PlateColour       string       `bson:"plate_colour"`
	PlateKey          string       `bson:"plate_key"`
	Pollutant         string       `bson:"pollutant"`
	State             string       `bson:"state"`
	OpenKey           string       `bson:"open_key"`
	OpenedAt          time.Time    `bson:"opened_at"`
	StateSince        time.Time    `bson:"state_since"`
	EndedAt           *time.Time   `bson:"ended_at,omitempty"`
	Triggers          []triggerDoc `bson:"triggers"`
	VIN               string       `bson:"vin"`
	FuelType          string       `bson:"fuel_type"`
	Maker             string       `bson:"maker"`
	FleetID           string       `bson:"fleet_id"`
	InspectionStation string       `bson:"inspection_station"`
	RegisteredPlace   string       `bson:"registered_place"`
	RepairShopID      string       `bson:"repair_shop_id"`
	Repair            *repairDoc   `bson:"repair,omitempty"`
	RetestReadingKey  string       `bson:"retest_reading_key,omitempty"`
	History           []entryDoc   `bson:"history"`
	UpdatedAt         time.Time    `bson:"updated_at"`
	Version           int64        `bson:"version"`
	// The outbox (libs/outbox): every transition adds the record that the plate's part must be
	// published.
	outbox.Fields `bson:",inline"`
}

func entryToDoc(e sensing.Entry) entryDoc {
	return entryDoc{Event: e.Event, From: string(e.From), To: string(e.To), By: e.By, Role: string(e.Role), Tenant: e.Tenant, At: e.At.UTC(),
		Reason: e.Reason, Reference: e.Reference, Shop: e.Shop}
}

func repairToDoc(r *sensing.RepairReport) *repairDoc {
	if r == nil {
		return nil
	}
	return &repairDoc{ShopID: r.ShopID, Reference: r.Reference, Description: r.Description, ReportedAt: r.ReportedAt.UTC(), ReportedBy: r.ReportedBy}
}

func caseToDoc(c sensing.Case) caseDoc {
	d := caseDoc{ID: c.ID, Plate: c.Plate, PlateColour: string(c.PlateColour), PlateKey: c.PlateKey(), Pollutant: string(c.Pollutant),
		State: string(c.State), OpenKey: c.OpenKey(), OpenedAt: c.OpenedAt.UTC(), StateSince: c.StateSince.UTC(), Triggers: []triggerDoc{},
		VIN: c.Trace.VIN, FuelType: c.Trace.FuelType, Maker: c.Trace.Maker, FleetID: c.Trace.FleetID, InspectionStation: c.Trace.InspectionStation,
		RegisteredPlace: c.Trace.RegisteredPlace, RepairShopID: c.RepairShopID, Repair: repairToDoc(c.Repair), RetestReadingKey: c.RetestReadingKey,
		History: []entryDoc{}, UpdatedAt: c.UpdatedAt.UTC(), Version: c.Version}
	if !c.EndedAt.IsZero() {
		t := c.EndedAt.UTC()
		d.EndedAt = &t
	}
	for _, t := range c.Triggers {
		d.Triggers = append(d.Triggers, triggerDoc{ReadingKey: t.ReadingKey, ReadingID: t.ReadingID, StationID: t.StationID,
			MeasuredAt: t.MeasuredAt.UTC(), Value: t.Value, Limit: t.Limit, Unit: t.Unit})
	}
	for _, e := range c.History {
		d.History = append(d.History, entryToDoc(e))
	}
	return d
}

func caseFromDoc(d caseDoc) sensing.Case {
	c := sensing.Case{ID: d.ID, Plate: d.Plate, PlateColour: vehicleid.Colour(d.PlateColour), Pollutant: limits.Parameter(d.Pollutant),
		State: sensing.State(d.State), OpenedAt: d.OpenedAt.UTC(), StateSince: d.StateSince.UTC(),
		Trace: sensing.Trace{VIN: d.VIN, FuelType: d.FuelType, Maker: d.Maker, FleetID: d.FleetID, InspectionStation: d.InspectionStation,
			RegisteredPlace: d.RegisteredPlace},
		RepairShopID: d.RepairShopID, RetestReadingKey: d.RetestReadingKey, UpdatedAt: d.UpdatedAt.UTC(), Version: d.Version}
	if d.EndedAt != nil {
		c.EndedAt = d.EndedAt.UTC()
	}
	if r := d.Repair; r != nil {
		c.Repair = &sensing.RepairReport{ShopID: r.ShopID, Reference: r.Reference, Description: r.Description, ReportedAt: r.ReportedAt.UTC(), ReportedBy: r.ReportedBy}
	}
	for _, t := range d.Triggers {
		c.Triggers = append(c.Triggers, sensing.Trigger{ReadingKey: t.ReadingKey, ReadingID: t.ReadingID, StationID: t.StationID,
			MeasuredAt: t.MeasuredAt.UTC(), Value: t.Value, Limit: t.Limit, Unit: t.Unit})
	}
	for _, e := range d.History {
		c.History = append(c.History, sensing.Entry{Event: e.Event, From: sensing.State(e.From), To: sensing.State(e.To), By: e.By,
			Role: auth.Role(e.Role), Tenant: e.Tenant, At: e.At.UTC(), Reason: e.Reason, Reference: e.Reference, Shop: e.Shop})
	}
	return c
}

type jobDoc struct {
	ID          string    `bson:"_id"`
	ReadingKeys []string  `bson:"reading_keys"`
	CreatedAt   time.Time `bson:"created_at"`
	NotBefore   time.Time `bson:"not_before"`
	Attempts    int       `bson:"attempts"`
}
