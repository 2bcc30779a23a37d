//go:build linux

package netns

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a program running inside the namespace (a real peer such as
// an authorization server), with its output kept for the test to read.
type Process struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // set when done closes
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the
// test's reads at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs bin with args inside the namespace (`ip netns exec`, which
// joins the namespace and then executes bin itself, so the process is
// bin), and stops it when the test ends. Its network is the namespace's:
// whatever it listens on is reachable from the host only at the
// namespace's addresses, and it can reach nothing beyond the /24. The
// kernel kills it if the test binary dies first.
func (n *NS) Start(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{name: bin, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", n.name, bin}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("netns: start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("output of %s:\n%s", bin, p.Output())
		}
	})
	return p
}

// Output is everything the process wrote so far, stdout and stderr.
func (p *Process) Output() string { return p.out.String() }

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop ends the process: SIGTERM, then SIGKILL after five seconds. It
// returns once the process is gone; calling it again does nothing.
func (p *Process) Stop() {
	if exited, _ := p.Exited(); exited {
		return
	}
	// The process group: anything it started goes too.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// WaitOutput waits until the process's output contains s, or fails after
// timeout (or when the process exits first).
func (p *Process) WaitOutput(s string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !bytes.Contains([]byte(p.Output()), []byte(s)) {
		if exited, err := p.Exited(); exited {
			return errors.Join(fmt.Errorf("%s exited before writing %q", p.name, s), err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not write %q within %s", p.name, s, timeout)
		}
		time.Sleep(20 * time.Millisecond) // polling, bounded by the deadline
	}
	return nil
}
