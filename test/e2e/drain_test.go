package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/netns"
	"github.com/proxyctl/proxyctl/test/replica"
)

// longRequest is how long the backend holds /slow: long enough that the
// drain must wait for it, as a rollout must for a slow download.
const longRequest = 2 * time.Second

// TestEnvoyDrainOnShutdown plays a pod's termination as the kubelet does
// it: the shutdown manager runs, Envoy's preStop asks its /shutdown, the
// shutdown manager's preStop runs `proxyctl envoy shutdown`, and Envoy gets
// SIGTERM once /shutdown answers. Steady traffic and long requests run
// throughout; none may fail. New connections are either answered or
// refused (the listeners close once Envoy's drain time is over).
func TestEnvoyDrainOnShutdown(t *testing.T) {
	s := newStack(t)
	var slowSeen atomic.Int32
	var seen sync.Map // the steady requests' ids the backend received
	echo := netns.EchoHandler("drain")
	s.addBackend(t, "drain", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(requestIDHeader); id != "" {
			seen.Store(id, true)
		}
		if r.URL.Path == "/slow" {
			slowSeen.Add(1)
			select {
			case <-time.After(longRequest):
			case <-r.Context().Done():
				return
			}
		}
		echo.ServeHTTP(w, r)
	}))
	ns := kube.NewNamespace(t)
	s.service(t, ns, "drain", "drain")
	apply(t, ns, simpleProxy("drain", "drain.example.com", "drain"))
	eventually(t, "route to the backend", s.expect(t, "drain.example.com", "/", 200, "drain"))

	// The harness's own client keeps an idle keep-alive connection to
	// Envoy, which Envoy would close only at its idle timeout (an hour):
	// not a client of this scenario.
	loopback.CloseIdleConnections()

	bin := replica.Binary(t)
	ports, err := cluster.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	readyFile := filepath.Join(t.TempDir(), "ok")
	mgr := exec.Command(bin, "envoy", "shutdown-manager", "--serve-port", strconv.Itoa(ports[0]),
		"--ready-file", readyFile, "--ready-check-interval", "50ms")
	mgrLog := &lockedBuffer{}
	mgr.Stdout, mgr.Stderr = mgrLog, mgrLog
	if err := mgr.Start(); err != nil {
		t.Fatal(err)
	}
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Wait() }()
	t.Cleanup(func() {
		_ = mgr.Process.Signal(syscall.SIGTERM)
		select {
		case <-mgrDone:
		case <-time.After(10 * time.Second):
			_ = mgr.Process.Kill()
		}
		if t.Failed() {
			t.Logf("shutdown manager:\n%s", mgrLog.String())
		}
	})
	mgrURL := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	eventually(t, "shutdown manager up", func() error {
		resp, err := loopback.Get(mgrURL + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz: %d", resp.StatusCode)
		}
		return nil
	})

	var stopped atomic.Bool // Envoy has been sent SIGTERM
	stopTraffic := make(chan struct{})
	var tally struct {
		sync.Mutex
		ok, refusedBeforeStop, refusedAfterStop int
		resetInBacklog                          int
		failed                                  []string
	}
	record := func(a attempt) {
		tally.Lock()
		defer tally.Unlock()
		err, status := a.err, a.status
		var op *net.OpError
		switch {
		case err == nil && status == http.StatusOK:
			tally.ok++
		case err != nil && errors.As(err, &op) && op.Op == "dial":
			// Refused before anything was sent: a client tries again
			// elsewhere, nothing is lost.
			if stopped.Load() {
				tally.refusedAfterStop++
			} else {
				tally.refusedBeforeStop++
			}
		case a.resetBeforeAccept(&seen):
			// The kernel completed the handshake, then Envoy closed its
			// listener with the connection still in the accept queue:
			// Linux resets such connections. Envoy never read the
			// request and the backend never saw it, so a client may
			// retry it anywhere; like a refused dial, nothing is lost.
			tally.resetInBacklog++
		case err != nil:
			tally.failed = append(tally.failed, err.Error())
		default:
			tally.failed = append(tally.failed, fmt.Sprintf("status %d", status))
		}
	}
	steady := func(keepAlive bool) {
		client := &http.Client{
			Transport: &http.Transport{Proxy: nil, DisableKeepAlives: !keepAlive},
			Timeout:   10 * time.Second,
		}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		// Bounded: 6000 requests at most, far more than the test needs.
		for i := 0; i < 6000; i++ {
			select {
			case <-stopTraffic:
				return
			case <-tick.C:
			}
			record(steadyRequest(client, s.httpAddr, fmt.Sprintf("%t-%d", keepAlive, i)))
		}
	}
	var traffic sync.WaitGroup
	for _, keepAlive := range []bool{true, false} {
		traffic.Add(1)
		go func() { defer traffic.Done(); steady(keepAlive) }()
	}

	// Long requests, each on a connection of its own, in flight before
	// the drain starts.
	const longCount = 4
	type longResult struct {
		err    error
		status int
		at     time.Time
	}
	longDone := make(chan longResult, longCount)
	for i := 0; i < longCount; i++ {
		go func() {
			client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 20 * time.Second}
			req, _ := http.NewRequest(http.MethodGet, "http://"+s.httpAddr+"/slow", nil)
			req.Host = "drain.example.com"
			resp, err := client.Do(req)
			r := longResult{err: err}
			if err == nil {
				_, r.err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				r.status = resp.StatusCode
			}
			r.at = time.Now()
			longDone <- r
		}()
	}
	eventually(t, "long requests reach the backend", func() error {
		if n := slowSeen.Load(); n < longCount {
			return fmt.Errorf("%d of %d long requests at the backend", n, longCount)
		}
		return nil
	})

	// Envoy's preStop: GET /shutdown, which holds until the drain is done.
	preStopDone := make(chan error, 1)
	go func() {
		client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 60 * time.Second}
		resp, err := client.Get(mgrURL + "/shutdown")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("/shutdown: %d", resp.StatusCode)
			}
		}
		preStopDone <- err
	}()

	// The shutdown manager's preStop. The test Envoy drains for 1s
	// (--drain-time-s 1), so counting starts after it, once the
	// listeners are closed.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, bin, "envoy", "shutdown",
		"--admin-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.envoy.AdminPort())),
		"--check-delay", "1s", "--check-interval", "100ms", "--ready-file", readyFile).CombinedOutput()
	if err != nil {
		t.Fatalf("proxyctl envoy shutdown: %v\n%s", err, out)
	}
	drained := time.Now()
	t.Logf("drain took %v", drained.Sub(start))

	select {
	case err := <-preStopDone:
		if err != nil {
			t.Fatalf("Envoy's preStop: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("/shutdown did not answer after the drain")
	}

	// The kubelet's SIGTERM, once the preStop hooks have returned.
	stopped.Store(true)
	stopAt := time.Now()
	if err := s.envoy.Stop(); err != nil {
		t.Fatal(err)
	}
	// A little traffic against the stopped Envoy, then done.
	refusedAfter := func() error {
		tally.Lock()
		defer tally.Unlock()
		if tally.refusedAfterStop == 0 {
			return errors.New("no request since the stop yet")
		}
		return nil
	}
	eventually(t, "traffic after the stop", refusedAfter)
	close(stopTraffic)
	traffic.Wait()

	for i := 0; i < longCount; i++ {
		r := <-longDone
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("long request: status %d, err %v", r.status, r.err)
		}
		if !r.at.Before(stopAt) {
			t.Errorf("long request finished at %v, after Envoy's stop at %v", r.at, stopAt)
		}
	}
	tally.Lock()
	defer tally.Unlock()
	t.Logf("steady traffic: %d answered, %d refused during the drain (%d of them reset in the accept queue), %d refused after the stop",
		tally.ok, tally.refusedBeforeStop+tally.resetInBacklog, tally.resetInBacklog, tally.refusedAfterStop)
	if len(tally.failed) > 0 {
		t.Errorf("%d requests failed, first: %q", len(tally.failed), tally.failed[0])
	}
	if tally.ok == 0 {
		t.Error("no steady request was answered")
	}
	// The listeners close at the end of the drain time, before the stop:
	// clients learn to go elsewhere while Envoy still runs.
	if tally.refusedBeforeStop+tally.resetInBacklog == 0 {
		t.Error("no new connection was refused before the stop: the listeners stayed open")
	}
}

