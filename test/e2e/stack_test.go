package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/testutil"
	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/envoy"
	"github.com/proxyctl/proxyctl/test/netns"
	"github.com/proxyctl/proxyctl/test/replica"
)

// stack is one proxyctl replica and one real Envoy bootstrapped by
// `proxyctl bootstrap`, with echo backends in a network namespace.
type stack struct {
	net       *netns.NS
	replica   *replica.Replica
	envoy     *envoy.Envoy
	httpAddr  string // Envoy's HTTP listener, on loopback
	httpsAddr string // Envoy's HTTPS listener, on loopback
	// backends are echo servers inside the namespace, by name.
	backends map[string]backend
}

type backend struct {
	ip   string
	port int32
}

func newStack(t *testing.T, backendNames ...string) *stack {
	t.Helper()
	return newStackArgs(t, nil, backendNames...)
}

// newStackArgs is newStack with extra `proxyctl serve` flags.
func newStackArgs(t *testing.T, serveArgs []string, backendNames ...string) *stack {
	t.Helper()
	s := &stack{net: netns.New(t), backends: map[string]backend{}}
	for _, name := range backendNames {
		s.addBackend(t, name, netns.EchoHandler(name))
	}
	ports, err := cluster.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	s.httpAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	s.httpsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	bin := replica.Binary(t)
	s.replica = replica.Start(t, replica.Options{
		Binary: bin, Kubeconfig: kube.Kubeconfig, Identity: "replica-0",
		LeaseNamespace: kube.NewNamespace(t), LogDir: t.TempDir(),
		Args: append([]string{"--envoy-address", "127.0.0.1",
			"--envoy-http-port", strconv.Itoa(ports[0]), "--envoy-https-port", strconv.Itoa(ports[1])}, serveArgs...),
	})
	host, port, _ := net.SplitHostPort(s.replica.XDSAddr)
	xdsPort, _ := strconv.Atoi(port)
	s.envoy = envoy.Start(t, envoy.Options{XDSAddress: host, XDSPort: xdsPort, Proxyctl: bin})
	if err := s.envoy.WaitReady(60 * time.Second); err != nil {
		t.Fatalf("envoy never became ready: %v", err)
	}
	return s
}

// addBackend serves h inside the namespace as the backend name, on the
// next port from 9000.
func (s *stack) addBackend(t *testing.T, name string, h http.Handler) {
	t.Helper()
	port := 9000 + len(s.backends)
	s.net.ServeHTTP(t, net.JoinHostPort(s.net.IP(), strconv.Itoa(port)), h)
	s.backends[name] = backend{ip: s.net.IP(), port: int32(port)}
}

// service creates a Service in ns whose endpoint is the named backend.
func (s *stack) service(t *testing.T, ns, name, backendName string) {
	t.Helper()
	b, ok := s.backends[backendName]
	if !ok {
		t.Fatalf("no backend %q", backendName)
	}
	backendService(t, ns, name, b.ip, b.port)
}

// loopback never uses a proxy from the environment: every request goes to
// Envoy on 127.0.0.1.
var loopback = &http.Client{
	Transport: &http.Transport{Proxy: nil},
	Timeout:   5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// response is one answer through Envoy.
type response struct {
	status int
	header http.Header
	body   []byte
}

// echo decodes the body as an echo backend's answer.
func (r response) echo(t *testing.T) netns.Echo {
	t.Helper()
	var e netns.Echo
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("not an echo answer (status %d): %q", r.status, r.body)
	}
	return e
}

func (s *stack) do(req *http.Request) (response, error) {
	return send(loopback, req)
}

// send sends req with client and reads the whole answer.
func send(client *http.Client, req *http.Request) (response, error) {
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}, err
}

// get sends GET http://host/path through Envoy's HTTP listener.
func (s *stack) get(host, path string, header http.Header) (response, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+s.httpAddr+path, nil)
	if err != nil {
		return response{}, err
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	return s.do(req)
}

// getTLS sends GET https://host/path through Envoy's HTTPS listener with
// SNI host, trusting roots.
func (s *stack) getTLS(host, path string, roots *tls.Config) (response, error) {
	return s.getTLSAs(host, host, path, roots, nil)
}

// getTLSAs sends GET https://host/path through Envoy's HTTPS listener with
// the TLS server name sni (which may differ from host), trusting cfg, on
// a connection of its own.
func (s *stack) getTLSAs(sni, host, path string, cfg *tls.Config, header http.Header) (response, error) {
	return s.sendTLSAs(sni, host, path, cfg, header, "")
}

// sendTLSAs is getTLSAs that POSTs body when it is not empty.
func (s *stack) sendTLSAs(sni, host, path string, cfg *tls.Config, header http.Header, body string) (response, error) {
	cfg = cfg.Clone()
	cfg.ServerName = sni
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, TLSClientConfig: cfg, DisableKeepAlives: true},
		Timeout:   5 * time.Second,
	}
	method, rd := http.MethodGet, io.Reader(nil)
	if body != "" {
		method, rd = http.MethodPost, strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "https://"+s.httpsAddr+path, rd)
	if err != nil {
		return response{}, err
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	return send(client, req)
}

// eventually retries check until it returns nil or the deadline passes:
// configuration takes a moment to travel from the API server to Envoy.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, what, check)
}

// expect returns a check that GETs host/path and wants status and, when
// backend is not empty, an answer from that backend.
func (s *stack) expect(t *testing.T, host, path string, status int, backendName string) func() error {
	return func() error {
		r, err := s.get(host, path, nil)
		if err != nil {
			return err
		}
		if r.status != status {
			return fmt.Errorf("GET %s%s = %d %q, want %d", host, path, r.status, bytes.TrimSpace(r.body), status)
		}
		if backendName != "" {
			if e := r.echo(t); e.Name != backendName {
				return fmt.Errorf("GET %s%s answered by %q, want %q", host, path, e.Name, backendName)
			}
		}
		return nil
	}
}

// newStackConfig is newStackArgs with a configuration file (`proxyctl
// serve --config-path`) holding configYAML.
func newStackConfig(t *testing.T, configYAML string, serveArgs []string, backendNames ...string) *stack {
	t.Helper()
	path := filepath.Join(t.TempDir(), "proxyctl.yaml")
	if err := os.WriteFile(path, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	return newStackArgs(t, append([]string{"--config-path", path}, serveArgs...), backendNames...)
}

// accessLog returns the JSON access log lines Envoy has written to its
// standard output (which the harness keeps in Envoy's log file, among
// Envoy's own log lines, which are not JSON objects).
func (s *stack) accessLog(t *testing.T) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(s.envoy.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("access log line is not JSON: %v\n%s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// expectHTTPS returns a check that GET https://host/path with header,
// through Envoy with the client TLS config cfg, answers status, and for a
// 200 that backend answered.
func (s *stack) expectHTTPS(t *testing.T, cfg *tls.Config, host, path string, header http.Header, status int, backend string) func() error {
	return func() error {
		r, err := s.getTLSAs(host, host, path, cfg, header)
		if err != nil {
			return err
		}
		if r.status != status {
			return fmt.Errorf("GET https://%s%s = %d %q, want %d", host, path, r.status, r.body, status)
		}
		if status == 200 && r.echo(t).Name != backend {
			return fmt.Errorf("GET https://%s%s answered by %q", host, path, r.echo(t).Name)
		}
		return nil
	}
}
