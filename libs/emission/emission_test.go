package emission

import "testing"

func TestRank(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"I", 1},
		{"II", 2},
		{"III", 3},
		{"IV", 4},
		{"V", 5},
		{"VI", 6},
		{"VIa", 6},
		{"VIA", 6},
		{"VIb", 7},
		{"VIB", 7},
		// Unknown spellings rank 0: callers refuse them or normalise first.
		{"", 0},
		{"i", 0},
		{"vi", 0},
		{"VII", 0},
		{"VIc", 0},
		{"6", 0},
		{"国六", 0},
		{" VI", 0},
	}
	for _, tc := range tests {
		if got := Rank(tc.in); got != tc.want {
			t.Errorf("Rank(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestRankOrder(t *testing.T) {
	order := []string{"I", "II", "III", "IV", "V", "VIa", "VIb"}
	for i := 1; i < len(order); i++ {
		if Rank(order[i-1]) >= Rank(order[i]) {
			t.Errorf("Rank(%s) = %d is not below Rank(%s) = %d", order[i-1], Rank(order[i-1]), order[i], Rank(order[i]))
		}
	}
	if Rank("VI") != Rank("VIa") {
		t.Error("VI without a letter must rank as VIa")
	}
}