// requestIDHeader tags each steady request, so the test can tell whether
// the backend ever received one that failed.
const requestIDHeader = "X-Drain-Test-Id"

// attempt is one steady request and what the client saw of it.
type attempt struct {
	id     string
	err    error
	status int
	// reused: the request went on a kept-alive connection; answered: a
	// byte of the response arrived.
	reused, answered bool
}

// steadyRequest sends one tagged GET through Envoy and traces the
// connection it used.
func steadyRequest(client *http.Client, addr, id string) attempt {
	a := attempt{id: id}
	trace := &httptrace.ClientTrace{
		GotConn:              func(i httptrace.GotConnInfo) { a.reused = i.Reused },
		GotFirstResponseByte: func() { a.answered = true },
	}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodGet, "http://"+addr+"/", nil)
	req.Host = "drain.example.com"
	req.Header.Set(requestIDHeader, id)
	resp, err := client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		a.status = resp.StatusCode
	}
	a.err = err
	return a
}

// resetBeforeAccept tells whether the request died as a connection in the
// listener's accept queue does when the listener closes: reset on a fresh
// connection, before any response, and never received by the backend.
func (a attempt) resetBeforeAccept(seen *sync.Map) bool {
	if a.err == nil || !errors.Is(a.err, syscall.ECONNRESET) || a.reused || a.answered {
		return false
	}
	_, reached := seen.Load(a.id)
	return !reached
}

// lockedBuffer collects a child's output from two pipes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
