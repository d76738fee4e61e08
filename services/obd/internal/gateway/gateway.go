// Package gateway is the OBD service's TCP edge: on-board terminals of heavy diesel trucks
// connect and send GB 17691-2018 annex Q frames. A connection is bound to one VIN by a vehicle
// login that the registry must accept (the VIN is registered, active, and bound to a terminal
// whose SIM ICCID the login carries); frames before a login, for another VIN, or that fail the
// checks are rejected and counted, and the connection goes on. Real-time and reissued reports
// go to the monitor, whose bounded queues slow this reader when storage is slow.
package gateway

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/libs/vehicleinfo"
	"github.com/clearsky/clearsky/services/obd/internal/detect"
	"github.com/clearsky/clearsky/services/obd/internal/monitor"
	"github.com/clearsky/clearsky/services/obd/internal/protocol"
	"github.com/clearsky/clearsky/services/obd/internal/sm2sig"
)

// Config tunes the gateway.
type Config struct {
	Addr        string        // CLEARSKY_OBD_ADDR, default :7700
	ReadTimeout time.Duration // a connection silent this long is closed; default 3 min
	// FrameTimeout bounds how long a frame may take to arrive from its first byte: a client that
	// drips bytes cannot hold a connection; default 30 s.
	FrameTimeout time.Duration
	MaxFrame     int // largest frame accepted; default 8192 bytes
	// MaxConns caps concurrent terminals (default 20000), and is lowered at start to what the
	// process's file descriptors allow (see Limit).
	MaxConns int
	// MaxConnsPerAddr caps the connections from one source address (default 512: trucks behind
	// a carrier's NAT share addresses, a flood from one host does not take every slot).
	MaxConnsPerAddr int
	Layout          protocol.Layout // GB 17691 (default) or HJ 1239 report layout
	// RequireSigned refuses reports that no HJ 1239 signature proves (CLEARSKY_OBD_REQUIRE_SIGNED):
	// GB 17691 data, and HJ 1239 data from terminals that have not activated. Off by default:
	// such data is taken, marked unsigned end to end (it never earns an exemption, and an alarm
	// resting on it says so).
	RequireSigned bool
}

func (c *Config) defaults() {
	if c.Addr == "" {
		c.Addr = ":7700"
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 3 * time.Minute
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = 8192
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 20000
	}
	if c.FrameTimeout <= 0 {
		c.FrameTimeout = 30 * time.Second
	}
	if c.MaxConnsPerAddr <= 0 {
		c.MaxConnsPerAddr = 512
	}
}

// ReservedFDs are the file descriptors kept for everything but terminals (MongoDB and Redis
// pools, the HTTP server, log files) when the connection cap is derived from RLIMIT_NOFILE.
const ReservedFDs = 256

// Limit raises the process's soft RLIMIT_NOFILE to its hard limit and returns the number of
// terminal connections that fit below it with ReservedFDs to spare, or want if fewer. It never
// returns less than 1.
func Limit(want int) (int, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return want, fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	if rl.Cur < rl.Max {
		raised := rl
		raised.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			rl = raised
		}
	}
	fit := int64(rl.Cur) - ReservedFDs
	if rl.Cur > 1<<30 {
		fit = 1 << 30
	}
	return int(max(1, min(int64(want), fit))), nil
}

// Sink is where frames go (the monitor).
type Sink interface {
	Submit(ctx context.Context, f *monitor.Frame) error
	SubmitRemoval(ctx context.Context, e detect.RemovalEvent) error
}

// Registry answers whether a VIN may log in, and files the keys terminals activate with.
type Registry interface {
	ByVIN(ctx context.Context, vin string) (summary.Vehicle, error)
	FileTerminalKey(ctx context.Context, vin, chipID, publicKey string) error
}

// Gateway serves terminals.
type Gateway struct {
	cfg      Config
	sink     Sink
	registry Registry
	log      *slog.Logger
	now      func() time.Time

	conns    prometheus.Gauge
	frames   *prometheus.CounterVec
	rejected *prometheus.CounterVec
	slots    chan struct{}

	mu        sync.Mutex
	addr      net.Addr
	ready     chan struct{}
	perAddr   map[string]int // open connections by source address
	acceptErr error          // the accept loop's last error, nil once it accepts again
	stopped   error          // why Serve returned, if it did
}

