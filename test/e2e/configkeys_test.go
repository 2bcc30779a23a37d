package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/envoy"
	"github.com/proxyctl/proxyctl/test/netns"
	"github.com/proxyctl/proxyctl/test/replica"
)

// The configuration file's keys served for issue 12's follow-up, each
// through a real Envoy: cluster.max-requests-per-connection,
// cluster.circuit-breakers, network.strip-trailing-host-dot,
// default-http-versions and disableAllowChunkedLength.

// configKeysProxies route keys.example.com and *.wild.example.com to the
// echo backend, and
// slow.example.com and slow-annotated.example.com to the held backend
// through two Services: "slow" has no annotation, "slow-annotated" its
// own projectcontour.io/max-requests.
const configKeysProxies = `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: keys}
spec:
  virtualhost: {fqdn: keys.example.com}
  routes:
  - services: [{name: echo, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: wild}
spec:
  virtualhost: {fqdn: "*.wild.example.com"}
  routes:
  - services: [{name: echo, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: slow}
spec:
  virtualhost: {fqdn: slow.example.com}
  routes:
  - services: [{name: slow, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: slow-annotated}
spec:
  virtualhost: {fqdn: slow-annotated.example.com}
  routes:
  - services: [{name: slow-annotated, port: 80}]
`

// heldBackend answers each request only once the test releases it, so
// that requests stay in flight as long as a test needs.
type heldBackend struct {
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func newHeldBackend() *heldBackend {
	return &heldBackend{arrived: make(chan struct{}, 16), release: make(chan struct{})}
}

func (h *heldBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Probes for the route pass at once.
	if r.Header.Get("X-Pass") != "" {
		netns.EchoHandler("slow").ServeHTTP(w, r)
		return
	}
	select {
	case h.arrived <- struct{}{}:
	default:
	}
	select {
	case <-h.release:
	case <-r.Context().Done():
		return
	}
	netns.EchoHandler("slow").ServeHTTP(w, r)
}

// free answers every request, held or to come, at once.
func (h *heldBackend) free() { h.once.Do(func() { close(h.release) }) }

// waitArrived waits until the backend has a request in hand.
func (h *heldBackend) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-h.arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the first request never reached the backend")
	}
}

type asyncResult struct {
	r   response
	err error
}

// getAsync sends GET http://host/path through Envoy on a connection of
// its own, waiting up to a minute for the answer, which it delivers on
// the channel returned.
func (s *stack) getAsync(host, path string) chan asyncResult {
	ch := make(chan asyncResult, 1)
	go func() {
		client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: time.Minute}
		req, err := http.NewRequest(http.MethodGet, "http://"+s.httpAddr+path, nil)
		if err != nil {
			ch <- asyncResult{err: err}
			return
		}
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			ch <- asyncResult{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		ch <- asyncResult{r: response{status: resp.StatusCode, header: resp.Header, body: body}, err: err}
	}()
	return ch
}

// newConfigKeysStack is a stack with configYAML as its configuration
// file, the echo and held backends, their Services and proxies.
func newConfigKeysStack(t *testing.T, configYAML string) (*stack, *heldBackend) {
	t.Helper()
	s := newStackConfig(t, configYAML, nil)
	held := newHeldBackend()
	s.addBackend(t, "echo", netns.EchoHandler("echo"))
	s.addBackend(t, "slow", held)
	// Cleanups run last first: held requests end before the backend's
	// server is shut down.
	t.Cleanup(held.free)
	ns := kube.NewNamespace(t)
	s.service(t, ns, "echo", "echo")
	s.service(t, ns, "slow", "slow")
	s.service(t, ns, "slow-annotated", "slow")
	if out, err := kube.Kubectl("annotate", "-n", ns, "service", "slow-annotated", "projectcontour.io/max-requests=100"); err != nil {
		t.Fatalf("annotate: %v: %s", err, out)
	}
	apply(t, ns, configKeysProxies)
	eventually(t, "route", s.expect(t, "keys.example.com", "/", 200, "echo"))
	return s, held
}

// upstreamConnections sends n requests one after the other on one client
// connection (so one Envoy worker, one upstream connection pool) and
// counts them per upstream connection, which the echo backend names by
// the peer address Envoy connected from.
func (s *stack) upstreamConnections(t *testing.T, host string, n int) map[string]int {
	t.Helper()
	c, br := rawConn(t, s.httpAddr, "")
	perConn := map[string]int{}
	for i := 0; i < n; i++ {
		resp := rawGet(t, c, br, host, fmt.Sprintf("/per-connection/%d", i))
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		perConn[response{status: 200, body: body}.echo(t).Remote]++
	}
	return perConn
}

