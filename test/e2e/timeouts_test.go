package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/proxyctl/proxyctl/internal/xds"
	"github.com/proxyctl/proxyctl/test/netns"
)

// The timings below are lower bounds: a timer in Envoy never fires early,
// however loaded the machine. Upper bounds are only deadlines that stop a
// test that would otherwise hang, or orderings between two connections
// whose timers are seconds apart.

// closeTimeouts sets Envoy's delayed close and drain (grace period)
// timeouts far above their defaults (1s and 5s), so that what Envoy does
// cannot be its defaults. The maximum connection duration starts the
// drain of a connection.
const closeTimeouts = `
timeouts:
  delayed-close-timeout: 8s
  connection-shutdown-grace-period: 10s
  max-connection-duration: 3s
`

// TestTimeoutsConnectionClose: timeouts.delayed-close-timeout (Envoy's
// delayed_close_timeout) and timeouts.connection-shutdown-grace-period
// (drain_timeout), through a real Envoy.
func TestTimeoutsConnectionClose(t *testing.T) {
	s := newSettingsStack(t, closeTimeouts)
	eventually(t, "route", s.expect(t, "settings.example.com", "/", 200, "echo"))

	// Envoy answers before the client has sent its whole request (here
	// a 404 for an unknown host, while the body is still coming), so it
	// must close the connection; it then waits for the client to close
	// first, up to the delayed close timeout, so that the client does not
	// meet a reset before it reads the answer. Two connections at once:
	// the client that keeps its end open sees Envoy close only after the
	// timeout; the client that closes its side (a FIN) is closed at once,
	// before the other. (A request Envoy has read whole is closed without
	// delay: nothing can race.)
	t.Run("delayed-close-timeout", func(t *testing.T) {
		var kept, closed earlyClose
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); kept = s.answerEarly(false) }()
		go func() { defer wg.Done(); closed = s.answerEarly(true) }()
		wg.Wait()
		if kept.err != nil || closed.err != nil {
			t.Fatalf("client keeping its end: %v; client closing its end: %v", kept.err, closed.err)
		}
		t.Logf("Envoy closed %s after the response to the client keeping its end open, %s after it to the client that closed its end", kept.wait, closed.wait)
		// 8s configured; the client may read the response a little
		// after Envoy started its timer.
		if kept.wait < 5*time.Second {
			t.Errorf("Envoy closed %s after the response; want the 8s delayed close timeout (Envoy's default is 1s)", kept.wait)
		}
		if !closed.at.Before(kept.at) {
			t.Errorf("the client that closed its end was closed at %s, not before the one keeping it open (%s): Envoy did not wait for the peer", closed.at, kept.at)
		}
		if n, err := s.delayedCloseTimeouts(); err != nil || n < 1 {
			t.Errorf("downstream_cx_delayed_close_timeout = %d, %v; want at least 1", n, err)
		}
	})

	// When the maximum connection duration (3s) is reached, Envoy drains
	// an HTTP/2 connection: a first GOAWAY announces it, new streams are
	// still served for the grace period, then a final GOAWAY names the
	// last stream served and the connection closes.
	t.Run("connection-shutdown-grace-period", func(t *testing.T) {
		c, br := rawConn(t, s.httpAddr, "")
		if err := c.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
			t.Fatal(err)
		}
		h := newH2Client(t, c, br)
		first := h.awaitGoAway(t)
		firstAt := time.Now()
		if first.LastStreamID != 1<<31-1 || first.ErrCode != http2.ErrCodeNo {
			t.Errorf("first GOAWAY: last stream %d, %v; want a shutdown notice (2^31-1, NO_ERROR)", first.LastStreamID, first.ErrCode)
		}
		// A new stream within the grace period is served.
		status, body := h.get(t, 1, "settings.example.com", "/grace")
		if status != "200" || !strings.Contains(body, `"/grace"`) {
			t.Errorf("stream opened in the grace period: %s %q, want 200 from the backend", status, body)
		}
		final := h.awaitGoAway(t)
		gap := time.Since(firstAt)
		t.Logf("final GOAWAY %s after the first", gap)
		if final.LastStreamID != 1 {
			t.Errorf("final GOAWAY: last stream %d, want 1 (the stream served in the grace period)", final.LastStreamID)
		}
		// 10s configured; Envoy's default is 5s.
		if gap < 7*time.Second {
			t.Errorf("final GOAWAY %s after the first, want the 10s grace period", gap)
		}
	})
}

