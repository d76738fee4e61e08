// Package protocol encodes and decodes the remote emission monitoring frame
// of heavy diesel vehicles defined by GB 17691-2018 annex Q, which HJ 1239
// reuses.
//
// # Frame
//
// Every frame has 25 bytes of overhead around a data unit of N bytes; all
// integers are big-endian:
//
//	offset  size  field
//	0       2     start "##" (0x23 0x23)
//	2       1     command unit (see Command)
//	3       17    VIN, ASCII (see VIN)
//	20      1     terminal software version
//	21      1     encryption: 0x01 none, 0x02 RSA, 0x03 SM2, 0xFE abnormal, 0xFF invalid
//	22      2     data unit length N, at most 65531
//	24      N     data unit
//	24+N    1     BCC: XOR of bytes 2 .. 23+N
//
// Decode checks one complete frame and fills a caller-owned Frame. It does
// not allocate once the Frame's slices have grown to the size the terminal
// needs, so a gateway keeps one Frame per connection and reuses it. Slices
// in a decoded Frame (Frame.Data, Item.Raw, Report.Signature) alias the
// input and are valid only as long as it is; Report.Items and the fault
// code slices are owned by the Frame and overwritten by the next Decode.
//
// Reader cuts a TCP byte stream into frames: it resynchronises on "##"
// after garbage and rejects candidates with a bad checksum, a length over
// its bound, an invalid VIN or an unknown command with an error of a kind
// the caller can count (errors.Is with ErrBadChecksum, ErrTooLong,
// ErrBadVIN, ErrUnknownCommand), without losing the good frames that follow
// in the same stream. Its buffer never grows beyond the larger of its frame
// bound and 4096 bytes.
//
// The Append functions and Frame.AppendBinary encode frames, computing the
// length field and the BCC; a frame that Decode accepts encodes back to the
// same bytes.
//
// # Time
//
// Times are 6 bytes, YY MM DD hh mm ss with the year minus 2000, plain
// binary (not BCD), in Beijing time (UTC+8, no daylight saving). Decode
// converts them to time.Time in UTC and rejects impossible dates (month 13,
// 31 February, hour 24, ...) with ErrBadTime; the encoders convert any
// time.Time to Beijing time and drop sub-second precision.
//
// # Not-available values
//
// In the diesel data stream (item 0x02) an all-ones field (0xFF, 0xFFFF,
// 0xFFFFFFFF) means "not available". DieselStream keeps each field as its
// raw wire integer, so decoding stays allocation-free and re-encoding is
// exact, and exposes one method per field that applies the resolution and
// offset and returns (value, true), or (0, false) when the field is not
// available:
//
//	if ppm, ok := d.NOxDownstreamPPM(); ok { ... }
//
// A not-available field is therefore never confused with a number. Only the
// all-ones pattern means not available; other out-of-range raw values are
// converted like any other and left to the caller's plausibility checks.
// Position.Degrees applies the south and west bits of the positioning
// status and reports false when the fix is flagged invalid or a coordinate
// is all ones.
//
// # Layout
//
// Terminals send the real-time and reissued report data units in one of two
// layouts under the same header, and nothing in a frame says which, so the
// layout is a per-terminal (or per-connection) setting, Decoder.Layout:
//
//   - LayoutGB17691 (the default): collection time (6), then items of
//     type (1) + information serial (2) + body.
//   - LayoutHJ1239: send time (6) + information serial (2), then items of
//     type (1) + collection time (6) + body, then the SM2 signature, taken
//     to be R length (1) + R + S length (1) + S with each length 1..32.
//
// Only the report data units differ between the layouts; the other commands
// decode the same way in both.
//
// # Information items
//
// Items of type 0x01 (OBD information) and 0x02 (diesel data stream) are
// decoded. The other types (0x03 three-way catalyst, 0x04 hybrid, 0x05
// TWC+NOx, 0x80 supplementary, vendor types) carry no length, and their
// sizes vary between the regional variants of the standard, so an item of
// another type ends the decoding of its report with ErrUnknownItem, naming
// the type, unless Decoder.RawItemSizes gives its body size, in which case
// it is kept raw in Item.Raw. (One public implementation of the Shanghai
// variant, for instance, uses a 17-byte 0x80 supplementary stream.)
//
// Activation (0x07) and activation reply (0x08) frames, and frames whose
// data unit is RSA or SM2 encrypted, are decoded to the header only; the
// data unit is left raw in Frame.Data, which DecodeActivation and
// DecodeActivationReply read. Report.Signed is the span an HJ 1239 report's
// signature covers (its data unit before the signature); the framing and
// coverage of the signature are to be confirmed (docs/obd.md).
package protocol