// h2cSettings reports whether the HTTP listener speaks HTTP/2 with prior
// knowledge: Envoy's first frame is then its SETTINGS.
func (s *stack) h2cSettings(t *testing.T) error {
	t.Helper()
	c, br := rawConn(t, s.httpAddr, "")
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return err
	}
	fr := http2.NewFramer(c, br)
	if err := fr.WriteSettings(); err != nil {
		return err
	}
	f, err := fr.ReadFrame()
	if err != nil {
		return fmt.Errorf("no HTTP/2 frame: %w", err)
	}
	if _, ok := f.(*http2.SettingsFrame); !ok {
		return fmt.Errorf("first frame %v, want SETTINGS", f.Header())
	}
	return nil
}

// expectProtocol checks that a TLS client offering h2 and http/1.1 to host
// gets ALPN alpn and an answer in proto.
func (s *stack) expectProtocol(ca *testCA, host, alpn, proto string) func() error {
	return func() error {
		gotALPN, gotProto, err := s.getTLSProto(ca, host)
		if err != nil {
			return err
		}
		if gotALPN != alpn || gotProto != proto {
			return fmt.Errorf("ALPN %q, response %s; want %s, %s", gotALPN, gotProto, alpn, proto)
		}
		return nil
	}
}

// getTLSProto sends GET https://host/ with a client that offers h2 and
// http/1.1, and returns the ALPN protocol negotiated and the protocol of
// the response.
func (s *stack) getTLSProto(ca *testCA, host string) (alpn, proto string, err error) {
	cfg := ca.clientConfig()
	cfg.ServerName = host
	cfg.NextProtos = []string{"h2", "http/1.1"}
	var negotiated string
	tr := &http.Transport{
		Proxy:             nil,
		TLSClientConfig:   cfg,
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true,
	}
	tr.DialTLSContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
		conn, err := d.DialContext(ctx, network, s.httpsAddr)
		if err != nil {
			return nil, err
		}
		negotiated = conn.(*tls.Conn).ConnectionState().NegotiatedProtocol
		return conn, nil
	}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := client.Get("https://" + host + "/")
	if err != nil {
		return negotiated, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return negotiated, resp.Proto, fmt.Errorf("status %d %q", resp.StatusCode, body)
	}
	return negotiated, resp.Proto, nil
}

