package replica

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/httpserver"
)

// Exit is one end of a supervised replica's process.
type Exit struct {
	// Pid is the process that ended.
	Pid int
	// Code is the exit code, -1 when a signal killed it.
	Code int
	At   time.Time
}

// Supervisor runs one replica as a kubelet runs a container with
// restartPolicy Always: whenever the process exits, for whatever reason, it
// starts it again after a short delay, with the same identity, kubeconfig
// and ports, so an Envoy connected to it reconnects to the same address.
// Kubernetes backs off from 10s; tests use a short fixed delay.
type Supervisor struct {
	Identity string
	// HTTPAddr and XDSAddr stay the same across restarts.
	HTTPAddr string
	XDSAddr  string
	LogPath  string

	opts  Options
	delay time.Duration

	mu      sync.Mutex
	current *Replica
	starts  int
	exits   []Exit
	changed chan struct{} // closed and replaced on every start and exit

	stop chan struct{}
	done chan struct{}
}

// Supervise starts the replica and keeps it running until the test ends.
// restartDelay is the pause between an exit and the next start.
func Supervise(t testing.TB, o Options, restartDelay time.Duration) *Supervisor {
	t.Helper()
	r, err := Launch(o)
	if err != nil {
		t.Fatal(err)
	}
	// Every restart comes back on the first run's ports.
	o.HTTPPort, o.XDSPort = port(r.HTTPAddr), port(r.XDSAddr)
	s := &Supervisor{
		Identity: o.Identity, HTTPAddr: r.HTTPAddr, XDSAddr: r.XDSAddr, LogPath: r.LogPath,
		opts: o, delay: restartDelay,
		current: r, starts: 1, changed: make(chan struct{}),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go s.loop()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			if log, err := os.ReadFile(s.LogPath); err == nil {
				t.Logf("--- log of supervised replica %s (all runs):\n%s", s.Identity, tail(string(log), 80))
			}
		}
	})
	return s
}

func (s *Supervisor) loop() {
	defer close(s.done)
	for {
		r := s.Current()
		select {
		case <-r.Exited():
		case <-s.stop:
			r.Kill()
			<-r.Exited()
			return
		}
		code, _ := r.Wait(time.Second) // it has exited: returns at once
		var delay time.Duration
		s.update(func() {
			s.exits = append(s.exits, Exit{Pid: r.Pid(), Code: code, At: time.Now()})
			delay = s.delay // as set when the exit is seen
		})
		if !s.restart(code, delay) {
			return
		}
	}
}

// restart starts the next process after the delay, trying again until it
// starts or the supervisor stops; it reports whether one started.
func (s *Supervisor) restart(code int, delay time.Duration) bool {
	for {
		select {
		case <-s.stop:
			return false
		case <-time.After(delay):
		}
		appendLine(s.LogPath, fmt.Sprintf("--- supervisor: %s exited with code %d; restarting", s.Identity, code))
		// The same ports as before: the replica comes back where Envoy and
		// the tests expect it. A port still held by the previous process
		// makes it exit, and the next round starts it again.
		next, err := Launch(s.opts)
		if err != nil {
			continue
		}
		s.update(func() { s.current, s.starts = next, s.starts+1 })
		return true
	}
}

// SetRestartDelay changes the pause before the restarts after exits seen
// from now on: longer than
// the lease duration, it makes a standby take over from a killed leader
// instead of the leader's own restart, as kubelet's CrashLoopBackOff would.
func (s *Supervisor) SetRestartDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// appendLine marks a restart in the replica's log, for people reading it.
func port(hostPort string) int {
	_, p, _ := net.SplitHostPort(hostPort)
	n, _ := strconv.Atoi(p)
	return n
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = fmt.Fprintln(f, line)
}

func (s *Supervisor) update(f func()) {
	s.mu.Lock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Current is the replica process running now, or the one that just exited
// if the next has not started yet.
func (s *Supervisor) Current() *Replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// Exits lists the processes that ended, in order.
func (s *Supervisor) Exits() []Exit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Exit(nil), s.exits...)
}

// WaitStarts waits until at least n processes have been started and
// returns the current one.
func (s *Supervisor) WaitStarts(n int, timeout time.Duration) (*Replica, error) {
	return s.wait(timeout, fmt.Sprintf("%d starts", n), func() bool { return s.starts >= n })
}

// WaitExits waits until at least n processes have ended and returns the
// current one.
func (s *Supervisor) WaitExits(n int, timeout time.Duration) (*Replica, error) {
	return s.wait(timeout, fmt.Sprintf("%d exits", n), func() bool { return len(s.exits) >= n })
}

func (s *Supervisor) wait(timeout time.Duration, what string, cond func() bool) (*Replica, error) {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ok, r, changed := cond(), s.current, s.changed
		s.mu.Unlock()
		if ok {
			return r, nil
		}
		select {
		case <-changed:
		case <-deadline:
			return nil, fmt.Errorf("replica %s: no %s after %s", s.Identity, what, timeout)
		}
	}
}

// Leader reads /leader of the current process.
func (s *Supervisor) Leader(ctx context.Context) (httpserver.LeaderStatus, error) {
	return s.Current().Leader(ctx)
}

// Stop kills the current process and restarts no more. It may be called
// more than once.
func (s *Supervisor) Stop() {
	s.mu.Lock()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.mu.Unlock()
	<-s.done
}

// Pid is the process id of the replica, for telling restarts apart.
func (r *Replica) Pid() int { return r.cmd.Process.Pid }

// String names the replica and its process.
func (r *Replica) String() string { return r.Identity + "[" + strconv.Itoa(r.Pid()) + "]" }
