// Package sim simulates on-board terminals of heavy diesel trucks speaking GB 17691-2018 annex Q
// over TCP: each terminal logs in and sends real-time reports (an OBD information item and ten
// 1 Hz diesel data stream items every 10 s of collection time), optionally with the faults a
// real network and real terminals produce — frames split and joined across writes, garbage
// between frames, corrupted checksums, disconnects followed by reissued frames — and with
// driving profiles that should raise alarms. The obdsim command and the end-to-end tests use it.
package sim

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clearsky/clearsky/services/obd/internal/protocol"
	"github.com/clearsky/clearsky/services/obd/internal/sm2sig"
)

// Profile is how a simulated truck drives.
type Profile string

// Profiles.
const (
	Clean        Profile = "clean"         // compliant: no alarm expected
	NOxHigh      Profile = "nox_high"      // downstream NOx far above the limit under load
	ReagentEmpty Profile = "reagent_empty" // urea tank at 0 %
	MILOn        Profile = "mil_on"        // malfunction lamp on, a fault code
	Removal      Profile = "removal"       // sends an anti-tamper / removal alarm (0x06)
)

// Terminal is one simulated truck.
type Terminal struct {
	VIN     string
	ICCID   string
	Profile Profile
	// Layout of its reports: GB 17691 (the zero value), or HJ 1239, where each item carries its
	// own collection time and the report its send time and serial.
	Layout protocol.Layout
	// Key, with the HJ 1239 layout, is the terminal's security chip: it activates with it before
	// its first login and signs every report.
	Key *sm2sig.Key
}

// Faults says how often each fault is injected, per frame (0..1).
type Faults struct {
	Garbage     float64 // random bytes before the frame
	BadChecksum float64 // a corrupted copy of the frame first (the good one follows)
	Disconnect  float64 // drop the connection after the frame, reconnect, log in, reissue the last frames
	Reissue     float64 // send an earlier frame again as a reissue (0x03)
	SplitJoin   bool    // write frames in random pieces and join several frames in one write
}

// Options drive a run.
type Options struct {
	Addr      string
	Terminals []Terminal
	Frames    int           // real-time frames per terminal
	Interval  time.Duration // wall time between a terminal's frames (0: as fast as possible)
	Start     time.Time     // collection time of the first frame; default now - Frames*10s
	Faults    Faults
	Seed      uint64
	// Activated: the terminals with keys activated already (Activate); they do not again.
	Activated bool
	// prepared are the terminals' real-time frames, built before the run by Prepare.
	prepared [][][]byte
}

// Prepare builds every terminal's real-time frames (and signs them) before Run, so that a
// measured run spends nothing on making them.
func Prepare(o *Options) error {
	if o.Start.IsZero() {
		o.Start = time.Now().Add(-time.Duration(o.Frames+1) * 10 * time.Second).Truncate(time.Second)
	}
	o.prepared = make([][][]byte, len(o.Terminals))
	for i, t := range o.Terminals {
		for k := 0; k < o.Frames; k++ {
			f, err := Frame(t, protocol.CmdRealtime, o.Start.Add(time.Duration(k)*10*time.Second), k)
			if err != nil {
				return err
			}
			o.prepared[i] = append(o.prepared[i], f)
		}
	}
	return nil
}

// Activate sends each terminal's HJ 1239 activation on a connection of its own and waits for the
// platform's reply, a few terminals at a time; it returns the number refused.
func Activate(ctx context.Context, addr string, terms []Terminal) (int, error) {
	var refused atomic.Int64
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	errs := make(chan error, len(terms))
	for _, t := range terms {
		if t.Key == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var d net.Dialer
			nc, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			c := &conn{c: nc, o: &Options{}}
			if err := activate(c, t, time.Now()); err != nil {
				errs <- err
				return
			}
			_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			raw, err := protocol.NewReader(nc, 1024).Next()
			if err != nil {
				errs <- fmt.Errorf("terminal %s: no activation reply: %w", t.VIN, err)
				return
			}
			var f protocol.Frame
			if err := protocol.Decode(raw, &f); err != nil {
				errs <- err
				return
			}
			if res, _, err := protocol.DecodeActivationReply(f.Data); err != nil || res != protocol.ActivationOK {
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return int(refused.Load()), err
	}
	return int(refused.Load()), nil
}

// Report counts what a run sent.
type Report struct {
	Frames      int64 // distinct real-time frames
	Samples     int64 // distinct samples (ten per frame)
	Sent        int64 // frames written, including corrupted copies and reissues
	Corrupted   int64
	Reissued    int64
	Disconnects int64
	Elapsed     time.Duration
}

// Run drives every terminal concurrently until all frames are sent or ctx ends.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Start.IsZero() {
		o.Start = time.Now().Add(-time.Duration(o.Frames+1) * 10 * time.Second).Truncate(time.Second)
	}
	var rep Report
	var wg sync.WaitGroup
	errs := make(chan error, len(o.Terminals))
	begin := time.Now()
	for i, t := range o.Terminals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := drive(ctx, o, i, t, rand.New(rand.NewPCG(o.Seed, uint64(i))), &rep); err != nil {
				errs <- fmt.Errorf("terminal %s: %w", t.VIN, err)
			}
		}()
	}
	wg.Wait()
	rep.Elapsed = time.Since(begin)
	close(errs)
	for err := range errs {
		return rep, err
	}
	return rep, nil
}

