package detect

import "math"

// NOx sensor range of GB 17691-2018 annex Q (J1939 SPN 3216/3226): values
// outside it cannot come from a real sensor.
const (
	noxMinPPM = -200
	noxMaxPPM = 3012.75
)

// naMilli marks an unavailable upstream NOx in a WindowEntry.
const naMilli = math.MinInt32

// toMilli converts ppm to integer thousandths of a ppm. Callers check the
// value is within the sensor range first, so it fits an int32.
func toMilli(ppm float64) int32 { return int32(math.Round(ppm * 1000)) }

// WindowEntry is one loaded sample in the NOx window: 16 bytes.
type WindowEntry struct {
	// AtMs is the collection instant in Unix milliseconds.
	AtMs int64 `json:"t"`
	// Down is the downstream NOx in thousandths of a ppm.
	Down int32 `json:"d"`
	// Up is the upstream NOx in thousandths of a ppm, math.MinInt32 when
	// not available.
	Up int32 `json:"u"`
}

// Window is the bounded NOx window of a truck: a ring buffer of loaded
// samples with an available, in-range downstream NOx, in collection-time
// order, at most WindowSeconds+1 entries. Sums are kept in integer
// thousandths of a ppm, so adding and evicting never drifts. The exported
// fields are the persisted state; the sums are rebuilt after a restore.
type Window struct {
	// Buf is the ring storage; its length is the capacity.
	Buf []WindowEntry `json:"buf,omitempty"`
	// Head is the index in Buf of the oldest entry.
	Head int `json:"head"`
	// Len is the number of entries.
	Len int `json:"len"`

	ready   bool  // sums below are valid for floor
	floor   int32 // upstream floor the efficiency sums were built for
	sumDown int64 // sum of Down over all entries
	effN    int   // entries with Up >= floor
	effUp   int64 // sum of Up over those
	effDown int64 // sum of Down over those
}

// at returns the i-th oldest entry.
func (w *Window) at(i int) *WindowEntry { return &w.Buf[(w.Head+i)%len(w.Buf)] }

// prepare makes the ring hold capacity entries (keeping the newest ones) and
// the sums valid for the upstream floor, rebuilding them when needed
// (after a restore, a resize or a change of floor). The ring is allocated
// only once an entry is to be added (need), so idle trucks cost nothing.
func (w *Window) prepare(capacity int, floor int32, need bool) {
	if w.Head < 0 || w.Len < 0 || w.Len > len(w.Buf) || (len(w.Buf) > 0 && w.Head >= len(w.Buf)) {
		*w = Window{} // corrupt snapshot: start empty
	}
	if len(w.Buf) != capacity && (need || w.Len > 0) {
		n := min(w.Len, capacity)
		buf := make([]WindowEntry, capacity)
		for i := range n {
			buf[i] = *w.at(w.Len - n + i)
		}
		w.Buf, w.Head, w.Len = buf, 0, n
		w.ready = false
	}
	if !w.ready || w.floor != floor {
		w.floor = floor
		w.sumDown, w.effN, w.effUp, w.effDown = 0, 0, 0, 0
		for i := range w.Len {
			w.add(w.at(i), 1)
		}
		w.ready = true
	}
}

// add adds (sign 1) or removes (sign -1) e from the sums.
func (w *Window) add(e *WindowEntry, sign int64) {
	w.sumDown += sign * int64(e.Down)
	if e.Up != naMilli && e.Up >= w.floor {
		w.effN += int(sign)
		w.effUp += sign * int64(e.Up)
		w.effDown += sign * int64(e.Down)
	}
}

// popOldest removes the oldest entry.
func (w *Window) popOldest() {
	w.add(w.at(0), -1)
	w.Head = (w.Head + 1) % len(w.Buf)
	w.Len--
}

// evict removes the entries at or before cutoffMs.
func (w *Window) evict(cutoffMs int64) {
	for w.Len > 0 && w.at(0).AtMs <= cutoffMs {
		w.popOldest()
	}
}

