package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleinfo"
	"github.com/clearsky/clearsky/services/obd/internal/detect"
	"github.com/clearsky/clearsky/services/obd/internal/monitor"
	"github.com/clearsky/clearsky/services/obd/internal/protocol"
)

// fakes: a sink that counts frames, a registry that knows one truck.
type sink struct {
	mu     sync.Mutex
	frames []*monitor.Frame
}

func (s *sink) Submit(_ context.Context, f *monitor.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames = append(s.frames, f)
	return nil
}
func (s *sink) SubmitRemoval(context.Context, detect.RemovalEvent) error { return nil }
func (s *sink) count() int                                               { s.mu.Lock(); defer s.mu.Unlock(); return len(s.frames) }

const (
	vin   = "LFWADRJF011002346"
	iccid = "89860012345678909999"
)

type registry struct{}

func (registry) ByVIN(_ context.Context, v string) (summary.Vehicle, error) {
	if v != vin {
		return summary.Vehicle{}, vehicleinfo.ErrUnknown
	}
	return summary.Vehicle{VIN: vin, Status: "active", TerminalBound: true, TerminalICCID: iccid}, nil
}
func (registry) FileTerminalKey(context.Context, string, string, string) error { return nil }

func newGateway(t *testing.T, cfg Config) (*Gateway, *sink, string) {
	t.Helper()
	s := &sink{}
	g := New(cfg, s, registry{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = g.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return g, s, ln.Addr().String()
}

// terminal logs in and sends one real-time frame from local address (127.0.0.x).
func terminal(t *testing.T, addr, local string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, _ := protocol.ParseVIN(vin)
	h := protocol.Header{VIN: v, Encryption: protocol.EncNone}
	l := protocol.Login{Time: time.Now(), Serial: 1}
	copy(l.ICCID[:], iccid)
	b, _ := protocol.AppendLogin(nil, h, l)
	r := protocol.Report{Time: time.Now().Add(-time.Minute).Truncate(time.Second), Items: []protocol.Item{{Type: protocol.ItemDiesel, Serial: 1}}}
	b, _ = protocol.AppendReport(b, h, &r)
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestFloodFromOneAddress: a host that opens more connections than MaxConnsPerAddr gets the
// rest closed and counted, and a terminal from another address is served meanwhile.
func TestFloodFromOneAddress(t *testing.T) {
	g, s, addr := newGateway(t, Config{MaxConnsPerAddr: 20, MaxConns: 30})
	var flood []net.Conn
	for range 40 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		flood = append(flood, c)
	}
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	waitFor(t, "the flood's extra connections refused", func() bool {
		return testutil.ToFloat64(g.rejected.WithLabelValues("too_many_from_address")) == 20
	})
	terminal(t, addr, "127.0.0.2")
	waitFor(t, "the terminal's frame", func() bool { return s.count() == 1 })
}

// TestSlowDripClosed: a client that sends a frame's bytes one at a time, slower than the frame
// deadline allows, is disconnected though it is never silent for the idle timeout.
func TestSlowDripClosed(t *testing.T) {
	_, _, addr := newGateway(t, Config{ReadTimeout: time.Minute, FrameTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		buf := make([]byte, 16)
		for {
			if _, err := c.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	frame := []byte("##\x02LFWADRJF011002346\x01\x01\x00\x10")
	for _, b := range frame {
		select {
		case d := <-closed:
			if d > 2*time.Second {
				t.Fatalf("closed after %v, want within about the 300 ms frame deadline", d)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		_, _ = c.Write([]byte{b})
	}
	select {
	case d := <-closed:
		if d > 2*time.Second {
			t.Fatalf("closed after %v, want within about the 300 ms frame deadline", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a dripping client still holds its connection")
	}
}

// failingListener fails Accept with err n times, then serves the real listener.
type failingListener struct {
	net.Listener
	mu  sync.Mutex
	n   int
	err error
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.n > 0 {
		l.n--
		l.mu.Unlock()
		return nil, l.err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// TestAcceptErrorsBackOffAndReport: EMFILE from accept (out of descriptors) no longer stops the
// gateway: it reports not ready, backs off, and serves terminals once accept works again.
func TestAcceptErrorsBackOffAndReport(t *testing.T) {
	s := &sink{}
	g := New(Config{}, s, registry{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &failingListener{Listener: inner, n: 8, err: &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the gateway to report the accept failure", func() bool { return g.Ready(ctx) != nil })
	if err := g.Ready(ctx); !errors.Is(err, syscall.EMFILE) {
		t.Fatalf("Ready = %v, want the EMFILE", err)
	}
	terminal(t, inner.Addr().String(), "127.0.0.1")
	waitFor(t, "a terminal served after the errors", func() bool { return s.count() == 1 })
	if err := g.Ready(ctx); err != nil {
		t.Fatalf("Ready after recovery = %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v", err)
	default:
	}
}

// TestLimitBelowDescriptors: the connection cap leaves ReservedFDs below the soft descriptor
// limit, which Limit raises to the hard one.
func TestLimitBelowDescriptors(t *testing.T) {
	n, err := Limit(1 << 30)
	if err != nil {
		t.Fatal(err)
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur != rl.Max {
		t.Errorf("soft limit %d not raised to the hard %d", rl.Cur, rl.Max)
	}
	if want := min(int64(rl.Cur)-ReservedFDs, 1<<30); int64(n) != max(1, want) {
		t.Errorf("Limit = %d, want %d", n, want)
	}
	if n, _ := Limit(10); n != 10 {
		t.Errorf("Limit(10) = %d, want 10", n)
	}
}
