package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// readerMinBuf is the size of a Reader's initial buffer.
const readerMinBuf = 4096

// maxEmptyReads is how many successive (0, nil) reads Reader tolerates
// before failing with io.ErrNoProgress.
const maxEmptyReads = 100

// errBadReadCount reports an io.Reader that returned an impossible count.
var errBadReadCount = errors.New("protocol: reader returned an invalid count")

// Reader splits a byte stream, such as a terminal's TCP connection, into
// frames. The stream may split or join frames anywhere and carry garbage
// between them.
//
// Reader looks for "##" and checks each candidate frame as its bytes
// arrive: the command must be defined, the VIN 17 characters of
// [0-9A-HJ-NPR-Z], the frame no longer than the Reader's bound and the BCC
// right. A candidate that fails is reported with an error wrapping
// ErrUnknownCommand, ErrBadVIN, ErrTooLong or ErrBadChecksum, and scanning
// resumes at the byte after its first '#', so a good frame that starts
// inside a rejected candidate (after a frame cut short by a terminal reset,
// say) is still found. Bytes that are not part of any returned frame are
// counted by Skipped.
//
// Reader does not check the encryption flag, the time fields or the data
// unit structure; Decode does. Its buffer never grows beyond the larger of
// its bound and 4096 bytes. A Reader is not safe for concurrent use.
type Reader struct {
	r         io.Reader
	max       int    // largest frame accepted
	buf       []byte // buf[start:end] is buffered, not yet consumed
	start     int
	end       int
	pos       int64 // stream offset of buf[start]
	err       error // sticky error from r
	truncated bool  // a candidate was cut short by the end of the stream
	skipped   int64
}

// NewReader returns a Reader of frames from r accepting frames of at most
// maxFrame bytes, data unit and 25 bytes of overhead included. A maxFrame
// of zero or less, or above MaxFrameLen, means MaxFrameLen; one below
// Overhead means Overhead.
func NewReader(r io.Reader, maxFrame int) *Reader {
	if maxFrame <= 0 || maxFrame > MaxFrameLen {
		maxFrame = MaxFrameLen
	}
	maxFrame = max(maxFrame, Overhead)
	return &Reader{r: r, max: maxFrame}
}

// Next returns the bytes of the next well-formed frame, from "##" through
// the BCC. The slice aliases the Reader's buffer and is valid only until the
// next call.
//
// A rejected candidate frame is reported with an error wrapping
// ErrUnknownCommand, ErrBadVIN, ErrTooLong or ErrBadChecksum; the caller
// may count it and call Next again. At the end of the stream Next returns
// io.EOF, after an error wrapping both ErrTruncated and io.ErrUnexpectedEOF
// if the stream ended inside a frame. Any other error from the underlying
// reader is returned once the frames complete before it have been returned,
// and on every later call.
func (r *Reader) Next() ([]byte, error) {
	for {
		b := r.buf[r.start:r.end]
		i := bytes.IndexByte(b, '#')
		if i < 0 {
			r.discard(len(b))
			if r.err != nil {
				return nil, r.final()
			}
			r.fill(HeaderLen)
			continue
		}
		if i > 0 {
			r.discard(i)
			b = b[i:]
		}
		if len(b) >= 2 && b[1] != '#' || len(b) >= 3 && b[2] == '#' {
			// A lone '#', or the first of a run of them: "###" is no
			// frame start, but its last two bytes may be.
			r.discard(1)
			continue
		}
		if len(b) >= 3 {
			if err := r.checkHeader(b); err != nil {
				r.discard(1)
				return nil, err
			}
		}
		need := HeaderLen
		if len(b) >= HeaderLen {
			need = Overhead + int(binary.BigEndian.Uint16(b[22:24]))
			if len(b) >= need {
				frame := b[:need:need]
				if got, want := frame[need-1], bcc(frame[2:need-1]); got != want {
					err := fmt.Errorf("%w: bcc 0x%02x, computed 0x%02x, in a frame at stream offset %d",
						ErrBadChecksum, got, want, r.pos)
					r.discard(1)
					return nil, err
				}
				r.start += need
				r.pos += int64(need)
				return frame, nil
			}
		}
		if r.err != nil {
			// No more bytes will come: the candidate is cut short. Look
			// for complete frames in the rest of its bytes.
			if len(b) >= 2 {
				r.truncated = true
			}
			r.discard(1)
			continue
		}
		r.fill(need)
	}
}

// Skipped returns the number of stream bytes consumed so far that were not
// part of a returned frame: garbage and rejected or truncated frames.
func (r *Reader) Skipped() int64 { return r.skipped }

// Buffered returns the number of bytes read from the stream and not yet consumed: the start of
// a frame still arriving, when above zero.
func (r *Reader) Buffered() int { return r.end - r.start }

// checkHeader checks the header prefix of the candidate frame at the start
// of b, which holds at least 3 bytes.
func (r *Reader) checkHeader(b []byte) error {
	if c := Command(b[2]); !c.Valid() {
		return fmt.Errorf("%w: 0x%02x at stream offset %d", ErrUnknownCommand, b[2], r.pos)
	}
	for i, c := range b[3:min(len(b), 20)] {
		if !vinChar[c] {
			return fmt.Errorf("%w: byte 0x%02x at vin position %d, stream offset %d", ErrBadVIN, c, i+1, r.pos)
		}
	}
	if len(b) >= HeaderLen {
		if n := Overhead + int(binary.BigEndian.Uint16(b[22:24])); n > r.max {
			return fmt.Errorf("%w: frame of %d bytes at stream offset %d, at most %d", ErrTooLong, n, r.pos, r.max)
		}
	}
	return nil
}

// discard drops n bytes from the start of the buffered data.
func (r *Reader) discard(n int) {
	r.start += n
	r.pos += int64(n)
	r.skipped += int64(n)
}

// final returns the error that ends the stream.
func (r *Reader) final() error {
	if r.err != io.EOF {
		return r.err
	}
	if r.truncated {
		r.truncated = false
		return fmt.Errorf("%w: stream ended inside a frame: %w", ErrTruncated, io.ErrUnexpectedEOF)
	}
	return io.EOF
}

// fill reads more bytes, first making room for need bytes from r.start.
func (r *Reader) fill(need int) {
	if r.start == r.end {
		r.start, r.end = 0, 0
	}
	switch {
	case need > len(r.buf):
		size := max(need, 2*len(r.buf), readerMinBuf)
		size = min(size, max(r.max, readerMinBuf))
		buf := make([]byte, size)
		r.end = copy(buf, r.buf[r.start:r.end])
		r.start = 0
		r.buf = buf
	case r.start > 0 && (r.end == len(r.buf) || len(r.buf)-r.start < need):
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	for range maxEmptyReads {
		n, err := r.r.Read(r.buf[r.end:])
		if n < 0 || n > len(r.buf)-r.end {
			r.err = errBadReadCount
			return
		}
		r.end += n
		if err != nil {
			r.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.err = io.ErrNoProgress
}