// push appends e, newer than every entry, dropping the oldest when full.
func (w *Window) push(e WindowEntry) {
	if w.Len == len(w.Buf) {
		w.popOldest()
	}
	*w.at(w.Len) = e
	w.Len++
	w.add(&e, 1)
}

// insert puts e at its place in time order and reports whether it did:
// not when an entry has the same instant, nor when the ring is full and e
// is older than everything in it.
func (w *Window) insert(e WindowEntry) bool {
	lo, hi := 0, w.Len // first index with AtMs >= e.AtMs
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if w.at(m).AtMs < e.AtMs {
			lo = m + 1
		} else {
			hi = m
		}
	}
	pos := lo
	if pos < w.Len && w.at(pos).AtMs == e.AtMs {
		return false
	}
	if w.Len == len(w.Buf) {
		if pos == 0 {
			return false
		}
		w.popOldest()
		pos--
	}
	for i := w.Len; i > pos; i-- {
		*w.at(i) = *w.at(i - 1)
	}
	*w.at(pos) = e
	w.Len++
	w.add(&e, 1)
	return true
}

// noxAvg returns the mean downstream NOx in ppm over n entries.
func (w *Window) noxAvg() (avg float64, n int) {
	if w.Len == 0 {
		return 0, 0
	}
	return float64(w.sumDown) / 1000 / float64(w.Len), w.Len
}

// efficiency returns the SCR conversion efficiency in % over the entries
// with upstream at or above the floor, with their mean upstream and
// downstream NOx in ppm. It is 100*(1 - sum(down)/sum(up)): the ratio of
// the mean concentrations, which weighs the high-NOx moments that matter and
// cannot blow up on one small upstream value.
func (w *Window) efficiency() (pct, upAvg, downAvg float64, n int) {
	if w.effN == 0 || w.effUp <= 0 {
		return 0, 0, 0, w.effN
	}
	pct = 100 * (1 - float64(w.effDown)/float64(w.effUp))
	upAvg = float64(w.effUp) / 1000 / float64(w.effN)
	downAvg = float64(w.effDown) / 1000 / float64(w.effN)
	return pct, upAvg, downAvg, w.effN
}

// SeenSet remembers which collection seconds were seen over the 512 s up to
// the newest sample, so that a late sample is counted once. 64 bytes.
type SeenSet struct {
	// Bits holds one bit per second, indexed by Unix second modulo 512.
	Bits [seenWords]uint64 `json:"bits"`
	// Newest is the newest Unix second recorded.
	Newest int64 `json:"newest"`
}

const (
	seenWords = 8
	seenSpan  = seenWords * 64 // seconds covered
)

// slot returns the word and bit of Unix second sec.
func seenSlot(sec int64) (int, uint64) {
	i := ((sec % seenSpan) + seenSpan) % seenSpan
	return int(i / 64), 1 << uint(i%64)
}

// advance records in-order second sec (>= Newest), forgetting the seconds
// that fall out of the span. first is true for the truck's first sample.
func (s *SeenSet) advance(sec int64, first bool) {
	switch {
	case first || sec-s.Newest >= seenSpan:
		s.Bits = [seenWords]uint64{}
	default:
		for x := s.Newest + 1; x <= sec; x++ {
			w, b := seenSlot(x)
			s.Bits[w] &^= b
		}
	}
	if first || sec > s.Newest {
		s.Newest = sec
	}
	w, b := seenSlot(sec)
	s.Bits[w] |= b
}

// late records late second sec (<= Newest). It reports whether sec was
// already seen, and whether sec is within the span at all (a second older
// than the span cannot be checked, so the caller must not count it).
func (s *SeenSet) late(sec int64) (dup, inSpan bool) {
	if sec <= s.Newest-seenSpan || sec > s.Newest {
		return false, false
	}
	w, b := seenSlot(sec)
	if s.Bits[w]&b != 0 {
		return true, true
	}
	s.Bits[w] |= b
	return false, true
}