// New returns a gateway; its metrics are registered on reg.
func New(cfg Config, sink Sink, registry Registry, log *slog.Logger, reg prometheus.Registerer) *Gateway {
	cfg.defaults()
	if n, err := Limit(cfg.MaxConns); err == nil {
		if n < cfg.MaxConns {
			log.Warn("obd_gateway_connections_capped", "max_conns", n, "asked", cfg.MaxConns, "why", "file descriptor limit (raise ulimit -n)")
		}
		cfg.MaxConns = n
	}
	g := &Gateway{cfg: cfg, sink: sink, registry: registry, log: log, now: time.Now, slots: make(chan struct{}, cfg.MaxConns), ready: make(chan struct{}),
		perAddr:  map[string]int{},
		conns:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "clearsky_obd_connections", Help: "Terminals connected."}),
		frames:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearsky_obd_frames_received_total", Help: "Frames accepted, by command."}, []string{"command"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearsky_obd_frames_rejected_total", Help: "Frames rejected, by reason."}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(g.conns, g.frames, g.rejected)
	}
	return g
}

// Rejected returns the rejection counter (tests read it).
func (g *Gateway) Rejected() *prometheus.CounterVec { return g.rejected }

// MaxConns is the connection cap in force (Config.MaxConns, lowered to the descriptor limit).
func (g *Gateway) MaxConns() int { return g.cfg.MaxConns }

// Ready reports whether the gateway is accepting terminals: an error while its accept loop is
// failing (out of file descriptors, say) or after it stopped. /readyz asks it.
func (g *Gateway) Ready(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.stopped != nil:
		return fmt.Errorf("OBD gateway stopped: %w", g.stopped)
	case g.acceptErr != nil:
		return fmt.Errorf("OBD gateway cannot accept connections: %w", g.acceptErr)
	}
	return nil
}

// Addr returns the bound address once Serve has started.
func (g *Gateway) Addr() net.Addr {
	<-g.ready
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addr
}

// Run listens on the configured address and serves until ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", g.cfg.Addr)
	if err != nil {
		return fmt.Errorf("OBD gateway listen on %s (set CLEARSKY_OBD_ADDR): %w", g.cfg.Addr, err)
	}
	return g.Serve(ctx, ln)
}

// Serve accepts terminals on ln until ctx ends, then closes every connection and waits for them.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	g.mu.Lock()
	g.addr = ln.Addr()
	g.mu.Unlock()
	close(g.ready)
	g.log.InfoContext(ctx, "obd_gateway_listening", "addr", ln.Addr().String())
	var wg sync.WaitGroup
	var live sync.Map
	go func() {
		<-ctx.Done()
		_ = ln.Close()
		live.Range(func(k, _ any) bool { _ = k.(net.Conn).Close(); return true })
	}()
	var delay time.Duration // back-off after a failed accept, as net/http's server does
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				wg.Wait()
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				g.mu.Lock()
				g.stopped = err
				g.mu.Unlock()
				wg.Wait()
				return fmt.Errorf("OBD gateway accept: %w", err)
			}
			// Out of descriptors (EMFILE, ENFILE), a connection aborted before it was taken, and
			// the like: wait, then accept again. The gateway reports not ready meanwhile.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			g.mu.Lock()
			first := g.acceptErr == nil
			g.acceptErr = err
			g.mu.Unlock()
			if first {
				g.log.WarnContext(ctx, "obd_gateway_accept_failing", "error", err.Error(), "retry_in", delay.String())
			}
			g.rejected.WithLabelValues("accept_error").Inc()
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			continue
		}
		if delay > 0 {
			delay = 0
			g.mu.Lock()
			g.acceptErr = nil
			g.mu.Unlock()
			g.log.InfoContext(ctx, "obd_gateway_accepting_again")
		}
		host := remoteHost(c)
		if !g.admit(host) {
			g.rejected.WithLabelValues("too_many_from_address").Inc()
			_ = c.Close()
			continue
		}
		select {
		case g.slots <- struct{}{}:
		default:
			g.release(host)
			g.rejected.WithLabelValues("too_many_connections").Inc()
			_ = c.Close()
			continue
		}
		live.Store(c, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-g.slots }()
			defer g.release(host)
			defer live.Delete(c)
			g.handle(ctx, c)
		}()
	}
}

