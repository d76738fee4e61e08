package protocol

import (
	"testing"
)

// reportFramesPerSecond adds a frames/s metric from the benchmark's time.
func reportFramesPerSecond(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "frames/s")
	}
}

// BenchmarkDecodeRealtime decodes the frame terminals send every 10 s, an
// OBD item and ten diesel stream items, into a reused Frame.
func BenchmarkDecodeRealtime(b *testing.B) {
	frame := realtimeFrame(b)
	var f Frame
	if err := Decode(frame, &f); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := Decode(frame, &f); err != nil {
			b.Fatal(err)
		}
	}
	reportFramesPerSecond(b)
}

// BenchmarkCopyBaseline copies the same frame into a reused buffer: the
// cheapest thing a gateway could do with the bytes.
func BenchmarkCopyBaseline(b *testing.B) {
	frame := realtimeFrame(b)
	buf := make([]byte, len(frame))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		copy(buf, frame)
	}
	reportFramesPerSecond(b)
}

// loopReader returns its data over and over.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

// BenchmarkReader cuts a stream of real-time frames, read in the chunks a
// TCP connection gives, into frames.
func BenchmarkReader(b *testing.B) {
	frame := realtimeFrame(b)
	var stream []byte
	for range 100 {
		stream = append(stream, frame...)
	}
	r := NewReader(&loopReader{data: stream}, 4096)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
	reportFramesPerSecond(b)
}

// BenchmarkReaderDecode reads and decodes, as a gateway connection does.
func BenchmarkReaderDecode(b *testing.B) {
	frame := realtimeFrame(b)
	var stream []byte
	for range 100 {
		stream = append(stream, frame...)
	}
	r := NewReader(&loopReader{data: stream}, 4096)
	var f Frame
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		fr, err := r.Next()
		if err != nil {
			b.Fatal(err)
		}
		if err := Decode(fr, &f); err != nil {
			b.Fatal(err)
		}
	}
	reportFramesPerSecond(b)
}

// BenchmarkEncodeRealtime encodes the same report into a reused buffer.
func BenchmarkEncodeRealtime(b *testing.B) {
	h := sampleHeader
	h.Command = CmdRealtime
	r := sampleReport(LayoutGB17691, true, 10)
	dst, err := AppendReport(nil, h, r)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(dst)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if dst, err = AppendReport(dst[:0], h, r); err != nil {
			b.Fatal(err)
		}
	}
	reportFramesPerSecond(b)
}
