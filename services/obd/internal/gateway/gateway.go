// Package gateway is the OBD service's TCP edge: on-board terminals of heavy diesel trucks
// connect and send GB 17691-2018 annex Q frames. A connection is bound to one VIN by a vehicle
// login that the registry must accept (the VIN is registered, active, and bound to a terminal
// whose SIM ICCID the login carries); frames before a login, for another VIN, or that fail the
// checks are rejected and counted, and the connection goes on. Real-time and reissued reports
// go to the monitor, whose bounded queues slow this reader when storage is slow.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/libs/vehicleinfo"
	"github.com/clearsky/clearsky/services/obd/internal/detect"
	"github.com/clearsky/clearsky/services/obd/internal/monitor"
	"github.com/clearsky/clearsky/services/obd/internal/protocol"
)

// Config tunes the gateway.
type Config struct {
	Addr        string          // CLEARSKY_OBD_ADDR, default :7700
	ReadTimeout time.Duration   // a connection silent this long is closed; default 3 min
	MaxFrame    int             // largest frame accepted; default 8192 bytes
	MaxConns    int             // concurrent terminals; default 20000
	Layout      protocol.Layout // GB 17691 (default) or HJ 1239 report layout
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
}

// Sink is where frames go (the monitor).
type Sink interface {
	Submit(ctx context.Context, f *monitor.Frame) error
	SubmitRemoval(ctx context.Context, e detect.RemovalEvent) error
}

// Registry answers whether a VIN may log in.
type Registry interface {
	ByVIN(ctx context.Context, vin string) (summary.Vehicle, error)
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

	mu    sync.Mutex
	addr  net.Addr
	ready chan struct{}
}

// New returns a gateway; its metrics are registered on reg.
func New(cfg Config, sink Sink, registry Registry, log *slog.Logger, reg prometheus.Registerer) *Gateway {
	cfg.defaults()
	g := &Gateway{cfg: cfg, sink: sink, registry: registry, log: log, now: time.Now, slots: make(chan struct{}, cfg.MaxConns), ready: make(chan struct{}),
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
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			wg.Wait()
			return fmt.Errorf("OBD gateway accept: %w", err)
		}
		select {
		case g.slots <- struct{}{}:
		default:
			g.rejected.WithLabelValues("too_many_connections").Inc()
			_ = c.Close()
			continue
		}
		live.Store(c, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-g.slots }()
			defer live.Delete(c)
			g.handle(ctx, c)
		}()
	}
}

// deadlineConn sets a read deadline before every read, so a silent terminal is dropped.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (d deadlineConn) Read(p []byte) (int, error) {
	_ = d.Conn.SetReadDeadline(time.Now().Add(d.timeout))
	return d.Conn.Read(p)
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
	g     *Gateway
	conn  net.Conn
	vin   string // bound by a login
	frame protocol.Frame
	out   []byte
}

func (g *Gateway) handle(ctx context.Context, c net.Conn) {
	g.conns.Inc()
	defer g.conns.Dec()
	defer c.Close()
	s := &session{g: g, conn: c}
	r := protocol.NewReader(deadlineConn{Conn: c, timeout: g.cfg.ReadTimeout}, g.cfg.MaxFrame)
	dec := protocol.Decoder{Layout: g.cfg.Layout, Verified: true} // the Reader checked the BCC
	for {
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
	case protocol.CmdLogin:
		reason := s.login(ctx, vin, strings.TrimRight(string(f.Login.ICCID[:]), "\x00 "))
		if reason != "" {
			g.rejected.WithLabelValues(reason).Inc()
			g.log.InfoContext(ctx, "obd_login_refused", "vin", vin, "reason", reason, "remote", s.conn.RemoteAddr().String())
			return nil
		}
		s.vin = vin
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
		fr := monitor.FrameOf(f, append([]byte(nil), raw...), g.now().UTC(), monitor.SourceTCP)
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
		s.vin = ""
	case protocol.CmdTamperAlarm:
		if reason := s.bound(vin); reason != "" {
			g.rejected.WithLabelValues(reason).Inc()
			return nil
		}
		g.frames.WithLabelValues("tamper_alarm").Inc()
		e := detect.RemovalEvent{VIN: vin, At: f.Tamper.Time, ReceivedAt: g.now().UTC(), Serial: f.Tamper.Serial}
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
	return ""
}
