package sampling

import (
	"context"
	"slices"
	"strings"
)

// siteCache reads sites for the cases of one batch: each site, and the sites each supplier
// supplies, is read once whatever the number of chains that meet it. It lives as long as the
// batch (the chains of one import see one state of the network).
type siteCache struct {
	store    SiteStore
	sites    map[string]Site
	absent   map[string]bool
	supplied map[string][]Site // by supplier id
}

func newSiteCache(st SiteStore) *siteCache {
	return &siteCache{store: st, sites: map[string]Site{}, absent: map[string]bool{}, supplied: map[string][]Site{}}
}

// prefetch reads, level by level, every site up to depth supply steps above starts, and the sites
// their direct suppliers supply: one query per level for all the chains of a batch, where
// walking them one by one costs a query per level per chain.
func (c *siteCache) prefetch(ctx context.Context, starts []Site, depth int) error {
	var direct, frontier []string
	for _, s := range starts {
		direct = append(direct, s.Suppliers...)
	}
	frontier = direct
	for range depth {
		if len(frontier) == 0 {
			break
		}
		found, err := c.get(ctx, frontier)
		if err != nil {
			return err
		}
		var next []string
		for _, s := range found {
			for _, sup := range s.Suppliers {
				if _, ok := c.sites[sup]; !ok && !c.absent[sup] {
					next = append(next, sup)
				}
			}
		}
		frontier = next
	}
	if len(direct) > 0 {
		if _, err := c.suppliedBy(ctx, direct); err != nil {
			return err
		}
	}
	return nil
}

// get is a SiteGetter: the sites of ids that exist, reading only those not read yet.
func (c *siteCache) get(ctx context.Context, ids []string) (map[string]Site, error) {
	var missing []string
	asked := map[string]bool{}
	for _, id := range ids {
		if _, ok := c.sites[id]; !ok && !c.absent[id] && !asked[id] {
			asked[id] = true
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		found, err := c.store.GetSites(ctx, missing)
		if err != nil {
			return nil, err
		}
		for _, id := range missing {
			if s, ok := found[id]; ok {
				c.sites[id] = s
			} else {
				c.absent[id] = true
			}
		}
	}
	out := make(map[string]Site, len(ids))
	for _, id := range ids {
		if s, ok := c.sites[id]; ok {
			out[id] = s
		}
	}
	return out, nil
}

// suppliedBy returns the sites listing any of ids among their suppliers, by id, as
// SiteStore.SitesSuppliedBy does, reading only the suppliers not asked about yet.
func (c *siteCache) suppliedBy(ctx context.Context, ids []string) ([]Site, error) {
	var missing []string
	asked := map[string]bool{}
	for _, id := range ids {
		if _, ok := c.supplied[id]; !ok && !asked[id] {
			asked[id] = true
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		found, err := c.store.SitesSuppliedBy(ctx, missing)
		if err != nil {
			return nil, err
		}
		for _, id := range missing {
			c.supplied[id] = []Site{}
		}
		for _, s := range found {
			for _, sup := range s.Suppliers {
				if l, ok := c.supplied[sup]; ok && asked[sup] {
					c.supplied[sup] = append(l, s)
				}
			}
		}
	}
	seen := map[string]bool{}
	var out []Site
	for _, id := range ids {
		for _, s := range c.supplied[id] {
			if !seen[s.ID] {
				seen[s.ID] = true
				out = append(out, s)
			}
		}
	}
	slices.SortFunc(out, func(a, b Site) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
