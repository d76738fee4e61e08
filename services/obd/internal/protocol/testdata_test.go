package protocol

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Run `go test -run TestTestdata -update` in this directory to rewrite the
// seed files in testdata/ after changing the generator.
var update = flag.Bool("update", false, "rewrite the seed files in testdata/")

// seedFile is one generated file of testdata/.
type seedFile struct {
	name string
	data []byte
}

// seedFiles builds the files of testdata/: one frame of each kind and a
// stream mixing frames with garbage and broken frames.
func seedFiles(tb testing.TB) []seedFile {
	tb.Helper()
	h := sampleHeader

	realtime := realtimeFrame(tb)

	reissueHdr := h
	reissueHdr.Command = CmdReissue
	reissue := mustFrame(tb)(AppendReport(nil, reissueHdr, sampleReport(LayoutGB17691, false, 3)))

	login := mustFrame(tb)(AppendLogin(nil, h, Login{Time: sampleTime, Serial: 42, ICCID: sampleICCID}))
	logout := mustFrame(tb)(AppendLogout(nil, h, Logout{Time: sampleTime.Add(time.Hour), Serial: 42}))
	tamper := mustFrame(tb)(AppendTamperAlarm(nil, h, Tamper{
		Time: sampleTime, Serial: 9,
		Position: Position{Status: PosSouth | PosWest, Longitude: 70123456, Latitude: 33456789},
	}))

	calReqHdr := h
	calReqHdr.Command = CmdTimeCalibration
	calRequest := mustFrame(tb)(AppendFrame(nil, calReqHdr, nil))
	calReply := mustFrame(tb)(AppendTimeCalibrationReply(nil, h, sampleTime))

	actHdr := h
	actHdr.Command = CmdActivation
	activation := mustFrame(tb)(AppendFrame(nil, actHdr, bytes.Repeat([]byte{0x5A}, 6+16+64+17+66)))

	hjReport := sampleReport(LayoutHJ1239, true, 10)
	hjReport.Signature = sampleSignature()
	hjHdr := h
	hjHdr.Command = CmdRealtime
	hjRealtime := mustFrame(tb)(AppendReport(nil, hjHdr, hjReport))

	badBCC := bytes.Clone(logout)
	badBCC[len(badBCC)-1] ^= 0x55
	overLong := bytes.Clone(login[:HeaderLen])
	overLong[22], overLong[23] = 0xFF, 0xFF // over 65531
	garbage := cat(
		[]byte("\x00\x01GET / HTTP/1.1\r\n#"),
		login,
		[]byte("#x##y"),
		badBCC,
		realtime[:100], // a frame cut short by a terminal reset
		realtime,
		[]byte("##\x02LFW"),
		overLong,
		reissue,
		[]byte("###"),
		logout,
	)

	return []seedFile{
		{"realtime_10items.bin", realtime},
		{"reissue.bin", reissue},
		{"login.bin", login},
		{"logout.bin", logout},
		{"tamper.bin", tamper},
		{"timecal_request.bin", calRequest},
		{"timecal_reply.bin", calReply},
		{"activation.bin", activation},
		{"hj1239_realtime.bin", hjRealtime},
		{"garbage_mix.bin", garbage},
	}
}

// TestTestdata checks that the committed seed files are what the generator
// produces, so that they stay meaningful as the encoders change.
func TestTestdata(t *testing.T) {
	for _, f := range seedFiles(t) {
		path := filepath.Join("testdata", f.name)
		if *update {
			if err := os.WriteFile(path, f.data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestTestdata -update)", err)
		}
		if !bytes.Equal(got, f.data) {
			t.Errorf("%s differs from the generator's output (run go test -run TestTestdata -update)", path)
		}
	}
}

// readSeeds returns the contents of the seed files in testdata/.
func readSeeds(tb testing.TB) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatal("no seed files in testdata/")
	}
	seeds := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		seeds[filepath.Base(p)] = b
	}
	return seeds
}
