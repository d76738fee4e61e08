package permitstore

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

type dustDoc struct {
	Hoarding          bool `bson:"hoarding"`
	CoveredStockpiles bool `bson:"covered_stockpiles"`
	WetExcavation     bool `bson:"wet_excavation"`
	PavedRoads        bool `bson:"paved_roads"`
	VehicleWashing    bool `bson:"vehicle_washing"`
	EnclosedTransport bool `bson:"enclosed_transport"`
	OnlineMonitoring  bool `bson:"online_monitoring"`
	Video             bool `bson:"video"`
}

type hoursDoc struct {
	From int `bson:"from"` // minutes after local midnight
	To   int `bson:"to"`
}

type siteDoc struct {
	ID                string     `bson:"_id"`
	Kind              string     `bson:"kind"`
	Name              string     `bson:"name"`
	Address           string     `bson:"address,omitempty"`
	District          string     `bson:"district,omitempty"`
	Area              string     `bson:"area"`
	Box               bbox       `bson:",inline"`
	Developer         string     `bson:"developer,omitempty"`
	Contractor        string     `bson:"contractor,omitempty"`
	PeriodFrom        *time.Time `bson:"period_from,omitempty"`
	PeriodTo          *time.Time `bson:"period_to,omitempty"`
	DustControl       *dustDoc   `bson:"dust_control,omitempty"`
	AcceptedMaterials []string   `bson:"accepted_materials,omitempty"`
	OpeningHours      *hoursDoc  `bson:"opening_hours,omitempty"`
	Fingerprint       string     `bson:"fingerprint"`
	CreatedAt         time.Time  `bson:"created_at"`
	CreatedBy         string     `bson:"created_by"`
	Authority         string     `bson:"authority,omitempty"`
}

func siteToDoc(s permit.Site) (siteDoc, error) {
	area, err := zoneText(s.Area)
	if err != nil {
		return siteDoc{}, err
	}
	d := siteDoc{ID: s.ID, Kind: string(s.Kind), Name: s.Name, Address: s.Address, District: s.District, Area: area, Box: boxOf(s.Area),
		Developer: s.Developer, Contractor: s.Contractor, PeriodFrom: utcPtr(s.PeriodFrom), PeriodTo: utcPtr(s.PeriodTo),
		AcceptedMaterials: s.AcceptedMaterials, Fingerprint: s.Fingerprint, CreatedAt: s.CreatedAt, CreatedBy: s.CreatedBy, Authority: s.Authority}
	if s.Kind == permit.Construction {
		dc := dustDoc(s.DustControl)
		d.DustControl = &dc
	}
	if h := s.OpeningHours; h != nil {
		d.OpeningHours = &hoursDoc{From: h.From, To: h.To}
	}
	return d, nil
}

func siteFromDoc(d siteDoc) (permit.Site, error) {
	area, err := zoneOf(d.Area)
	if err != nil {
		return permit.Site{}, err
	}
	s := permit.Site{ID: d.ID, Kind: permit.SiteKind(d.Kind), Name: d.Name, Address: d.Address, District: d.District, Area: area,
		Developer: d.Developer, Contractor: d.Contractor, PeriodFrom: fromPtr(d.PeriodFrom), PeriodTo: fromPtr(d.PeriodTo),
		AcceptedMaterials: d.AcceptedMaterials, Fingerprint: d.Fingerprint, CreatedAt: d.CreatedAt.UTC(), CreatedBy: d.CreatedBy, Authority: d.Authority}
	if d.DustControl != nil {
		s.DustControl = permit.DustControl(*d.DustControl)
	}
	if h := d.OpeningHours; h != nil {
		s.OpeningHours = &permit.Hours{From: h.From, To: h.To}
	}
	return s, nil
}

// InsertSite implements the permit stores.
func (s *Store) InsertSite(ctx context.Context, site permit.Site) error {
	d, err := siteToDoc(site)
	if err != nil {
		return err
	}
	return insert(ctx, s.sites, d)
}

// GetSite implements the permit stores.
func (s *Store) GetSite(ctx context.Context, id string) (permit.Site, error) {
	return findOne(ctx, s.sites, id, permit.ErrSiteNotFound, siteFromDoc)
}

// ListSites implements the permit stores.
func (s *Store) ListSites(ctx context.Context, kind permit.SiteKind, afterID string, limit int) ([]permit.Site, error) {
	f, opts := paged(filterOf("kind", string(kind)), afterID, limit)
	return findAll(ctx, s.sites, f, opts, siteFromDoc)
}

// SitesAt implements the permit stores: the bounding-box pre-filter.
func (s *Store) SitesAt(ctx context.Context, kind permit.SiteKind, pt geo.Point) ([]permit.Site, error) {
	f := append(filterOf("kind", string(kind)), boxHolds(pt)...)
	return findAll(ctx, s.sites, f, options.Find(), siteFromDoc)
}