type conn struct {
	c   net.Conn
	rng *rand.Rand
	o   *Options
	buf []byte // frames waiting to be joined into one write
}

func dial(ctx context.Context, o *Options, rng *rand.Rand) (*conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, rng: rng, o: o}, nil
}

// send writes b, split into random pieces and sometimes held back to be joined with the next.
func (c *conn) send(b []byte, flush bool) error {
	if !c.o.Faults.SplitJoin {
		_, err := c.c.Write(b)
		return err
	}
	c.buf = append(c.buf, b...)
	if !flush && c.rng.IntN(3) == 0 {
		return nil // joined with the next frame
	}
	for len(c.buf) > 0 {
		n := 1 + c.rng.IntN(min(len(c.buf), 97))
		if _, err := c.c.Write(c.buf[:n]); err != nil {
			return err
		}
		c.buf = c.buf[n:]
	}
	c.buf = c.buf[:0]
	return nil
}

func (c *conn) drainReplies() { // terminals read and ignore the platform's replies
	go func() { _, _ = io.Copy(io.Discard, c.c) }()
}

func header(t Terminal, cmd protocol.Command) protocol.Header {
	v, _ := protocol.ParseVIN(t.VIN)
	return protocol.Header{Command: cmd, VIN: v, SoftwareVersion: 1, Encryption: protocol.EncNone}
}

func login(c *conn, t Terminal, at time.Time, serial uint16) error {
	var l protocol.Login
	l.Time, l.Serial = at, serial
	copy(l.ICCID[:], t.ICCID)
	b, err := protocol.AppendLogin(nil, header(t, protocol.CmdLogin), l)
	if err != nil {
		return err
	}
	return c.send(b, true)
}

// activate sends the terminal's HJ 1239 activation, signed with its key. (The platform's reply
// is drained with the others; activating again with the same key is harmless.)
func activate(c *conn, t Terminal, at time.Time) error {
	v, _ := protocol.ParseVIN(t.VIN)
	a := protocol.Activation{Time: at, PublicKey: t.Key.Public(), VIN: v}
	copy(a.ChipID[:], "SIM"+t.VIN[len(t.VIN)-8:])
	msg, err := protocol.AppendActivationData(nil, a)
	if err != nil {
		return err
	}
	sig, err := t.Key.Sign(msg)
	if err != nil {
		return err
	}
	b, err := protocol.AppendActivation(nil, header(t, protocol.CmdActivation), a, sig)
	if err != nil {
		return err
	}
	return c.send(b, true)
}