// chunkedWithLength sends one request with both Content-Length and
// Transfer-Encoding: chunked, and returns the status and body.
func (s *stack) chunkedWithLength(t *testing.T, host string) (int, string) {
	t.Helper()
	c, br := rawConn(t, s.httpAddr, "")
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	req := "POST /chunked HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n0\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestConfigKeys sets each key away from its default.
func TestConfigKeys(t *testing.T) {
	ca := newTestCA(t)
	s, held := newConfigKeysStack(t, `
cluster:
  max-requests-per-connection: 2
  circuit-breakers:
    maxRequests: 1
network:
  strip-trailing-host-dot: true
default-http-versions: [HTTP/1.1]
disableAllowChunkedLength: true
`)

	// Envoy opens a new upstream connection after every second request:
	// the backend never sees more than two requests on one connection,
	// and does see two (Envoy reuses connections up to the limit).
	t.Run("max-requests-per-connection", func(t *testing.T) {
		perConn := s.upstreamConnections(t, "keys.example.com", 6)
		most := slices.Max(slices.Collect(maps.Values(perConn)))
		if most != 2 || len(perConn) < 3 {
			t.Errorf("requests per upstream connection %v; want at most 2 on each, 2 on some", perConn)
		}
	})

	// maxRequests 1: while one request is in flight to the Service, a
	// second one overflows (503, x-envoy-overloaded, response flag UO);
	// the Service annotated projectcontour.io/max-requests: 100 keeps its
	// own threshold, as in Contour.
	t.Run("circuit-breakers", func(t *testing.T) {
		for _, host := range []string{"slow.example.com", "slow-annotated.example.com"} {
			eventually(t, "route of "+host, func() error {
				return s.wantStatuses(host, "/probe", http.Header{"X-Pass": {"1"}}, 200)
			})
		}
		first := s.getAsync("slow.example.com", "/held")
		held.waitArrived(t)
		r, err := s.get("slow.example.com", "/overflow", nil)
		if err != nil || r.status != http.StatusServiceUnavailable || r.header.Get("X-Envoy-Overloaded") != "true" {
			t.Errorf("second request in flight: %v %d %v %q; want 503 with x-envoy-overloaded", err, r.status, r.header, r.body)
		}
		if line := s.findAccessLog(t, "/overflow"); line["response_flags"] != "UO" {
			t.Errorf("access log of the overflow: response_flags %v, want UO", line["response_flags"])
		}

		// Two requests in flight at once through the annotated Service.
		second := s.getAsync("slow-annotated.example.com", "/held-1")
		held.waitArrived(t)
		third := s.getAsync("slow-annotated.example.com", "/held-2")
		held.waitArrived(t)
		held.free()
		for i, ch := range []chan asyncResult{first, second, third} {
			res := <-ch
			if res.err != nil || res.r.status != 200 {
				t.Errorf("held request %d: %v %d %q, want 200", i+1, res.err, res.r.status, res.r.body)
			}
		}
	})

	t.Run("strip-trailing-host-dot", func(t *testing.T) {
		r, err := s.get("keys.example.com.", "/dot", nil)
		if err != nil || r.status != 200 || r.echo(t).Name != "echo" {
			t.Errorf("Host keys.example.com.: %v %d %q, want 200 from echo", err, r.status, r.body)
		}
		if r.status == 200 && r.echo(t).Host != "keys.example.com" {
			t.Errorf("upstream Host %q, want keys.example.com", r.echo(t).Host)
		}
		// With a port, and under a wildcard host, whose scope key the
		// scope filter computes from the Host Envoy has stripped.
		for _, host := range []string{"keys.example.com.:80", "a.wild.example.com."} {
			eventually(t, "Host "+host, s.expect(t, host, "/dot", 200, "echo"))
		}
	})

	t.Run("http-1.1-only", func(t *testing.T) {
		s.tlsHost(t, ca, "tls.example.com", "")
		eventually(t, "TLS route", s.expectProtocol(ca, "tls.example.com", "http/1.1", "HTTP/1.1"))
		if err := s.h2cSettings(t); err == nil {
			t.Errorf("HTTP/2 with prior knowledge answered on the HTTP listener; want HTTP/1.1 only")
		}
	})

	t.Run("disable-allow-chunked-length", func(t *testing.T) {
		if code, body := s.chunkedWithLength(t, "keys.example.com"); code != http.StatusBadRequest {
			t.Errorf("Content-Length with chunked: %d %q, want 400", code, body)
		}
	})
}

// TestConfigKeysDefaults: without the keys, Contour's defaults: Envoy
// reuses an upstream connection for any number of requests, no circuit
// breaker stops a second request in flight, a Host with a final dot
// matches no virtual host (404), clients get HTTP/2 by ALPN or with
// prior knowledge, and a request with both Content-Length and chunked
// Transfer-Encoding is served.
func TestConfigKeysDefaults(t *testing.T) {
	ca := newTestCA(t)
	s, held := newConfigKeysStack(t, `
network:
  strip-trailing-host-dot: false
disableAllowChunkedLength: false
`)

	t.Run("max-requests-per-connection", func(t *testing.T) {
		perConn := s.upstreamConnections(t, "keys.example.com", 6)
		most := slices.Max(slices.Collect(maps.Values(perConn)))
		if most <= 2 {
			t.Errorf("requests per upstream connection %v; want Envoy to reuse one beyond 2", perConn)
		}
	})

	t.Run("circuit-breakers", func(t *testing.T) {
		eventually(t, "slow route", func() error {
			return s.wantStatuses("slow.example.com", "/probe", http.Header{"X-Pass": {"1"}}, 200)
		})
		first := s.getAsync("slow.example.com", "/held-1")
		held.waitArrived(t)
		second := s.getAsync("slow.example.com", "/held-2")
		held.waitArrived(t)
		held.free()
		for i, ch := range []chan asyncResult{first, second} {
			if res := <-ch; res.err != nil || res.r.status != 200 {
				t.Errorf("request %d: %v %d %q, want 200", i+1, res.err, res.r.status, res.r.body)
			}
		}
	})

	t.Run("trailing-host-dot-kept", func(t *testing.T) {
		for _, host := range []string{"keys.example.com.", "a.wild.example.com."} {
			r, err := s.get(host, "/dot", nil)
			if err != nil || r.status != http.StatusNotFound {
				t.Errorf("Host %s: %v %d %q, want 404", host, err, r.status, r.body)
			}
		}
		// The same names without the dot are served.
		eventually(t, "wildcard route", s.expect(t, "a.wild.example.com", "/", 200, "echo"))
	})

	t.Run("http-versions-both", func(t *testing.T) {
		s.tlsHost(t, ca, "tls.example.com", "")
		eventually(t, "TLS route", s.expectProtocol(ca, "tls.example.com", "h2", "HTTP/2.0"))
		if err := s.h2cSettings(t); err != nil {
			t.Errorf("HTTP/2 with prior knowledge on the HTTP listener: %v", err)
		}
	})

	t.Run("allow-chunked-length", func(t *testing.T) {
		code, body := s.chunkedWithLength(t, "keys.example.com")
		if code != 200 {
			t.Fatalf("Content-Length with chunked: %d %q, want 200", code, body)
		}
		if e := (response{status: code, body: []byte(body)}).echo(t); e.Body != "hello" {
			t.Errorf("backend got body %q, want hello", e.Body)
		}
	})
}

// TestConfigKeysHTTP2Only: default-http-versions [HTTP/2] offers only h2
// by ALPN and speaks only HTTP/2 on the HTTP listener, as Contour
// configures Envoy's codec: an HTTP/1.1 request there fails.
func TestConfigKeysHTTP2Only(t *testing.T) {
	ca := newTestCA(t)
	s := newStackConfig(t, "default-http-versions: [HTTP/2]\n", nil)
	s.addBackend(t, "echo", netns.EchoHandler("echo"))
	s.tlsHost(t, ca, "tls.example.com", "")
	eventually(t, "TLS route over h2", func() error {
		alpn, proto, err := s.getTLSProto(ca, "tls.example.com")
		if err != nil {
			return err
		}
		if alpn != "h2" || proto != "HTTP/2.0" {
			return fmt.Errorf("ALPN %q, response %s; want h2", alpn, proto)
		}
		return nil
	})
	// A client that offers only http/1.1 is not given it.
	cfg := ca.clientConfig()
	cfg.ServerName, cfg.NextProtos = "tls.example.com", []string{"http/1.1"}
	if conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.httpsAddr, cfg); err == nil {
		if p := conn.ConnectionState().NegotiatedProtocol; p == "http/1.1" {
			t.Errorf("ALPN negotiated http/1.1; want only h2 offered")
		}
		conn.Close()
	}
	if err := s.h2cSettings(t); err != nil {
		t.Errorf("HTTP/2 with prior knowledge on the HTTP listener: %v", err)
	}
	c, br := rawConn(t, s.httpAddr, "")
	if resp, err := tryRawGet(c, br, "tls.example.com", "/"); err == nil {
		t.Errorf("HTTP/1.1 request on the HTTP listener answered %d; want it refused", resp.StatusCode)
	}
}