// earlyClose is how Envoy closed a connection whose request it answered
// early.
type earlyClose struct {
	// wait is the time from reading the answer to Envoy's close, at the
	// moment of the close.
	wait time.Duration
	at   time.Time
	err  error
}

// answerEarly sends a request whose body never comes whole, for an
// unknown host: Envoy answers 404 at once and closes the connection. With
// halfClose, the client then closes its side (a FIN); otherwise it keeps
// it open. It reads until Envoy closes.
func (s *stack) answerEarly(halfClose bool) earlyClose {
	c, err := net.DialTimeout("tcp", s.httpAddr, 5*time.Second)
	if err != nil {
		return earlyClose{err: err}
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if err := c.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
		return earlyClose{err: err}
	}
	if _, err := io.WriteString(c, "POST /delayed-close HTTP/1.1\r\nHost: unknown.example.com\r\nContent-Length: 100\r\n\r\npartial"); err != nil {
		return earlyClose{err: err}
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return earlyClose{err: err}
	}
	// The body has a Content-Length: reading it does not wait for the
	// close.
	if _, err := io.ReadAll(resp.Body); err != nil {
		return earlyClose{err: err}
	}
	if resp.StatusCode != http.StatusNotFound || !resp.Close {
		return earlyClose{err: fmt.Errorf("response %d, close %v; want 404 with Connection: close", resp.StatusCode, resp.Close)}
	}
	answered := time.Now()
	if halfClose {
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			return earlyClose{err: err}
		}
	}
	n, err := br.Read(make([]byte, 1))
	if !errors.Is(err, io.EOF) {
		return earlyClose{err: fmt.Errorf("after the response: read %d bytes, %v; want Envoy to close (EOF)", n, err)}
	}
	now := time.Now()
	return earlyClose{wait: now.Sub(answered), at: now}
}

// delayedCloseTimeouts is Envoy's count of delayed close timeouts on
// its HTTP listener (not its admin interface's).
func (s *stack) delayedCloseTimeouts() (int64, error) {
	stats, err := s.envoy.Stats()
	if err != nil {
		return 0, err
	}
	const name = "http." + xds.HTTPListenerName + ".downstream_cx_delayed_close_timeout"
	n, ok := stats[name]
	if !ok {
		return 0, errors.New("no stat " + name)
	}
	return n, nil
}

// h2Client is a bare HTTP/2 client with prior knowledge (h2c), which
// shows the frames Envoy sends.
type h2Client struct {
	fr  *http2.Framer
	dec *hpack.Decoder
}

func newH2Client(t *testing.T, c net.Conn, br *bufio.Reader) *h2Client {
	t.Helper()
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, br)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return &h2Client{fr: fr, dec: hpack.NewDecoder(4096, nil)}
}

// next reads the next frame, acknowledging Envoy's SETTINGS.
func (h *h2Client) next(t *testing.T) http2.Frame {
	t.Helper()
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			if err := h.fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		return f
	}
}

// awaitGoAway reads frames up to the next GOAWAY.
func (h *h2Client) awaitGoAway(t *testing.T) *http2.GoAwayFrame {
	t.Helper()
	for {
		if g, ok := h.next(t).(*http2.GoAwayFrame); ok {
			return g
		}
	}
}

// get sends GET on a new stream and reads its response: status and body.
func (h *h2Client) get(t *testing.T, stream uint32, host, path string) (string, string) {
	t.Helper()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: host}, {Name: ":path", Value: path},
	} {
		if err := enc.WriteField(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	var status string
	var body bytes.Buffer
	for {
		switch f := h.next(t).(type) {
		case *http2.HeadersFrame:
			fields, err := h.dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				t.Fatal(err)
			}
			for _, hf := range fields {
				if hf.Name == ":status" {
					status = hf.Value
				}
			}
			if f.StreamEnded() {
				return status, body.String()
			}
		case *http2.DataFrame:
			body.Write(f.Data())
			if f.StreamEnded() {
				return status, body.String()
			}
		case *http2.RSTStreamFrame:
			t.Fatalf("stream %d reset: %v", f.StreamID, f.ErrCode)
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY (last stream %d) before the response", f.LastStreamID)
		}
	}
}

// upstreamSettings: a 3s connect timeout (Contour's default is 2s), a
// 16KiB buffer per client connection, 32KiB per upstream connection.
const upstreamSettings = `
timeouts:
  connect-timeout: 3s
listener:
  per-connection-buffer-limit-bytes: 16384
cluster:
  per-connection-buffer-limit-bytes: 32768
`

