package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// result is one outcome of Reader.Next: a frame or an error.
type result struct {
	frame []byte
	err   error
}

func (r result) String() string {
	if r.err != nil {
		return "error " + r.err.Error()
	}
	return fmt.Sprintf("frame %d bytes %x...", len(r.frame), r.frame[:min(len(r.frame), 8)])
}

// readAll drains a Reader, copying the frames, until io.EOF or a
// non-rejection error. It gives up after limit calls.
func readAll(t testing.TB, r *Reader, limit int) []result {
	t.Helper()
	var out []result
	for range limit {
		b, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			out = append(out, result{err: err})
			if !isRejection(err) && !errors.Is(err, io.ErrUnexpectedEOF) {
				return out
			}
			continue
		}
		out = append(out, result{frame: bytes.Clone(b)})
	}
	t.Fatalf("Reader did not reach io.EOF after %d calls", limit)
	return nil
}

// isRejection reports whether err rejects one candidate frame, after which
// reading goes on.
func isRejection(err error) bool {
	return errors.Is(err, ErrBadChecksum) || errors.Is(err, ErrTooLong) ||
		errors.Is(err, ErrBadVIN) || errors.Is(err, ErrUnknownCommand)
}

// chunkReader returns its data in chunks of the given sizes, cycling.
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(c.sizes[c.i%len(c.sizes)], len(p), len(c.data))
	c.i++
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// randomChunks returns chunk sizes from 1 to 64 drawn from seed.
func randomChunks(seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	sizes := make([]int, 97)
	for i := range sizes {
		sizes[i] = 1 + rng.IntN(64)
	}
	return sizes
}

// feeders returns the ways the tests feed a stream to a Reader.
func feeders(stream []byte) map[string]io.Reader {
	f := map[string]io.Reader{
		"whole":        bytes.NewReader(stream),
		"one byte":     iotest.OneByteReader(bytes.NewReader(stream)),
		"half":         iotest.HalfReader(bytes.NewReader(stream)),
		"data and eof": iotest.DataErrReader(bytes.NewReader(stream)),
	}
	for seed := range uint64(3) {
		f[fmt.Sprintf("random chunks %d", seed)] = &chunkReader{data: stream, sizes: randomChunks(seed)}
	}
	return f
}

