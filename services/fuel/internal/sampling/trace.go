package sampling

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

// Link is a site found on a trace-back walk.
type Link struct {
	SiteID     string
	Name       string
	Kind       Kind
	Unlicensed bool
	// Depth is how many supply steps up from the start (1: a direct supplier); Supplies is the
	// site one step down the chain that this one supplies. For an exposed site, Depth is 0 and
	// Supplies names the shared supplier it is supplied by.
	Depth    int
	Supplies string
}

// Chain is the result of a trace-back walk from a site up its supply chain.
type Chain struct {
	SiteID string
	// Upstream lists the suppliers, nearest first (breadth-first).
	Upstream []Link
	// Exposed lists the other sites the direct suppliers also supply: where the same batch may
	// have gone.
	Exposed []Link
	// Cycles lists supply loops met on the walk ("A <- B <- A": A is supplied by B, which is
	// supplied by A); a loop ends that path of the walk.
	Cycles []string
	// Missing lists supplier ids that name no registered site.
	Missing []string
	// Truncated is set when the walk stopped at MaxDepth with suppliers left to visit.
	Truncated bool
	MaxDepth  int
}

// SiteGetter fetches sites by id; ids it does not know are absent from the map.
type SiteGetter func(ctx context.Context, ids []string) (map[string]Site, error)

// Walk traces start up its supply chain, breadth-first, at most maxDepth steps, following only
// suppliers that deal in product (all suppliers when product is empty). A supplier that is
// already on the path below it closes a cycle: it is reported and not walked again. A site
// reached by two paths (a refinery supplying two of the station's depots) is listed once.
func Walk(ctx context.Context, start Site, product limits.Product, maxDepth int, get SiteGetter) (Chain, error) {
	c := Chain{SiteID: start.ID, MaxDepth: maxDepth}
	type step struct {
		id   string
		path []string // ids from start down to the site this one supplies
	}
	relevant := func(s Site) bool { return product == "" || s.Kind.Handles(product) }
	var frontier []step
	for _, id := range start.Suppliers {
		frontier = append(frontier, step{id, []string{start.ID}})
	}
	visited := map[string]bool{start.ID: true}
	missing := map[string]bool{}
	for depth := 1; len(frontier) > 0; depth++ {
		if depth > maxDepth {
			c.Truncated = true
			break
		}
		ids := make([]string, 0, len(frontier))
		for _, st := range frontier {
			ids = append(ids, st.id)
		}
		found, err := get(ctx, ids)
		if err != nil {
			return c, fmt.Errorf("trace back %s: %w", start.ID, err)
		}
		var next []step
		for _, st := range frontier {
			if slices.Contains(st.path, st.id) {
				loop := append(slices.Clone(st.path[slices.Index(st.path, st.id):]), st.id)
				c.Cycles = append(c.Cycles, strings.Join(loop, " <- "))
				continue
			}
			if visited[st.id] {
				continue
			}
			s, ok := found[st.id]
			if !ok {
				if !missing[st.id] {
					missing[st.id] = true
					c.Missing = append(c.Missing, st.id)
				}
				continue
			}
			if !relevant(s) {
				continue
			}
			visited[st.id] = true
			c.Upstream = append(c.Upstream, Link{SiteID: s.ID, Name: s.Name, Kind: s.Kind, Unlicensed: s.Unlicensed, Depth: depth, Supplies: st.path[len(st.path)-1]})
			path := append(slices.Clone(st.path), s.ID)
			for _, sup := range s.Suppliers {
				next = append(next, step{sup, path})
			}
		}
		frontier = next
	}
	return c, nil
}

// exposedFrom lists the sites (other than the start and its upstream) supplied by the chain's
// direct suppliers and dealing in product.
func exposedFrom(c Chain, supplied []Site, product limits.Product) []Link {
	direct := map[string]bool{}
	skip := map[string]bool{c.SiteID: true}
	for _, l := range c.Upstream {
		skip[l.SiteID] = true
		if l.Depth == 1 {
			direct[l.SiteID] = true
		}
	}
	var out []Link
	for _, s := range supplied {
		if skip[s.ID] || (product != "" && !s.Kind.Handles(product)) {
			continue
		}
		for _, sup := range s.Suppliers {
			if direct[sup] {
				out = append(out, Link{SiteID: s.ID, Name: s.Name, Kind: s.Kind, Unlicensed: s.Unlicensed, Supplies: sup})
				skip[s.ID] = true
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b Link) int { return strings.Compare(a.SiteID, b.SiteID) })
	return out
}

// directSuppliers returns the ids of the chain's direct suppliers.
func (c Chain) directSuppliers() []string {
	var out []string
	for _, l := range c.Upstream {
		if l.Depth == 1 {
			out = append(out, l.SiteID)
		}
	}
	return out
}

// FollowUp is a suggested sample up the chain of a failing one.
type FollowUp struct {
	SiteID   string
	Name     string
	Kind     Kind
	Product  limits.Product
	Priority int // 1 first: the direct supplier
	Reason   string
}

// FollowUps suggests sampling product at every upstream site of the chain, nearest first: the
// failing batch came from one of them (task 14: 倒查不合格油品和车用尿素来源).
func FollowUps(c Chain, product limits.Product, sampleID string) []FollowUp {
	out := make([]FollowUp, 0, len(c.Upstream))
	for _, l := range c.Upstream {
		if !l.Kind.Handles(product) {
			continue
		}
		out = append(out, FollowUp{SiteID: l.SiteID, Name: l.Name, Kind: l.Kind, Product: product, Priority: l.Depth,
			Reason: fmt.Sprintf("supplies %s, %d step(s) up from the site of failing sample %s", l.Supplies, l.Depth, sampleID)})
	}
	return out
}