// TestTimeoutsUpstream: timeouts.connect-timeout (every cluster's
// connect_timeout), listener.per-connection-buffer-limit-bytes and
// cluster.per-connection-buffer-limit-bytes through a real Envoy.
func TestTimeoutsUpstream(t *testing.T) {
	s := newSettingsStack(t, upstreamSettings)
	ns := kube.NewNamespace(t)

	// A backend that never completes the TCP handshake.
	silent := silentListener(t, s.net, 9400)
	backendService(t, ns, "silent", s.net.IP(), int32(silent))

	// A backend that fails the first attempt of each request with 503,
	// having read the whole body, and answers the retry.
	var mu sync.Mutex
	attempts := map[string]int{}
	s.addBackend(t, "flaky", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		attempts[r.URL.Path]++
		n := attempts[r.URL.Path]
		mu.Unlock()
		if n == 1 {
			http.Error(w, "first attempt fails", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "attempt %d, %d bytes", n, len(body))
	}))
	s.service(t, ns, "flaky", "flaky")
	s.service(t, ns, "echo", "echo")
	apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: upstream}
spec:
  virtualhost: {fqdn: upstream.example.com}
  routes:
  - conditions: [{prefix: /silent}]
    services: [{name: silent, port: 80}]
  - conditions: [{prefix: /retried}]
    retryPolicy: {count: 1}
    services: [{name: flaky, port: 80}]
  - services: [{name: echo, port: 80}]
