package csvimport

import (
	"errors"
	"strings"
	"testing"

	"github.com/clearsky/clearsky/libs/apperr"
)

// FuzzParse: whatever a lab sends, Parse answers a file or a validation error naming rows and
// columns; it never panics and never fails any other way (which the edge would answer 500).
// The seeds are real layouts (per parameter, per sample, semicolons, a BOM) and the stray
// quote that once panicked the parser.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"\ufeffsample_id,site_id,product,grade,sampled_at,parameter,value,unit\n" +
			"L1-001,st-1,gasoline,92,2026-03-05T10:30:00+08:00,olefins,16.2,%(v/v)\n" +
			"L1-001,st-1,gasoline,92,2026-03-05T10:30:00+08:00,sulfur,8,ppm\n\n" +
			"L1-002,dep-1,diesel,0,2026-03-05 11:00,cetane_number,52,\n",
		"sample_id;site_id;product;grade;sampled_at;sulfur (mg/kg);olefins [%];research_octane;cetane_number\n" +
			"L2-001;st-2;gasoline;95#;2026-03-06T09:00:00+08:00;9;15;95.4;\n" +
			"L2-002;dep-2;diesel;0号;2026-03-06T09:30:00+08:00;7;;;51\n",
		"sample_id,site_id,product,grade,sampled_at,parameter,value,unit\nA,s,gasoline,92,2026-03-01T00:00:00Z,sulfur,1\"0,ppm\n",
		"sample_id,site_id,product,sampled_at,parameter,value,unit\n\"A,s,urea,2026-03-01T00:00:00Z,urea_content,32.5,%\n",
		"sample_id,site_id,product,sampled_at,sulfur in ppm\nA,s,gasoline,2026-03-01T00:00:00Z,1\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(strings.NewReader(string(data)))
		if err != nil {
			if !errors.Is(err, apperr.ErrInvalid) {
				t.Fatalf("Parse failed with %v (%T), not a validation error", err, err)
			}
			var ve *apperr.ValidationError
			if errors.As(err, &ve) {
				for _, fe := range ve.Fields {
					if fe.Field == "" || fe.Message == "" {
						t.Fatalf("an unnamed error: %+v", fe)
					}
				}
			}
			return
		}
		_ = file.Inputs()
	})
}