// checkResults compares results with the wanted frames and error kinds.
func checkResults(t *testing.T, got []result, want []result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d results %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range got {
		switch {
		case want[i].err != nil:
			if !errors.Is(got[i].err, want[i].err) {
				t.Errorf("result %d = %v, want error %v", i, got[i], want[i].err)
			}
		case got[i].err != nil || !bytes.Equal(got[i].frame, want[i].frame):
			t.Errorf("result %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func frames(fs ...[]byte) []result {
	out := make([]result, len(fs))
	for i, f := range fs {
		out[i] = result{frame: f}
	}
	return out
}

func TestReaderStreams(t *testing.T) {
	seeds := readSeeds(t)
	login, logout, realtime, reissue := seeds["login.bin"], seeds["logout.bin"], seeds["realtime_10items.bin"], seeds["reissue.bin"]
	badBCC := bytes.Clone(logout)
	badBCC[len(badBCC)-1] ^= 0xFF
	badVIN := rawFrame(0x04, "LFWSRXSJ5M1A0000i", 0x01, timeBody(0, 1))
	unknownCmd := rawFrame(0x0A, vinStr, 0x01, timeBody(0, 1))
	overLong := bytes.Clone(login[:HeaderLen])
	binary.BigEndian.PutUint16(overLong[22:], 5000)
	hugeLength := bytes.Clone(login[:HeaderLen])
	binary.BigEndian.PutUint16(hugeLength[22:], 0xFFFB)

	r := func(err error) result { return result{err: err} }
	tests := []struct {
		name     string
		maxFrame int
		stream   []byte
		want     []result
	}{
		{"empty", 0, nil, nil},
		{"one frame", 0, login, frames(login)},
		{"joined frames", 0, cat(login, realtime, logout, reissue, realtime), frames(login, realtime, logout, reissue, realtime)},
		{"garbage before", 0, cat([]byte("GET / HTTP/1.1\r\n\r\n"), login), frames(login)},
		{"garbage between and after", 0, cat(login, []byte{0, 1, 2, 0xFF}, logout, []byte("tail")), frames(login, logout)},
		{"stray # before", 0, cat([]byte("#"), login), frames(login)},
		{"stray ### before", 0, cat([]byte("###"), login), frames(login)},
		{"stray # between", 0, cat(login, []byte("#"), logout, []byte("#a#b#"), reissue), frames(login, logout, reissue)},
		{"trailing #", 0, cat(login, []byte("#")), frames(login)},
		{"lone ## in garbage", 0, cat([]byte("ab##cd"), login), []result{r(ErrUnknownCommand), {frame: login}}},
		{"## with a valid command in garbage", 0, cat([]byte("xx##\x02LFW"), login), []result{r(ErrBadVIN), {frame: login}}},
		{"bad checksum then good", 0, cat(badBCC, login), []result{r(ErrBadChecksum), {frame: login}}},
		{"bad vin then good", 0, cat(badVIN, login), []result{r(ErrBadVIN), {frame: login}}},
		{"unknown command then good", 0, cat(unknownCmd, logout), []result{r(ErrUnknownCommand), {frame: logout}}},
		{"over the bound then good", 4096, cat(overLong, login), []result{r(ErrTooLong), {frame: login}}},
		{"frame at the bound", len(realtime), cat(realtime, login), frames(realtime, login)},
		{"frame one over the bound", len(realtime) - 1, cat(realtime, login), []result{r(ErrTooLong), {frame: login}}},
		{"cut short then good", 0, cat(realtime[:100], realtime, login), []result{r(ErrBadChecksum), {frame: realtime}, {frame: login}}},
		{"cut short at the end of the stream", 0, cat(realtime[:100], reissue, login), []result{{frame: reissue}, {frame: login}, r(io.ErrUnexpectedEOF)}},
		{"huge length swallowing good frames", 0, cat(hugeLength, login, logout), []result{{frame: login}, {frame: logout}, r(io.ErrUnexpectedEOF)}},
		{"truncated final frame", 0, cat(login, realtime[:50]), []result{{frame: login}, r(io.ErrUnexpectedEOF)}},
		{"truncated final header", 0, cat(login, realtime[:10]), []result{{frame: login}, r(ErrTruncated)}},
		{"final ##", 0, cat(login, []byte("##")), []result{{frame: login}, r(io.ErrUnexpectedEOF)}},
		{"garbage mix seed", 0, seeds["garbage_mix.bin"], []result{
			{frame: login}, r(ErrUnknownCommand), r(ErrBadChecksum), r(ErrBadChecksum), {frame: realtime},
			r(ErrBadVIN), r(ErrTooLong), {frame: reissue}, {frame: logout},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for name, feed := range feeders(tc.stream) {
				t.Run(name, func(t *testing.T) {
					rd := NewReader(feed, tc.maxFrame)
					checkResults(t, readAll(t, rd, len(tc.stream)+10), tc.want)
					// io.EOF is sticky.
					if _, err := rd.Next(); err != io.EOF {
						t.Errorf("Next after the end = %v, want io.EOF", err)
					}
				})
			}
		})
	}
}

func TestReaderSplitAtEveryByte(t *testing.T) {
	seeds := readSeeds(t)
	stream := cat([]byte("#x"), seeds["login.bin"], seeds["realtime_10items.bin"], []byte("##Z"), seeds["hj1239_realtime.bin"], seeds["tamper.bin"])
	want := readAll(t, NewReader(bytes.NewReader(stream), 0), 100)
	if len(want) != 5 || want[2].err == nil {
		t.Fatalf("whole stream gives %v, want 4 frames and one rejection", want)
	}
	for k := 1; k < len(stream); k++ {
		got := readAll(t, NewReader(&chunkReader{data: stream, sizes: []int{k, len(stream)}}, 0), 100)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("split at %d: got %v, want %v", k, got, want)
		}
	}
}

func TestReaderFramesDecode(t *testing.T) {
	seeds := readSeeds(t)
	rd := NewReader(iotest.OneByteReader(bytes.NewReader(seeds["garbage_mix.bin"])), 0)
	var f Frame
	n := 0
	for {
		b, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			continue
		}
		if err := Decode(b, &f); err != nil {
			t.Errorf("frame %d: Decode: %v", n, err)
		}
		n++
	}
	if n != 4 {
		t.Errorf("%d frames, want 4", n)
	}
}

func TestReaderSkipped(t *testing.T) {
	login := readSeeds(t)["login.bin"]
	garbage := []byte("0123456789#")
	rd := NewReader(bytes.NewReader(cat(garbage, login, garbage)), 0)
	got := readAll(t, rd, 10)
	checkResults(t, got, frames(login))
	if got, want := rd.Skipped(), int64(2*len(garbage)); got != want {
		t.Errorf("Skipped() = %d, want %d", got, want)
	}
}

// adversary produces an endless stream of frame headers declaring long data
// units, each candidate failing its BCC only after its bytes have arrived.
type adversary struct {
	hdr []byte
	n   int64 // bytes produced
}

func (a *adversary) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = a.hdr[int(a.n)%len(a.hdr)]
		a.n++
	}
	return len(p), nil
}