// workerConnections are the client connections open on each Envoy worker
// of the HTTP listener, from Envoy's per-worker listener stats.
func (s *stack) workerConnections(t *testing.T) map[string]int64 {
	t.Helper()
	stats, err := s.envoy.Stats()
	if err != nil {
		t.Fatal(err)
	}
	prefix := "listener." + strings.ReplaceAll(s.httpAddr, ":", "_") + ".worker_"
	out := map[string]int64{}
	for name, v := range stats {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			if worker, ok := strings.CutSuffix(rest, ".downstream_cx_active"); ok {
				out[worker] = v
			}
		}
	}
	return out
}

// acceptedTOS is the TOS byte of Envoy's side of the client connection
// whose client port is clientPort, as the kernel reports it (ss --tos):
// what Envoy's packets to that client carry.
func acceptedTOS(t *testing.T, serverAddr string, clientPort int) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(serverAddr)
	out, err := exec.Command("ss", "-tnH", "--tos", "state", "established",
		fmt.Sprintf("( sport = :%s and dport = :%d )", port, clientPort)).CombinedOutput()
	if err != nil {
		t.Fatalf("ss: %v: %s", err, out)
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "tos:"); ok {
			return v
		}
	}
	return "none (" + strings.TrimSpace(string(out)) + ")"
}

