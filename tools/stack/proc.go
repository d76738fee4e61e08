package stack

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is one process of the stack, in a process group of its own so that stopping it stops
// whatever it started too (nginx's workers).
type proc struct {
	name string
	argv []string
	env  []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// spawn starts argv with exactly env, its output appended to log.
func spawn(name, log string, env []string, argv ...string) (*proc, error) {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	// Its own group, killed with the stack's process if that dies first (SIGKILL, say).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, argv: argv, env: env, log: log, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process group.
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// stop ends the process group: SIGTERM, then SIGKILL after grace. It reports whether the
// process needed the SIGKILL.
func (p *proc) stop(grace time.Duration) (killed bool) {
	if p.exited() {
		p.signal(syscall.SIGKILL) // what it left behind in its group
		return false
	}
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		killed = true
		p.signal(syscall.SIGKILL)
		<-p.done
	}
	p.signal(syscall.SIGKILL)
	return killed
}

// kill ends the process group at once, as a crash would.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

// tail is the end of the process's log, for an error message.
func (p *proc) tail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls ok every 100 ms until it returns nil, the process exits, or timeout passes.
func (p *proc) waitFor(what string, timeout time.Duration, ok func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ok()
		if err == nil {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited (%v) before %s; %s ends:\n%s", p.name, p.err, what, filepath.Base(p.log), p.tail())
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("%s: no %s within %s; %s ends:\n%s", p.name, what, timeout, filepath.Base(p.log), p.tail()), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