func remoteHost(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// admit counts one more connection from host, unless it has MaxConnsPerAddr already.
func (g *Gateway) admit(host string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.perAddr[host] >= g.cfg.MaxConnsPerAddr {
		return false
	}
	g.perAddr[host]++
	return true
}

func (g *Gateway) release(host string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.perAddr[host]--; g.perAddr[host] <= 0 {
		delete(g.perAddr, host)
	}
}

// deadlineConn sets a read deadline before every read: idle after the last frame, a silent
// terminal is dropped after idle; once a frame's first byte has come, the whole frame must come
// within frame of it, so that a client dripping bytes cannot hold a connection.
type deadlineConn struct {
	net.Conn
	idle, frame time.Duration
	since       time.Time // when the first byte of the frame now arriving came; zero between frames
}

func (d *deadlineConn) Read(p []byte) (int, error) {
	if d.since.IsZero() {
		_ = d.Conn.SetReadDeadline(time.Now().Add(d.idle))
	} else {
		_ = d.Conn.SetReadDeadline(d.since.Add(d.frame))
	}
	n, err := d.Conn.Read(p)
	if n > 0 && d.since.IsZero() {
		d.since = time.Now()
	}
	return n, err
}

// frameDone restarts the frame clock before the next frame is read: from now if bytes of it are
// already buffered, else from its first byte.
func (d *deadlineConn) frameDone(buffered int) {
	if buffered > 0 {
		d.since = time.Now()
	} else {
		d.since = time.Time{}
	}
}

// reasons maps the codec's errors to the rejection counter's labels.
var reasons = []struct {
	err    error
	reason string
}{
	{protocol.ErrBadChecksum, "bad_checksum"},
	{protocol.ErrTooLong, "too_long"},
	{protocol.ErrBadLength, "bad_length"},
	{protocol.ErrBadVIN, "bad_vin"},
	{protocol.ErrUnknownCommand, "unknown_command"},
	{protocol.ErrBadEncryption, "bad_encryption"},
	{protocol.ErrEncrypted, "encrypted"},
	{protocol.ErrBadTime, "bad_time"},
	{protocol.ErrUnknownItem, "unknown_item"},
	{protocol.ErrTruncated, "truncated"},
	{protocol.ErrBadStart, "bad_start"},
}

func reasonOf(err error) (string, bool) {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason, true
		}
	}
	return "", false
}

// session is one terminal connection.
type session struct {
	g      *Gateway
	conn   net.Conn
	vin    string           // bound by a login
	key    *ecdsa.PublicKey // the key the logged-in terminal filed at activation, if any
	signed bool             // a report on this connection verified against key
	frame  protocol.Frame
	out    []byte
}

func (g *Gateway) handle(ctx context.Context, c net.Conn) {
	g.conns.Inc()
	defer g.conns.Dec()
	defer c.Close()
	s := &session{g: g, conn: c}
	dc := &deadlineConn{Conn: c, idle: g.cfg.ReadTimeout, frame: g.cfg.FrameTimeout}
	r := protocol.NewReader(dc, g.cfg.MaxFrame)
	dec := protocol.Decoder{Layout: g.cfg.Layout, Verified: true} // the Reader checked the BCC
	for {
		// The frame clock restarts here, not when the last frame was read: the time the gateway
		// spent on it (a full queue slowing it down, say) is not the terminal's.
		dc.frameDone(r.Buffered())
		raw, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				if errors.Is(err, protocol.ErrTruncated) {
					g.rejected.WithLabelValues("truncated").Inc()
				}
				return
			}
			if reason, ok := reasonOf(err); ok {
				g.rejected.WithLabelValues(reason).Inc()
				continue
			}
			return // read deadline, reset, or shutdown
		}
		if err := dec.Decode(raw, &s.frame); err != nil {
			reason, ok := reasonOf(err)
			if !ok {
				reason = "undecodable"
			}
			g.rejected.WithLabelValues(reason).Inc()
			continue
		}
		if err := s.dispatch(ctx, raw); err != nil {
			return
		}
	}
}

