package protocol_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/clearsky/clearsky/services/obd/internal/protocol"
)

// A gateway connection: cut the stream into frames, count rejected
// candidates by kind, decode into one reused Frame.
func Example() {
	vin, _ := protocol.ParseVIN("LFWSRXSJ5M1A00001")
	h := protocol.Header{VIN: vin, SoftwareVersion: 1, Encryption: protocol.EncNone}
	at := time.Date(2024, 3, 15, 2, 20, 30, 0, time.UTC)

	d := protocol.DieselNotAvailable()
	d.NOxDownstream = 4000 + 30*20 // 30 ppm
	stream, _ := protocol.AppendLogin([]byte("garbage"), h, protocol.Login{Time: at, Serial: 1})
	stream, _ = protocol.AppendReport(stream, h, &protocol.Report{
		Time:  at,
		Items: []protocol.Item{{Type: protocol.ItemDiesel, Serial: 1, Diesel: d}},
	})

	r := protocol.NewReader(bytes.NewReader(stream), 4096)
	var f protocol.Frame
	for {
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, protocol.ErrBadChecksum) || errors.Is(err, protocol.ErrTooLong) ||
			errors.Is(err, protocol.ErrBadVIN) || errors.Is(err, protocol.ErrUnknownCommand) {
			continue // count and go on
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := protocol.Decode(b, &f); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(f.Header.Command, f.Header.VIN)
		for _, it := range f.Report.Items {
			nox, ok := it.Diesel.NOxDownstreamPPM()
			_, speedOK := it.Diesel.SpeedKmh()
			fmt.Println(f.Report.Time, nox, ok, speedOK)
		}
	}
	fmt.Println("skipped", r.Skipped())
	// Output:
	// login LFWSRXSJ5M1A00001
	// realtime LFWSRXSJ5M1A00001
	// 2024-03-15 02:20:30 +0000 UTC 30 true false
	// skipped 7
}

// The platform answers a terminal's time calibration request.
func ExampleAppendTimeCalibrationReply() {
	vin, _ := protocol.ParseVIN("LFWSRXSJ5M1A00001")
	now := time.Date(2024, 1, 1, 0, 30, 0, 0, time.UTC) // 08:30 in Beijing
	b, _ := protocol.AppendTimeCalibrationReply(nil, protocol.Header{VIN: vin}, now)
	fmt.Printf("% x\n", b[protocol.HeaderLen:len(b)-1])
	// Output: 18 01 01 08 1e 00
}
