package limits

import (
	_ "embed"
	"fmt"
)

// shipped is the default table; seeds/fuel-limits.json is the same file (a test keeps them
// equal), shown to readers of the repository.
//
//go:embed default.json
var shipped []byte

// Shipped returns the raw default table as shipped with this release.
func Shipped() []byte { return shipped }

// Default parses the shipped table. It fails only if the release was built with a broken
// table, which TestShippedTable prevents.
func Default() (Table, error) {
	t, err := Parse(shipped)
	if err != nil {
		return Table{}, fmt.Errorf("shipped fuel limits: %w", err)
	}
	return t, nil
}
