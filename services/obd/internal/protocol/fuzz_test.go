package protocol

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// sentinels are the errors every Decode error must wrap one of.
var sentinels = []error{
	ErrBadStart, ErrTruncated, ErrTooLong, ErrBadLength, ErrBadChecksum, ErrBadVIN,
	ErrUnknownCommand, ErrBadEncryption, ErrEncrypted, ErrBadTime, ErrUnknownItem,
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// fuzzDecoders are the settings FuzzDecode tries each input with.
var fuzzDecoders = []Decoder{
	{},
	{Layout: LayoutHJ1239},
	{RawItemSizes: map[ItemType]int{ItemSupplementary: 17, ItemTWC: 0, ItemHybrid: 3}},
	{Layout: LayoutHJ1239, RawItemSizes: map[ItemType]int{ItemSupplementary: 17}},
}

// FuzzDecode checks that Decode never panics, fails only with the package's
// errors, and that a decoded frame encodes back to the same bytes, also when
// decoded into a Frame left over from another decode.
func FuzzDecode(f *testing.F) {
	for _, b := range readSeeds(f) {
		f.Add(b)
	}
	seeds := readSeeds(f)
	dirtySource := seeds["realtime_10items.bin"]
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range fuzzDecoders {
			var fr Frame
			err := d.Decode(data, &fr)
			if err != nil {
				if !isSentinel(err) {
					t.Fatalf("%v: Decode error %v wraps none of the package's errors", d.Layout, err)
				}
				continue
			}
			out, err := fr.AppendBinary(nil)
			if err != nil {
				t.Fatalf("%v: AppendBinary of a decoded frame: %v", d.Layout, err)
			}
			if !bytes.Equal(out, data) {
				t.Fatalf("%v: encode(decode(x)) != x\n got %x\nwant %x", d.Layout, out, data)
			}
			var dirty Frame
			if err := Decode(dirtySource, &dirty); err != nil {
				t.Fatal(err)
			}
			if err := d.Decode(data, &dirty); err != nil {
				t.Fatalf("%v: Decode into a used Frame: %v", d.Layout, err)
			}
			if out, err := dirty.AppendBinary(nil); err != nil || !bytes.Equal(out, data) {
				t.Fatalf("%v: decoding into a used Frame: encodes to %x, %v\nwant %x", d.Layout, out, err, data)
			}
		}
	})
}

// FuzzReader checks that Reader never panics, returns only well-formed
// frames taken from its input and no longer than its bound, never returns
// more bytes than it was fed, accounts for every byte, and gives the same
// results however the input is chunked.
func FuzzReader(f *testing.F) {
	seeds := readSeeds(f)
	var all []byte
	for _, b := range seeds {
		f.Add(b, uint16(0), uint64(1))
		all = append(all, b...)
	}
	f.Add(all, uint16(0), uint64(2))
	f.Add(all, uint16(600), uint64(3))
	f.Add(seeds["garbage_mix.bin"], uint16(100), uint64(4))
	f.Fuzz(func(t *testing.T, data []byte, maxFrame uint16, seed uint64) {
		limit := len(data) + 10
		rd := NewReader(bytes.NewReader(data), int(maxFrame))
		whole := readAll(t, rd, limit)
		chunked := readAll(t, NewReader(&chunkReader{data: data, sizes: randomChunks(seed)}, int(maxFrame)), limit)
		if len(whole) != len(chunked) {
			t.Fatalf("whole input gives %d results, chunked %d:\n%v\n%v", len(whole), len(chunked), whole, chunked)
		}
		returned := 0
		var fr Frame
		for i, res := range whole {
			if res.err != nil {
				if chunked[i].err == nil || res.err.Error() != chunked[i].err.Error() {
					t.Fatalf("result %d: whole input gives %v, chunked %v", i, res, chunked[i])
				}
				if !isRejection(res.err) && !errors.Is(res.err, io.ErrUnexpectedEOF) {
					t.Fatalf("result %d: unexpected error %v", i, res.err)
				}
				continue
			}
			if !bytes.Equal(res.frame, chunked[i].frame) {
				t.Fatalf("result %d: whole input gives %v, chunked %v", i, res, chunked[i])
			}
			if len(res.frame) > rd.max {
				t.Fatalf("frame of %d bytes, bound %d", len(res.frame), rd.max)
			}
			if !bytes.Contains(data, res.frame) {
				t.Fatalf("frame %x is not in the input", res.frame)
			}
			if err := wellFormed(res.frame); err != nil {
				t.Fatalf("returned frame %x: %v", res.frame, err)
			}
			// Decode agrees: whatever it rejects is inside the data unit.
			if err := Decode(res.frame, &fr); errors.Is(err, ErrBadStart) || errors.Is(err, ErrBadChecksum) ||
				errors.Is(err, ErrBadVIN) || errors.Is(err, ErrUnknownCommand) || errors.Is(err, ErrTooLong) {
				t.Fatalf("returned frame %x fails Decode: %v", res.frame, err)
			}
			returned += len(res.frame)
		}
		if returned > len(data) {
			t.Fatalf("returned %d bytes, fed %d", returned, len(data))
		}
		if returned+int(rd.Skipped()) != len(data) {
			t.Fatalf("returned %d + skipped %d bytes, fed %d", returned, rd.Skipped(), len(data))
		}
	})
}

// wellFormed checks the framing of b independently of the package's code.
func wellFormed(b []byte) error {
	if len(b) < 25 || b[0] != '#' || b[1] != '#' {
		return errors.New("no ## start or shorter than 25 bytes")
	}
	if n := int(b[22])<<8 | int(b[23]); len(b) != 25+n {
		return errors.New("length field does not match")
	}
	var x byte
	for _, c := range b[2 : len(b)-1] {
		x ^= c
	}
	if x != b[len(b)-1] {
		return errors.New("bad bcc")
	}
	if b[2] < 1 || b[2] > 8 {
		return errors.New("unknown command")
	}
	for _, c := range b[3:20] {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' && c != 'I' && c != 'O' && c != 'Q') {
			return errors.New("bad vin")
		}
	}
	return nil
}
