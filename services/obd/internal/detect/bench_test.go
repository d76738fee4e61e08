package detect

import (
	"encoding/json"
	"testing"
	"unsafe"
)

// BenchmarkObserve feeds one in-order sample to a truck whose window is
// full; nothing changes, so nothing may be allocated.
func BenchmarkObserve(b *testing.B) {
	th := DefaultThresholds()
	tr := NewTruck(testVIN)
	for i := range 600 {
		tr.Observe(base(i), th)
	}
	samples := make([]Sample, 1024)
	for i := range samples {
		samples[i] = base(600 + i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var changes int
	for i := 0; b.Loop(); i++ {
		s := samples[i%len(samples)]
		s.At = at(600 + i)
		changes += len(tr.Observe(s, th))
	}
	if changes > 1 { // the exemption may be gained once on a long run
		b.Fatalf("%d changes on compliant samples", changes)
	}
}

// BenchmarkObserveLate feeds a reissued sample into a full window.
func BenchmarkObserveLate(b *testing.B) {
	th := DefaultThresholds()
	b.ReportAllocs()
	var tr Truck
	for i := 0; b.Loop(); i++ {
		if i%256 == 0 {
			b.StopTimer()
			tr = Truck{}
			for j := range 600 {
				if j%2 == 0 || j < 300 {
					tr.Observe(base(j), th)
				}
			}
			b.StartTimer()
		}
		tr.Observe(base(301+2*(i%256)%298), th)
	}
}

func TestMemoryPerTruck(t *testing.T) {
	th := DefaultThresholds()
	tr := NewTruck(testVIN)
	for i := range 600 {
		tr.Observe(base(i), th)
	}
	size := int(unsafe.Sizeof(*tr)) + cap(tr.Window.Buf)*int(unsafe.Sizeof(WindowEntry{}))
	t.Logf("truck struct %d B, window %d entries x %d B: %d B per truck with a full window",
		unsafe.Sizeof(*tr), cap(tr.Window.Buf), unsafe.Sizeof(WindowEntry{}), size)
	snap, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("JSON snapshot %d B", len(snap))
	if size > 8<<10 {
		t.Fatalf("%d B per truck, want at most 8 KiB", size)
	}
}