func drive(ctx context.Context, o Options, i int, t Terminal, rng *rand.Rand, rep *Report) error {
	c, err := dial(ctx, &o, rng)
	if err != nil {
		return err
	}
	c.drainReplies()
	defer func() { _ = c.c.Close() }()
	if t.Key != nil && !o.Activated {
		if err := activate(c, t, o.Start); err != nil {
			return err
		}
	}
	if err := login(c, t, o.Start, 1); err != nil {
		return err
	}
	var sent [][]byte // every good frame, for reissues
	for k := 0; k < o.Frames; k++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		at := o.Start.Add(time.Duration(k) * 10 * time.Second)
		var frame []byte
		if o.prepared != nil {
			frame = o.prepared[i][k]
		} else {
			var err error
			if frame, err = Frame(t, protocol.CmdRealtime, at, k); err != nil {
				return err
			}
		}
		sent = append(sent, frame)
		if rng.Float64() < o.Faults.Garbage {
			g := make([]byte, 1+rng.IntN(40))
			for i := range g {
				g[i] = byte(rng.IntN(256))
			}
			if err := c.send(g, false); err != nil {
				return err
			}
		}
		if rng.Float64() < o.Faults.BadChecksum {
			bad := append([]byte(nil), frame...)
			bad[len(bad)-1] ^= 0x5A
			atomic.AddInt64(&rep.Corrupted, 1)
			atomic.AddInt64(&rep.Sent, 1)
			if err := c.send(bad, false); err != nil {
				return err
			}
		}
		if err := c.send(frame, k == o.Frames-1); err != nil {
			return err
		}
		atomic.AddInt64(&rep.Sent, 1)
		atomic.AddInt64(&rep.Frames, 1)
		atomic.AddInt64(&rep.Samples, 10)
		if t.Profile == Removal && k == o.Frames/2 {
			b, err := protocol.AppendTamperAlarm(nil, header(t, protocol.CmdTamperAlarm), protocol.Tamper{Time: at, Serial: uint16(k), Position: position(k)})
			if err != nil {
				return err
			}
			if err := c.send(b, true); err != nil {
				return err
			}
		}
		if k > 0 && rng.Float64() < o.Faults.Reissue {
			if err := reissue(c, sent[rng.IntN(k)], rep); err != nil {
				return err
			}
		}
		if k < o.Frames-1 && rng.Float64() < o.Faults.Disconnect {
			if err := c.send(nil, true); err != nil {
				return err
			}
			_ = c.c.Close()
			atomic.AddInt64(&rep.Disconnects, 1)
			if c, err = dial(ctx, &o, rng); err != nil {
				return err
			}
			c.drainReplies()
			if err := login(c, t, at, uint16(k+2)); err != nil {
				return err
			}
			// The terminal cannot know what reached the platform: it reissues its last frames.
			for j := max(0, k-2); j <= k; j++ {
				if err := reissue(c, sent[j], rep); err != nil {
					return err
				}
			}
		}
		if o.Interval > 0 {
			select {
			case <-time.After(o.Interval):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if err := c.send(nil, true); err != nil {
		return err
	}
	// Log out, then give the platform a moment to read everything before closing.
	out, err := protocol.AppendLogout(nil, header(t, protocol.CmdLogout), protocol.Logout{Time: o.Start.Add(time.Duration(o.Frames) * 10 * time.Second), Serial: 1})
	if err != nil {
		return err
	}
	if _, err := c.c.Write(out); err != nil {
		return err
	}
	time.Sleep(50 * time.Millisecond)
	return nil
}

// reissue sends a copy of a real-time frame as a reissued report (same content, command 0x03).
func reissue(c *conn, frame []byte, rep *Report) error {
	var f protocol.Frame
	if err := protocol.Decode(frame, &f); err != nil {
		return err
	}
	h := f.Header
	h.Command = protocol.CmdReissue
	b, err := protocol.AppendReport(nil, h, &f.Report)
	if err != nil {
		return err
	}
	atomic.AddInt64(&rep.Reissued, 1)
	atomic.AddInt64(&rep.Sent, 1)
	return c.send(b, false)
}

func position(k int) protocol.Position {
	// Eastward at 50 km/h along latitude 39.33 (Shuozhou): 13.9 m/s is about 0.000161 degrees of longitude.
	lon := 112.43 + float64(k*10)*0.000161
	return protocol.Position{Longitude: uint32(math.Round(lon * 1e6)), Latitude: 39_331_000}
}

// Frame builds terminal t's k-th real-time report collected at at: an OBD information item and
// ten 1 Hz diesel data stream items following t's profile.
func Frame(t Terminal, cmd protocol.Command, at time.Time, k int) ([]byte, error) {
	v, _ := protocol.ParseVIN(t.VIN)
	obd := protocol.OBDInfo{Protocol: 2, MIL: 0, VIN: [17]byte(v), FaultCount: 0}
	if t.Profile == MILOn {
		obd.MIL, obd.FaultCount, obd.FaultCodes = 1, 1, []uint32{0x00F0_0C12}
	}
	rep := protocol.Report{Time: at, Layout: t.Layout, Items: []protocol.Item{{Type: protocol.ItemOBD, Serial: uint16(k * 11), OBD: obd}}}
	hj := t.Layout == protocol.LayoutHJ1239
	if hj {
		// HJ 1239: the report's time is when it was sent, after the last sample; items carry
		// their own collection times.
		rep.Time, rep.Serial = at.Add(10*time.Second), uint16(k)
		rep.Items[0].Time = at
	}
	for i := 0; i < 10; i++ {
		s := k*10 + i // second since the start
		rpm := 1100 + 300*math.Sin(float64(s)/17)
		noxUp := 700 + 150*math.Sin(float64(s)/23)
		noxDown := 60 + 30*math.Sin(float64(s)/11)
		reagent := 62.0
		switch t.Profile {
		case NOxHigh:
			noxDown = 850 + 60*math.Sin(float64(s)/7)
			noxUp = 900 + 60*math.Sin(float64(s)/9)
		case ReagentEmpty:
			reagent = 0
		}
		d := protocol.DieselStream{
			Speed: uint16(50 * 256), AtmosphericPressure: 180, NetTorque: uint8(125 + 45), FrictionTorque: uint8(125 + 8),
			EngineSpeed: uint16(rpm * 8), FuelFlow: uint16(28 * 20),
			NOxUpstream: uint16((noxUp + 200) * 20), NOxDownstream: uint16((noxDown + 200) * 20),
			Reagent: uint8(reagent * 2.5), IntakeAirFlow: uint16(900 * 20),
			SCRInletTemp: uint16((310 + 273) * 32), SCROutletTemp: uint16((290 + 273) * 32),
			DPFPressure: 42, CoolantTemp: 40 + 88, FuelLevel: uint8(70 * 2.5),
			Position: position(k), Mileage: uint32(123456*10 + s*14/100),
		}
		if i > 0 {
			d.Position.Longitude += uint32(i * 161)
		}
		it := protocol.Item{Type: protocol.ItemDiesel, Serial: uint16(k*11 + 1 + i), Diesel: d}
		if hj {
			it.Time = at.Add(time.Duration(i) * time.Second)
		}
		rep.Items = append(rep.Items, it)
	}
	if hj && t.Key != nil {
		return protocol.AppendSignedReport(nil, header(t, cmd), &rep, t.Key.Sign)
	}
	return protocol.AppendReport(nil, header(t, cmd), &rep)
}
