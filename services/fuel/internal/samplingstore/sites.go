package samplingstore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
)

type siteDoc struct {
	ID             string     `bson:"_id"`
	Kind           string     `bson:"kind"`
	Name           string     `bson:"name"`
	Operator       string     `bson:"operator,omitempty"`
	Lat            float64    `bson:"lat"`
	Lon            float64    `bson:"lon"`
	Address        string     `bson:"address,omitempty"`
	Licence        string     `bson:"licence,omitempty"`
	Unlicensed     bool       `bson:"unlicensed"`
	InspectionRef  string     `bson:"inspection_ref,omitempty"`
	OwnDepot       bool       `bson:"own_depot,omitempty"`
	Suppliers      []string   `bson:"suppliers"`
	OperatingSince time.Time  `bson:"operating_since"`
	ClosedOn       *time.Time `bson:"closed_on,omitempty"`
	Note           string     `bson:"note,omitempty"`
	CreatedAt      time.Time  `bson:"created_at"`
	UpdatedAt      time.Time  `bson:"updated_at"`
	UpdatedBy      string     `bson:"updated_by"`
	Version        int64      `bson:"version"`
}

func toSiteDoc(s sampling.Site) siteDoc {
	d := siteDoc{ID: s.ID, Kind: string(s.Kind), Name: s.Name, Operator: s.Operator, Lat: s.Lat, Lon: s.Lon, Address: s.Address,
		Licence: s.Licence, Unlicensed: s.Unlicensed, InspectionRef: s.InspectionRef, OwnDepot: s.OwnDepot, Suppliers: s.Suppliers,
		OperatingSince: s.OperatingSince.UTC(), Note: s.Note, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, UpdatedBy: s.UpdatedBy, Version: s.Version}
	if d.Suppliers == nil {
		d.Suppliers = []string{}
	}
	if !s.ClosedOn.IsZero() {
		t := s.ClosedOn.UTC()
		d.ClosedOn = &t
	}
	return d
}

func (d siteDoc) site() sampling.Site {
	s := sampling.Site{ID: d.ID, Kind: sampling.Kind(d.Kind), Name: d.Name, Operator: d.Operator, Lat: d.Lat, Lon: d.Lon, Address: d.Address,
		Licence: d.Licence, Unlicensed: d.Unlicensed, InspectionRef: d.InspectionRef, OwnDepot: d.OwnDepot, Suppliers: d.Suppliers,
		OperatingSince: d.OperatingSince.UTC(), Note: d.Note, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), UpdatedBy: d.UpdatedBy, Version: d.Version}
	if len(s.Suppliers) == 0 {
		s.Suppliers = nil
	}
	if d.ClosedOn != nil {
		s.ClosedOn = d.ClosedOn.UTC()
	}
	return s
}

// InsertSite implements sampling.SiteStore.
func (s *Store) InsertSite(ctx context.Context, site sampling.Site) error {
	return mongodb.InsertOne(ctx, s.sites, toSiteDoc(site), sampling.ErrSiteExists)
}

// GetSite implements sampling.SiteStore.
func (s *Store) GetSite(ctx context.Context, id string) (sampling.Site, error) {
	d, err := mongodb.FindOne[siteDoc](ctx, s.sites, bson.D{{Key: "_id", Value: id}}, sampling.ErrSiteNotFound)
	if err != nil {
		return sampling.Site{}, err
	}
	return d.site(), nil
}

// GetSites implements sampling.SiteStore.
func (s *Store) GetSites(ctx context.Context, ids []string) (map[string]sampling.Site, error) {
	out := map[string]sampling.Site{}
	if len(ids) == 0 {
		return out, nil
	}
	cur, err := s.sites.Find(ctx, bson.D{{Key: "_id", Value: in(ids)}})
	if err != nil {
		return nil, fmt.Errorf("find sites: %w", err)
	}
	sites, err := all(ctx, cur, siteDoc.site)
	if err != nil {
		return nil, fmt.Errorf("sites: %w", err)
	}
	for _, site := range sites {
		out[site.ID] = site
	}
	return out, nil
}

// ReplaceSite implements sampling.SiteStore.
func (s *Store) ReplaceSite(ctx context.Context, site sampling.Site) error {
	res, err := s.sites.ReplaceOne(ctx, bson.D{{Key: "_id", Value: site.ID}, {Key: "version", Value: site.Version - 1}}, toSiteDoc(site))
	if err != nil {
		return fmt.Errorf("replace site %s: %w", site.ID, err)
	}
	if res.MatchedCount == 0 {
		return sampling.ErrVersionConflict
	}
	return nil
}

// ListSites implements sampling.SiteStore.
func (s *Store) ListSites(ctx context.Context, f sampling.SiteFilter, afterID string, limit int) ([]sampling.Site, error) {
	filter := bson.D{}
	if f.Kind != "" {
		filter = append(filter, bson.E{Key: "kind", Value: string(f.Kind)})
	}
	if f.Unlicensed != nil {
		filter = append(filter, bson.E{Key: "unlicensed", Value: *f.Unlicensed})
	}
	if f.Supplier != "" {
		filter = append(filter, bson.E{Key: "suppliers", Value: f.Supplier})
	}
	idCond := bson.D{}
	if f.IDs != nil {
		idCond = append(idCond, bson.E{Key: "$in", Value: f.IDs})
	}
	if afterID != "" {
		idCond = append(idCond, bson.E{Key: "$gt", Value: afterID})
	}
	if len(idCond) > 0 {
		filter = append(filter, bson.E{Key: "_id", Value: idCond})
	}
	cur, err := s.sites.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list sites: %w", err)
	}
	return all(ctx, cur, siteDoc.site)
}

// SitesSuppliedBy implements sampling.SiteStore.
func (s *Store) SitesSuppliedBy(ctx context.Context, ids []string) ([]sampling.Site, error) {
	cur, err := s.sites.Find(ctx, bson.D{{Key: "suppliers", Value: in(ids)}}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("find supplied sites: %w", err)
	}
	return all(ctx, cur, siteDoc.site)
}

// SitesOfKind implements sampling.SiteStore.
func (s *Store) SitesOfKind(ctx context.Context, k sampling.Kind) ([]sampling.Site, error) {
	cur, err := s.sites.Find(ctx, bson.D{{Key: "kind", Value: string(k)}}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("find sites of kind %s: %w", k, err)
	}
	return all(ctx, cur, siteDoc.site)
}