func TestReaderBoundedBuffer(t *testing.T) {
	login := readSeeds(t)["login.bin"]
	long := bytes.Clone(login[:HeaderLen])
	binary.BigEndian.PutUint16(long[22:], MaxDataLen)
	for _, maxFrame := range []int{0, 4096, 30} {
		t.Run(fmt.Sprint(maxFrame), func(t *testing.T) {
			a := &adversary{hdr: long}
			rd := NewReader(a, maxFrame)
			bound := max(rd.max, readerMinBuf)
			for a.n < 512<<10 {
				b, err := rd.Next()
				if err == nil {
					t.Fatalf("got a frame %x from the adversary", b)
				}
				if !isRejection(err) {
					t.Fatalf("Next: %v", err)
				}
				if len(rd.buf) > bound {
					t.Fatalf("buffer of %d bytes, bound %d", len(rd.buf), bound)
				}
			}
		})
	}
}

type errAfter struct {
	r   io.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func TestReaderErrors(t *testing.T) {
	login := readSeeds(t)["login.bin"]
	boom := errors.New("connection reset")

	t.Run("read error after frames", func(t *testing.T) {
		rd := NewReader(&errAfter{r: bytes.NewReader(cat(login, login, login[:30])), err: boom}, 0)
		got := readAll(t, rd, 10)
		checkResults(t, got, []result{{frame: login}, {frame: login}, {err: boom}})
		if _, err := rd.Next(); !errors.Is(err, boom) {
			t.Errorf("Next after the error = %v, want %v", err, boom)
		}
	})
	t.Run("no progress", func(t *testing.T) {
		rd := NewReader(iotest.ErrReader(nil), 0)
		if _, err := rd.Next(); !errors.Is(err, io.ErrNoProgress) {
			t.Errorf("Next = %v, want %v", err, io.ErrNoProgress)
		}
	})
	t.Run("timeout after frames", func(t *testing.T) {
		rd := NewReader(iotest.TimeoutReader(bytes.NewReader(cat(login, login))), 0)
		checkResults(t, readAll(t, rd, 10), []result{{frame: login}, {frame: login}, {err: iotest.ErrTimeout}})
	})
}

func TestReaderTruncatedErrorKinds(t *testing.T) {
	login := readSeeds(t)["login.bin"]
	rd := NewReader(bytes.NewReader(login[:40]), 0)
	_, err := rd.Next()
	if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrTruncated) {
		t.Errorf("Next = %v, want an error matching io.ErrUnexpectedEOF and ErrTruncated", err)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Errorf("Next = %v, want io.EOF", err)
	}
}