// dispatch acts on one decoded frame; an error ends the connection.
func (s *session) dispatch(ctx context.Context, raw []byte) error {
	g := s.g
	f := &s.frame
	vin := f.Header.VIN.String()
	switch f.Header.Command {
	case protocol.CmdActivation:
		return s.activate(ctx, vin, f.Data)
	case protocol.CmdLogin:
		reason := s.login(ctx, vin, strings.TrimRight(string(f.Login.ICCID[:]), "\x00 "))
		if reason != "" {
			g.rejected.WithLabelValues(reason).Inc()
			g.log.InfoContext(ctx, "obd_login_refused", "vin", vin, "reason", reason, "remote", s.conn.RemoteAddr().String())
			return nil
		}
		s.vin, s.signed = vin, false
		g.frames.WithLabelValues("login").Inc()
	case protocol.CmdTimeCalibration:
		g.frames.WithLabelValues("time_calibration").Inc()
		var err error
		s.out, err = protocol.AppendTimeCalibrationReply(s.out[:0], protocol.Header{VIN: f.Header.VIN, SoftwareVersion: f.Header.SoftwareVersion, Encryption: protocol.EncNone}, g.now())
		if err != nil {
			return err
		}
		_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err = s.conn.Write(s.out)
		return err
	case protocol.CmdRealtime, protocol.CmdReissue:
		if reason := s.bound(vin); reason != "" {
			g.rejected.WithLabelValues(reason).Inc()
			return nil
		}
		signed, reason := s.verify(f)
		if reason != "" {
			g.rejected.WithLabelValues(reason).Inc()
			return nil
		}
		fr := monitor.FrameOf(f, append([]byte(nil), raw...), g.now().UTC(), monitor.SourceTCP)
		fr.Signed = signed
		if err := g.sink.Submit(ctx, fr); err != nil {
			return err
		}
		if f.Header.Command == protocol.CmdReissue {
			g.frames.WithLabelValues("reissue").Inc()
		} else {
			g.frames.WithLabelValues("realtime").Inc()
		}
	case protocol.CmdLogout:
		if reason := s.bound(vin); reason != "" {
			g.rejected.WithLabelValues(reason).Inc()
			return nil
		}
		g.frames.WithLabelValues("logout").Inc()
		s.vin, s.key, s.signed = "", nil, false
	case protocol.CmdTamperAlarm:
		if reason := s.bound(vin); reason != "" {
			g.rejected.WithLabelValues(reason).Inc()
			return nil
		}
		g.frames.WithLabelValues("tamper_alarm").Inc()
		// The removal alarm carries no signature of its own: it counts as signed only on a
		// connection whose reports have verified. From a terminal with a key on file it is taken
		// only so: anyone who knows a truck's VIN and ICCID can log in, not sign.
		if s.key != nil && !s.signed {
			g.rejected.WithLabelValues("unproven_session").Inc()
			return nil
		}
		e := detect.RemovalEvent{VIN: vin, At: f.Tamper.Time, ReceivedAt: g.now().UTC(), Serial: f.Tamper.Serial, Unsigned: !s.signed}
		if lon, lat, ok := f.Tamper.Position.Degrees(); ok {
			e.PositionValid, e.Lon, e.Lat = true, lon, lat
		}
		return g.sink.SubmitRemoval(ctx, e)
	default:
		g.rejected.WithLabelValues("unsupported_command").Inc()
	}
	return nil
}

// bound says why a data frame for vin may not be taken on this connection, or "".
func (s *session) bound(vin string) string {
	switch {
	case s.vin == "":
		return "not_logged_in"
	case s.vin != vin:
		return "vin_mismatch"
	}
	return ""
}