`)
	eventually(t, "route", s.expect(t, "upstream.example.com", "/", 200, "echo"))
	// Envoy gives up connecting after the connect timeout and answers 503
	// with the response flag UF (upstream connection failure), counting
	// the timeout in the cluster's upstream_cx_connect_timeout. The
	// answer comes no sooner than 3s: not Contour's default of 2s.
	t.Run("connect-timeout", func(t *testing.T) {
		s.expectConnectTimeout(t, ns, "upstream.example.com", 2900*time.Millisecond)
	})

	// Envoy keeps the body of a request it may retry, but no more than
	// the client connection's buffer limit (16KiB): a request with a
	// larger body is not retried (retry_or_shadow_abandoned), one with a
	// smaller body is. Envoy's default limit is 1MiB, far above both.
	t.Run("listener-per-connection-buffer-limit-bytes", func(t *testing.T) {
		post := func(path string, size int) (response, error) {
			req, err := http.NewRequest(http.MethodPost, "http://"+s.httpAddr+path, bytes.NewReader(bytes.Repeat([]byte("x"), size)))
			if err != nil {
				return response{}, err
			}
			req.Host = "upstream.example.com"
			return s.do(req)
		}
		// The retry answers a GET once the route and endpoints are there.
		eventually(t, "retried route", s.expect(t, "upstream.example.com", "/retried/probe", 200, ""))
		r, err := post("/retried/small", 8<<10)
		if err != nil || r.status != 200 || string(r.body) != "attempt 2, 8192 bytes" {
			t.Errorf("8KiB body: %v %d %q; want the retry to answer with the whole body", err, r.status, r.body)
		}
		r, err = post("/retried/large", 64<<10)
		if err != nil || r.status != http.StatusServiceUnavailable {
			t.Errorf("64KiB body: %v %d %q; want the first attempt's 503, not retried", err, r.status, r.body)
		}
		mu.Lock()
		small, large := attempts["/retried/small"], attempts["/retried/large"]
		mu.Unlock()
		if small != 2 || large != 1 {
			t.Errorf("attempts: %d for the 8KiB body, %d for the 64KiB one; want 2 and 1", small, large)
		}
		if n, err := s.clusterStat(ns, "flaky", "retry_or_shadow_abandoned"); err != nil || n != 1 {
			t.Errorf("retry_or_shadow_abandoned = %d, %v; want 1", n, err)
		}
	})

	// The upstream connections' buffer limit has no effect a client can
	// tell apart from the kernel's socket buffers, which are far larger:
	// Envoy's own configuration shows it on the Service's cluster.
	t.Run("cluster-per-connection-buffer-limit-bytes", func(t *testing.T) {
		limits, err := clusterBufferLimits(s)
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for name, v := range limits {
			if strings.HasPrefix(name, ns+"/") {
				found++
				if v != 32768 {
					t.Errorf("cluster %s per_connection_buffer_limit_bytes %d, want 32768", name, v)
				}
			}
		}
		if found < 3 {
			t.Errorf("clusters %v: want the 3 of namespace %s", limits, ns)
		}
	})
}

// expectConnectTimeout: GET host/silent, routed to a silentListener
// Service of namespace ns, is answered 503 by Envoy when it gives up
// connecting, no sooner than min, with the response flag UF in the access
// log, counted in the cluster's upstream_cx_connect_timeout.
func (s *stack) expectConnectTimeout(t *testing.T, ns, host string, min time.Duration) {
	t.Helper()
	var r response
	var took time.Duration
	eventually(t, "503 from the silent backend", func() error {
		start := time.Now()
		var err error
		r, err = s.getSlow(host, "/silent", 30*time.Second)
		took = time.Since(start)
		if err != nil {
			return err
		}
		if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "upstream connect error") {
			return fmt.Errorf("%d %q, want 503 upstream connect error", r.status, r.body)
		}
		return nil
	})
	t.Logf("503 after %s: %q", took, r.body)
	if took < min {
		t.Errorf("answered after %s, want the connect timeout, no sooner than %s", took, min)
	}
	eventually(t, "access log line of the connect timeout", func() error {
		for _, l := range s.accessLog(t) {
			if l["path"] == "/silent" && l["authority"] == host && l["response_flags"] == "UF" && fmt.Sprint(l["response_code"]) == "503" {
				return nil
			}
		}
		return errors.New("no line for /silent with code 503 and flag UF")
	})
	if n, err := s.clusterStat(ns, "silent", "upstream_cx_connect_timeout"); err != nil || n < 1 {
		t.Errorf("upstream_cx_connect_timeout = %d, %v; want at least 1", n, err)
	}
}

// clusterStat is Envoy's counter or gauge name of the cluster of Service
// ns/svc, port 80.
func (s *stack) clusterStat(ns, svc, name string) (int64, error) {
	stats, err := s.envoy.Stats()
	if err != nil {
		return 0, err
	}
	prefix := "cluster." + ns + "_" + svc + "_80_"
	for k, v := range stats {
		if strings.HasPrefix(k, prefix) && strings.HasSuffix(k, "."+name) {
			return v, nil
		}
	}
	return 0, fmt.Errorf("no stat %s...%s", prefix, name)
}

// getSlow is get with a client deadline of its own.
func (s *stack) getSlow(host, path string, deadline time.Duration) (response, error) {
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: deadline}
	req, err := http.NewRequest(http.MethodGet, "http://"+s.httpAddr+path, nil)
	if err != nil {
		return response{}, err
	}
	req.Host = host
	return send(client, req)
}

// clusterBufferLimits reads per_connection_buffer_limit_bytes of Envoy's
// dynamic clusters from its /config_dump (0 when unset), by name.
func clusterBufferLimits(s *stack) (map[string]int64, error) {
	b, err := s.envoy.Admin("/config_dump?resource=dynamic_active_clusters")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Configs []struct {
			Cluster struct {
				Name                          string `json:"name"`
				PerConnectionBufferLimitBytes int64  `json:"per_connection_buffer_limit_bytes"`
			} `json:"cluster"`
		} `json:"configs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, c := range doc.Configs {
		out[c.Cluster.Name] = c.Cluster.PerConnectionBufferLimitBytes
	}
	return out, nil
}

// silentListener listens on port of the namespace's address with a
// backlog of 0 and never accepts, then fills its accept queue with one
// connection: the kernel drops every later SYN, so a connection to it
// never completes. It returns the port.
func silentListener(t *testing.T, n *netns.NS, port int) int {
	t.Helper()
	ip := net.ParseIP(n.IP()).To4()
	fd := -1
	err := n.Do(func() error {
		var err error
		if fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		sa := &syscall.SockaddrInet4{Port: port}
		copy(sa.Addr[:], ip)
		if err := syscall.Bind(fd, sa); err != nil {
			return fmt.Errorf("bind %s:%d: %w", ip, port, err)
		}
		return syscall.Listen(fd, 0)
	})
	if fd >= 0 {
		t.Cleanup(func() { syscall.Close(fd) })
	}
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(n.IP(), strconv.Itoa(port))
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			// The queue is full: this SYN went unanswered.
			return port
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatalf("%s kept accepting connections into its queue", addr)
	return 0
}
