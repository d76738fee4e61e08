package detect

import (
	"encoding/json"
	"slices"
	"testing"
)

// entries returns the window's instants, oldest first.
func entries(w *Window) []int64 {
	var out []int64
	for i := range w.Len {
		out = append(out, w.at(i).AtMs)
	}
	return out
}

// sums recomputes the window sums from scratch.
func sums(w *Window) (down int64, n int, up, effDown int64) {
	for i := range w.Len {
		e := w.at(i)
		down += int64(e.Down)
		if e.Up != naMilli && e.Up >= w.floor {
			n++
			up += int64(e.Up)
			effDown += int64(e.Down)
		}
	}
	return down, n, up, effDown
}

func TestWindowRing(t *testing.T) {
	e := func(at int64) WindowEntry { return WindowEntry{AtMs: at, Down: int32(at), Up: int32(10 * at)} }
	cases := []struct {
		name string
		do   func(w *Window)
		want []int64
	}{
		{"push in order", func(w *Window) {
			for i := range 4 {
				w.push(e(int64(i)))
			}
		}, []int64{0, 1, 2, 3}},
		{"push past capacity drops the oldest", func(w *Window) {
			for i := range 9 {
				w.push(e(int64(i)))
			}
		}, []int64{4, 5, 6, 7, 8}},
		{"evict up to a cutoff", func(w *Window) {
			for i := range 9 {
				w.push(e(int64(i)))
			}
			w.evict(6)
		}, []int64{7, 8}},
		{"insert in the middle after wrapping", func(w *Window) {
			for _, at := range []int64{0, 2, 4, 6, 8, 10, 12} {
				w.push(e(at))
			}
			w.evict(4)
			if !w.insert(e(7)) {
				panic("insert 7 refused")
			}
		}, []int64{6, 7, 8, 10, 12}},
		{"insert into a full ring drops the oldest", func(w *Window) {
			for _, at := range []int64{0, 2, 4, 6, 8} {
				w.push(e(at))
			}
			w.insert(e(5))
		}, []int64{2, 4, 5, 6, 8}},
		{"insert older than a full ring is refused", func(w *Window) {
			for _, at := range []int64{10, 12, 14, 16, 18} {
				w.push(e(at))
			}
			if w.insert(e(9)) {
				panic("insert 9 accepted")
			}
		}, []int64{10, 12, 14, 16, 18}},
		{"insert of an existing instant is refused", func(w *Window) {
			w.push(e(1))
			w.push(e(2))
			if w.insert(e(1)) {
				panic("duplicate accepted")
			}
		}, []int64{1, 2}},
		{"insert at both ends", func(w *Window) {
			w.push(e(5))
			w.insert(e(3))
			w.insert(e(4))
			w.insert(e(6))
		}, []int64{3, 4, 5, 6}},
		{"shrink keeps the newest", func(w *Window) {
			for i := range 5 {
				w.push(e(int64(i)))
			}
			w.prepare(3, 0, false)
		}, []int64{2, 3, 4}},
		{"grow keeps everything", func(w *Window) {
			for i := range 5 {
				w.push(e(int64(i)))
			}
			w.prepare(8, 0, false)
			w.push(e(5))
		}, []int64{0, 1, 2, 3, 4, 5}},
		{"corrupt snapshot restarts empty", func(w *Window) {
			w.push(e(1))
			w.Head = 99
			w.prepare(5, 0, true)
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var w Window
			w.prepare(5, 0, true)
			tc.do(&w)
			if got := entries(&w); !slices.Equal(got, tc.want) {
				t.Fatalf("entries %v, want %v", got, tc.want)
			}
			down, n, up, effDown := sums(&w)
			if w.sumDown != down || w.effN != n || w.effUp != up || w.effDown != effDown {
				t.Fatalf("running sums %d %d %d %d, want %d %d %d %d", w.sumDown, w.effN, w.effUp, w.effDown, down, n, up, effDown)
			}
		})
	}
}

func TestWindowFloorChangeAndRestore(t *testing.T) {
	var w Window
	w.prepare(10, 50_000, true)
	for i := range 8 {
		w.push(WindowEntry{AtMs: int64(i), Down: 1000, Up: int32(i) * 20_000})
	}
	if w.effN != 5 { // Up 60, 80, ... 140 ppm
		t.Fatalf("entries above 50 ppm: %d, want 5", w.effN)
	}
	w.prepare(10, 100_000, false)
	if w.effN != 3 {
		t.Fatalf("entries above 100 ppm: %d, want 3", w.effN)
	}
	b, err := json.Marshal(&w)
	if err != nil {
		t.Fatal(err)
	}
	var back Window
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.prepare(10, 100_000, false)
	if back.sumDown != w.sumDown || back.effN != w.effN || back.effUp != w.effUp {
		t.Fatalf("restored sums %d %d %d, want %d %d %d", back.sumDown, back.effN, back.effUp, w.sumDown, w.effN, w.effUp)
	}
}

func TestSeenSet(t *testing.T) {
	var s SeenSet
	s.advance(1000, true)
	s.advance(1001, false)
	s.advance(1003, false)
	cases := []struct {
		sec            int64
		dup, wantInSpn bool
	}{
		{1001, true, true},
		{1002, false, true},
		{1002, true, true},
		{1003 - seenSpan + 1, false, true},
		{1003 - seenSpan, false, false},
		{1004, false, false},
	}
	for _, tc := range cases {
		dup, in := s.late(tc.sec)
		if dup != tc.dup || in != tc.wantInSpn {
			t.Errorf("late(%d) = %v, %v, want %v, %v", tc.sec, dup, in, tc.dup, tc.wantInSpn)
		}
	}
	// bits of seconds that left the span are forgotten
	s.advance(1001+seenSpan, false)
	if dup, in := s.late(1003 + 10); dup || !in {
		t.Errorf("after advancing: late(1013) = %v, %v, want false, true", dup, in)
	}
	if dup, _ := s.late(1001 + seenSpan - 1); dup {
		t.Error("a second never seen in the new span reported as seen")
	}
}