// login checks a vehicle login against the registry and says why it is refused, or "".
func (s *session) login(ctx context.Context, vin, iccid string) string {
	if _, err := vehicleid.NormaliseVIN(vin); err != nil {
		return "bad_vin_check_digit"
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, err := s.g.registry.ByVIN(ctx, vin)
	switch {
	case vehicleinfo.IsUnknown(err):
		return "unknown_vin"
	case err != nil:
		return "registry_unavailable"
	case v.Status != "active":
		return "vehicle_not_active"
	case !v.TerminalBound:
		return "terminal_not_bound"
	case v.TerminalICCID != "" && !strings.EqualFold(v.TerminalICCID, iccid):
		return "iccid_mismatch"
	}
	s.key = nil
	if v.TerminalKey != "" {
		b, err := hex.DecodeString(v.TerminalKey)
		if err != nil || len(b) != protocol.PublicKeyLen {
			return "terminal_key_unreadable"
		}
		if s.key, err = sm2sig.PublicKey([64]byte(b)); err != nil {
			return "terminal_key_unreadable"
		}
	}
	return ""
}

// verify checks a report's signature: signed when it verifies against the key the terminal
// filed; a reason to reject it when a signature is there and fails, when the terminal has a key
// but sent no signature, or when unsigned data is refused (Config.RequireSigned).
func (s *session) verify(f *protocol.Frame) (signed bool, reason string) {
	r := &f.Report
	switch {
	case len(r.Signature) > 0 && s.key != nil:
		if err := sm2sig.Verify(s.key, r.Signed, r.Signature); err != nil {
			return false, "bad_signature"
		}
		s.signed = true
		return true, ""
	case len(r.Signature) > 0:
		// Signed, but no key on file to check it with: unproven.
	case s.key != nil:
		return false, "signature_missing" // an activated terminal always signs
	}
	if s.g.cfg.RequireSigned {
		return false, "unsigned"
	}
	return false, ""
}

// activate takes an HJ 1239 activation: the chip's public key is filed for the VIN if the
// activation's own signature verifies with it, the VIN is the frame's and is registered with a
// terminal bound, and no other key is on file. The terminal gets the 0x08 reply either way.
func (s *session) activate(ctx context.Context, vin string, data []byte) error {
	g := s.g
	res, reason := protocol.ActivationOK, byte(0)
	a, err := protocol.DecodeActivation(data)
	switch {
	case err != nil:
		g.rejected.WithLabelValues("bad_activation").Inc()
		res, reason = protocol.ActivationRefused, protocol.RefusedOther
	case a.VIN.String() != vin:
		g.rejected.WithLabelValues("vin_mismatch").Inc()
		res, reason = protocol.ActivationRefused, protocol.RefusedVIN
	default:
		res, reason = s.fileKey(ctx, vin, a)
	}
	if res == protocol.ActivationOK {
		g.frames.WithLabelValues("activation").Inc()
		g.log.InfoContext(ctx, "obd_terminal_activated", "vin", vin, "chip_id", chipID(a.ChipID))
	}
	s.out, err = protocol.AppendActivationReply(s.out[:0], protocol.Header{VIN: s.frame.Header.VIN, SoftwareVersion: s.frame.Header.SoftwareVersion}, res, reason)
	if err != nil {
		return err
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err = s.conn.Write(s.out)
	return err
}

func (s *session) fileKey(ctx context.Context, vin string, a protocol.Activation) (protocol.ActivationResult, byte) {
	g := s.g
	pub, err := sm2sig.PublicKey(a.PublicKey)
	if err == nil {
		err = sm2sig.Verify(pub, a.Signed, a.Signature)
	}
	if err != nil {
		g.rejected.WithLabelValues("bad_signature").Inc()
		return protocol.ActivationRefused, protocol.RefusedOther
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err = g.registry.FileTerminalKey(ctx, vin, chipID(a.ChipID), hex.EncodeToString(a.PublicKey[:]))
	switch {
	case err == nil:
		return protocol.ActivationOK, 0
	case vehicleinfo.IsUnknown(err):
		g.rejected.WithLabelValues("unknown_vin").Inc()
		return protocol.ActivationRefused, protocol.RefusedVIN
	case errors.Is(err, apperr.ErrConflict):
		g.rejected.WithLabelValues("key_already_filed").Inc()
		return protocol.ActivationRefused, protocol.RefusedAlreadyFiled
	}
	g.log.WarnContext(ctx, "obd_activation_not_filed", "vin", vin, "error", err.Error())
	g.rejected.WithLabelValues("registry_unavailable").Inc()
	return protocol.ActivationRefused, protocol.RefusedOther
}

// chipID is a chip id as text (trailing NULs and spaces dropped).
func chipID(b [protocol.ChipIDLen]byte) string { return strings.TrimRight(string(b[:]), "\x00 ") }