// TestConfigKeysListenerSockets: listener.connection-balancer exact
// spreads client connections evenly over Envoy's two workers, and
// listener.socket-options.tos marks the packets of accepted connections,
// as Contour sets the listeners.
func TestConfigKeysListenerSockets(t *testing.T) {
	s := newStackConfig(t, `
listener:
  connection-balancer: exact
  socket-options:
    tos: 32
`, nil)
	s.addBackend(t, "echo", netns.EchoHandler("echo"))
	ns := kube.NewNamespace(t)
	s.service(t, ns, "echo", "echo")
	apply(t, ns, simpleProxy("keys", "keys.example.com", "echo"))
	eventually(t, "route", s.expect(t, "keys.example.com", "/", 200, "echo"))

	// No connection of the route check stays open: each worker starts
	// with none.
	loopback.Transport.(*http.Transport).CloseIdleConnections()
	eventually(t, "no client connection open", func() error {
		if c := s.workerConnections(t); c["0"]+c["1"] != 0 {
			return fmt.Errorf("open connections per worker %v", c)
		}
		return nil
	})

	// Connections opened one after the other and held open, each having
	// completed a request so that Envoy has accepted and counted it. The
	// exact balancer gives each to the worker with fewer: after every
	// one, the workers' counts differ by at most one. Left to the kernel,
	// 16 connections keep that balance at every step with a chance of
	// about 1 in 256.
	const n = 16
	var ports []int
	// Closed at the end of the test, not of the subtest.
	outer := t
	t.Run("connection-balancer-exact", func(t *testing.T) {
		for i := 1; i <= n; i++ {
			c, br := rawConn(outer, s.httpAddr, "")
			if resp := rawGet(t, c, br, "keys.example.com", "/held-open"); resp.StatusCode != 200 {
				t.Fatalf("connection %d: %d", i, resp.StatusCode)
			}
			ports = append(ports, c.LocalAddr().(*net.TCPAddr).Port)
			w := s.workerConnections(t)
			if len(w) != 2 || w["0"]+w["1"] != int64(i) || w["0"]-w["1"] > 1 || w["1"]-w["0"] > 1 {
				t.Fatalf("after %d connections, open per worker %v; want them spread evenly over 2 workers", i, w)
			}
		}
	})

	t.Run("socket-options-tos", func(t *testing.T) {
		for _, p := range ports {
			if got := acceptedTOS(t, s.httpAddr, p); got != "0x20" {
				t.Errorf("TOS of Envoy's connection to client port %d: %s, want 0x20", p, got)
			}
		}
	})
}

// TestConfigKeysTrafficClass: listener.socket-options.traffic-class with
// an IPv6 --envoy-address (with an IPv4 one proxyctl refuses to start:
// Envoy would refuse the listeners). The test sends no traffic to an IPv6
// address: the kernel reports the TOS and traffic class of Envoy's
// listening sockets, which their connections inherit (as
// TestConfigKeysListenerSockets shows for the TOS over IPv4).
func TestConfigKeysTrafficClass(t *testing.T) {
	ports, err := cluster.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "proxyctl.yaml")
	if err := os.WriteFile(path, []byte("listener:\n  socket-options: {tos: 32, traffic-class: 64}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := replica.Binary(t)
	r := replica.Start(t, replica.Options{
		Binary: bin, Kubeconfig: kube.Kubeconfig, Identity: "replica-0",
		LeaseNamespace: kube.NewNamespace(t), LogDir: t.TempDir(),
		Args: []string{"--envoy-address", "::1", "--envoy-http-port", strconv.Itoa(ports[0]),
			"--envoy-https-port", strconv.Itoa(ports[1]), "--config-path", path},
	})
	host, port, _ := net.SplitHostPort(r.XDSAddr)
	xdsPort, _ := strconv.Atoi(port)
	e := envoy.Start(t, envoy.Options{XDSAddress: host, XDSPort: xdsPort, Proxyctl: bin})
	if err := e.WaitReady(60 * time.Second); err != nil {
		t.Fatalf("envoy never became ready: %v", err)
	}
	eventually(t, "HTTP listener on [::1] with TOS and traffic class", func() error {
		out, err := exec.Command("ss", "-tlnH", "--tos", fmt.Sprintf("( sport = :%d )", ports[0])).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ss: %v: %s", err, out)
		}
		fields := strings.Fields(string(out))
		for _, want := range []string{fmt.Sprintf("[::1]:%d", ports[0]), "tos:0x20", "tclass:0x40"} {
			if !slices.Contains(fields, want) {
				return fmt.Errorf("listening socket %q has no %s", strings.TrimSpace(string(out)), want)
			}
		}
		return nil
	})
}
