package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/proxyctl/proxyctl/internal/xds"
	"github.com/proxyctl/proxyctl/test/netns"
)

// settingsProxies route settings.example.com to the echo backend.
const settingsProxies = `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: settings}
spec:
  virtualhost: {fqdn: settings.example.com}
  routes:
  - services: [{name: echo, port: 80}]
`

// serverHeaderEcho is an echo backend that names itself in a Server
// header, to see what Envoy does with it.
func serverHeaderEcho(name string) http.Handler {
	echo := netns.EchoHandler(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "echo-backend")
		echo.ServeHTTP(w, r)
	})
}

func newSettingsStack(t *testing.T, configYAML string, serveArgs ...string) *stack {
	t.Helper()
	var s *stack
	if configYAML == "" {
		s = newStackArgs(t, serveArgs)
	} else {
		s = newStackConfig(t, configYAML, serveArgs)
	}
	s.addBackend(t, "echo", serverHeaderEcho("echo"))
	ns := kube.NewNamespace(t)
	s.service(t, ns, "echo", "echo")
	apply(t, ns, settingsProxies)
	return s
}

// findAccessLog waits for the JSON access log line of the request for
// path and returns it.
func (s *stack) findAccessLog(t *testing.T, path string) map[string]any {
	t.Helper()
	var found map[string]any
	eventually(t, "access log line for "+path, func() error {
		for _, l := range s.accessLog(t) {
			if l["path"] == path {
				found = l
				return nil
			}
		}
		return fmt.Errorf("no JSON line with path %s in Envoy's stdout", path)
	})
	return found
}

// TestSettingsDefaults: with no configuration file Envoy logs each request
// as a JSON line of Contour's default fields on its stdout, compresses
// with gzip for clients that accept it, and overwrites the upstream's
// Server header, as Contour does.
func TestSettingsDefaults(t *testing.T) {
	s := newSettingsStack(t, "")
	eventually(t, "route", s.expect(t, "settings.example.com", "/", 200, "echo"))

	t.Run("access-log-json", func(t *testing.T) {
		r, err := s.get("settings.example.com", "/access-log-probe?q=1", http.Header{"User-Agent": {"settings-e2e"}})
		if err != nil || r.status != 200 {
			t.Fatalf("GET: %v %d", err, r.status)
		}
		line := s.findAccessLog(t, "/access-log-probe?q=1")
		want := map[string]string{
			"method": "GET", "response_code": "200", "authority": "settings.example.com",
			"user_agent": "settings-e2e", "protocol": "HTTP/1.1",
		}
		for k, v := range want {
			if got := fmt.Sprint(line[k]); got != v {
				t.Errorf("%s = %q, want %q (line %v)", k, got, v, line)
			}
		}
		for _, k := range []string{"@timestamp", "upstream_cluster", "upstream_host", "duration", "bytes_sent", "downstream_remote_address", "request_id"} {
			if line[k] == nil || line[k] == "" {
				t.Errorf("field %s missing from %v", k, line)
			}
		}
		for k := range line {
			if !slices.Contains(xds.DefaultJSONFields, k) {
				t.Errorf("field %s is not one of the default fields", k)
			}
		}
	})

	t.Run("compression-gzip", func(t *testing.T) {
		r, err := s.get("settings.example.com", "/compress", http.Header{"Accept-Encoding": {"gzip"}})
		if err != nil || r.status != 200 {
			t.Fatalf("GET: %v %d", err, r.status)
		}
		if ce := r.header.Get("Content-Encoding"); ce != "gzip" {
			t.Fatalf("Content-Encoding %q, want gzip", ce)
		}
		zr, err := gzip.NewReader(strings.NewReader(string(r.body)))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if e := (response{status: 200, body: plain}).echo(t); e.Name != "echo" || e.Path != "/compress" {
			t.Errorf("decoded body %+v", e)
		}
		// Without Accept-Encoding, the body is as the backend sent it.
		r, err = s.get("settings.example.com", "/plain", http.Header{"Accept-Encoding": {"identity"}})
		if err != nil || r.header.Get("Content-Encoding") != "" || r.echo(t).Path != "/plain" {
			t.Errorf("identity: %v %v %q", err, r.header, r.body)
		}
	})

	t.Run("server-header-overwrite", func(t *testing.T) {
		r, err := s.get("settings.example.com", "/", nil)
		if err != nil || r.header.Get("Server") != "envoy" {
			t.Errorf("Server %q (%v), want envoy", r.header.Get("Server"), err)
		}
	})

	// Contour's connect timeout, 2s: a backend that never completes the
	// handshake is given up on no sooner.
	t.Run("connect-timeout", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		backendService(t, ns, "silent", s.net.IP(), int32(silentListener(t, s.net, 9400)))
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: silent}
spec:
  virtualhost: {fqdn: silent.example.com}
  routes:
  - services: [{name: silent, port: 80}]
`)
		s.expectConnectTimeout(t, ns, "silent.example.com", 1900*time.Millisecond)
	})
}

// settingsConfig is a configuration file in Contour's keys that changes
// every setting TestSettingsConfigFile checks.
const settingsConfig = `
accesslog-format: json
json-fields:
  - method
  - path
  - response_code
  - "probe=%REQ(X-PROBE)%"
compression:
  algorithm: disabled
serverHeaderTransformation: pass_through
timeouts:
  request-timeout: 2s
  delayed-close-timeout: infinity
  connection-idle-timeout: 1s
listener:
  max-requests-per-connection: 2
  http2-max-concurrent-streams: 7
network:
  num-trusted-hops: 1
`

func TestSettingsConfigFile(t *testing.T) {
	s := newSettingsStack(t, settingsConfig)
	eventually(t, "route", s.expect(t, "settings.example.com", "/", 200, "echo"))

	// network.num-trusted-hops: 1 trusts the last X-Forwarded-For entry
	// as the client address, which ipAllowPolicy with source Remote
	// checks.
	t.Run("num-trusted-hops", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "echo", "echo")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: remote}
spec:
  virtualhost:
    fqdn: remote.example.com
    ipAllowPolicy: [{source: Remote, cidr: 127.5.5.5/32}]
  routes:
  - services: [{name: echo, port: 80}]
`)
		eventually(t, "client from X-Forwarded-For allowed", func() error {
			r, err := s.get("remote.example.com", "/", http.Header{"X-Forwarded-For": {"127.5.5.5"}})
			if err != nil {
				return err
			}
			if r.status != 200 {
				return fmt.Errorf("status %d %q, want 200", r.status, r.body)
			}
			return nil
		})
		r, err := s.get("remote.example.com", "/", nil)
		if err != nil || r.status != http.StatusForbidden {
			t.Errorf("without X-Forwarded-For: %v %d, want 403 (the client is the peer 127.0.0.1)", err, r.status)
		}
	})

	t.Run("access-log-json-fields", func(t *testing.T) {
		if _, err := s.get("settings.example.com", "/fields-probe", http.Header{"X-Probe": {"p-42"}}); err != nil {
			t.Fatal(err)
		}
		line := s.findAccessLog(t, "/fields-probe")
		want := map[string]string{"method": "GET", "path": "/fields-probe", "response_code": "200", "probe": "p-42"}
		if len(line) != len(want) {
			t.Errorf("line %v, want exactly the fields %v", line, want)
		}
		for k, v := range want {
			if got := fmt.Sprint(line[k]); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
	})

	t.Run("compression-disabled", func(t *testing.T) {
		r, err := s.get("settings.example.com", "/compress", http.Header{"Accept-Encoding": {"gzip"}})
		if err != nil || r.status != 200 {
			t.Fatalf("GET: %v %d", err, r.status)
		}
		if ce := r.header.Get("Content-Encoding"); ce != "" {
			t.Errorf("Content-Encoding %q, want none (identity)", ce)
		}
		if e := r.echo(t); e.Path != "/compress" {
			t.Errorf("body %+v", e)
		}
	})

	t.Run("server-header-pass-through", func(t *testing.T) {
		r, err := s.get("settings.example.com", "/", nil)
		if err != nil || r.header.Get("Server") != "echo-backend" {
			t.Errorf("Server %q (%v), want the backend's echo-backend", r.header.Get("Server"), err)
		}
	})

	// Envoy's request_timeout (Contour's request-timeout) bounds the
	// time to receive the whole request: a client that stalls in its
	// body gets 408. A slow backend is the route's response timeout
	// (timeoutPolicy.response), not this one.
	t.Run("request-timeout", func(t *testing.T) {
		c, br := rawConn(t, s.httpAddr, "")
		if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: settings.example.com\r\nContent-Length: 100\r\n\r\npartial"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no answer to the stalled request: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("stalled request body: %d %q, want 408 from the 2s request timeout", resp.StatusCode, body)
		}
	})

	t.Run("connection-idle-timeout", func(t *testing.T) {
		c, br := rawConn(t, s.httpAddr, "")
		resp := rawGet(t, c, br, "settings.example.com", "/idle")
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("first response %d close %v", resp.StatusCode, resp.Close)
		}
		// Envoy closes the idle connection after 1s; the deadline only
		// bounds the wait.
		if err := c.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if n, err := br.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("idle connection: read %d bytes, %v; want Envoy to close it (EOF)", n, err)
		}
	})

	// delayed-close-timeout: infinity turns the delayed close off: Envoy
	// closes a connection whose request it answered early without
	// waiting for the client, which keeps its end open, and so without a
	// delayed close timeout (TestTimeoutsConnectionClose shows a timeout
	// set).
	t.Run("delayed-close-timeout-infinity", func(t *testing.T) {
		r := s.answerEarly(false)
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Logf("Envoy closed %s after the response", r.wait)
		if n, err := s.delayedCloseTimeouts(); err != nil || n != 0 {
			t.Errorf("downstream_cx_delayed_close_timeout = %d, %v; want 0: no delayed close", n, err)
		}
	})

	t.Run("max-requests-per-connection", func(t *testing.T) {
		c, br := rawConn(t, s.httpAddr, "")
		if resp := rawGet(t, c, br, "settings.example.com", "/one"); resp.Close {
			t.Errorf("first response closes the connection")
		}
		if resp := rawGet(t, c, br, "settings.example.com", "/two"); !resp.Close {
			t.Errorf("second response keeps the connection; want Connection: close after 2 requests")
		}
	})

	t.Run("http2-max-concurrent-streams", func(t *testing.T) {
		c, br := rawConn(t, s.httpAddr, "")
		if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		// HTTP/2 with prior knowledge (h2c): Envoy's first frame is its
		// SETTINGS.
		if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
			t.Fatal(err)
		}
		fr := http2.NewFramer(c, br)
		if err := fr.WriteSettings(); err != nil {
			t.Fatal(err)
		}
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("no SETTINGS from Envoy: %v", err)
			}
			sf, ok := f.(*http2.SettingsFrame)
			if !ok || sf.IsAck() {
				continue
			}
			if v, ok := sf.Value(http2.SettingMaxConcurrentStreams); !ok || v != 7 {
				t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS %d (sent %v), want 7", v, ok)
			}
			return
		}
	})
}

// rawConn dials addr and writes prefix (a PROXY protocol header, or "").
func rawConn(t *testing.T, addr, prefix string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if prefix != "" {
		if _, err := io.WriteString(c, prefix); err != nil {
			t.Fatal(err)
		}
	}
	return c, bufio.NewReader(c)
}

// rawGet sends one HTTP/1.1 GET on c and reads its whole response.
func rawGet(t *testing.T, c net.Conn, br *bufio.Reader, host, path string) *http.Response {
	t.Helper()
	resp, err := tryRawGet(c, br, host, path)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func tryRawGet(c net.Conn, br *bufio.Reader, host, path string) (*http.Response, error) {
	return tryRawGetEncoding(c, br, host, path, "identity")
}

// tryRawGetEncoding is tryRawGet with the Accept-Encoding given.
func tryRawGetEncoding(c net.Conn, br *bufio.Reader, host, path, acceptEncoding string) (*http.Response, error) {
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept-Encoding: %s\r\n\r\n", path, host, acceptEncoding); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp, nil
}

// TestSettingsProxyProtocol: with --use-proxy-protocol (Contour's flag)
// Envoy takes the client's address from the PROXY header a load balancer
// sends first, and closes connections that lack one. The access log is
// Envoy's text format here (--accesslog-format envoy over the file's
// json), so the address Envoy saw shows in it too, the compression
// brotli and the Server header append_if_absent.
func TestSettingsProxyProtocol(t *testing.T) {
	s := newSettingsStack(t, `
compression:
  algorithm: brotli
serverHeaderTransformation: append_if_absent
accesslog-format: json
accesslog-format-string: "proxyctl-text %REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%\n"
timeouts:
  stream-idle-timeout: 1s
  max-connection-duration: 2s
`, "--use-proxy-protocol", "--accesslog-format", "envoy")
	// A client address of our choosing, on loopback like every address
	// of the test; the TCP peer is 127.0.0.1.
	const client = "127.9.9.9"
	header := fmt.Sprintf("PROXY TCP4 %s 127.0.0.1 40000 %s\r\n", client, strings.Split(s.httpAddr, ":")[1])

	var echo netns.Echo
	eventually(t, "request with a PROXY header", func() error {
		c, br := rawConn(t, s.httpAddr, header)
		resp, err := tryRawGet(c, br, "settings.example.com", "/proxied")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d %q", resp.StatusCode, body)
		}
		echo = response{status: 200, body: body}.echo(t)
		return nil
	})
	if xff := echo.Headers.Get("X-Forwarded-For"); xff != client {
		t.Errorf("X-Forwarded-For %q, want the PROXY header's source %s", xff, client)
	}

	// No request timeout here: a request whose body stalls is ended by
	// the stream idle timeout (1s), with Envoy's 408.
	t.Run("stream-idle-timeout", func(t *testing.T) {
		c, br := rawConn(t, s.httpAddr, header)
		if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, "POST /stalled HTTP/1.1\r\nHost: settings.example.com\r\nContent-Length: 100\r\n\r\npartial"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no answer to the stalled request: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("stalled request body: %d %q, want 408 from the 1s stream idle timeout", resp.StatusCode, body)
		}
	})

	// The connection idle timeout is Contour's 60s here: a kept-alive
	// connection closed well before that was closed by the maximum
	// connection duration (2s). The deadline only bounds the wait.
	t.Run("max-connection-duration", func(t *testing.T) {
		c, br := rawConn(t, s.httpAddr, header)
		if resp := rawGet(t, c, br, "settings.example.com", "/duration"); resp.StatusCode != 200 {
			t.Fatalf("first response %d", resp.StatusCode)
		}
		if err := c.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if n, err := br.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("kept-alive connection: read %d bytes, %v; want Envoy to close it (EOF) after 2s", n, err)
		}
	})

	t.Run("without-header-refused", func(t *testing.T) {
		c, br := rawConn(t, s.httpAddr, "")
		resp, err := tryRawGet(c, br, "settings.example.com", "/no-proxy-header")
		if err == nil {
			t.Errorf("request without a PROXY header answered %d; want the connection closed", resp.StatusCode)
		}
	})

	t.Run("compression-brotli", func(t *testing.T) {
		c, br := rawConn(t, s.httpAddr, header)
		resp, err := tryRawGetEncoding(c, br, "settings.example.com", "/brotli", "br")
		if err != nil {
			t.Fatal(err)
		}
		if ce := resp.Header.Get("Content-Encoding"); ce != "br" {
			t.Errorf("Content-Encoding %q, want br", ce)
		}
	})

	t.Run("server-header-append-if-absent", func(t *testing.T) {
		c, br := rawConn(t, s.httpAddr, header)
		resp, err := tryRawGet(c, br, "settings.example.com", "/server")
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Server"); got != "echo-backend" {
			t.Errorf("Server %q, want the backend's echo-backend kept", got)
		}
		// A response of Envoy's own has no upstream Server: "envoy" is
		// added.
		c, br = rawConn(t, s.httpAddr, header)
		if resp, err = tryRawGet(c, br, "unknown.example.com", "/"); err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Server"); resp.StatusCode != 404 || got != "envoy" {
			t.Errorf("404 of Envoy's own: %d Server %q, want envoy", resp.StatusCode, got)
		}
	})

	t.Run("text-access-log", func(t *testing.T) {
		want := "proxyctl-text GET /proxied 200 " + client
		eventually(t, "text access log line", func() error {
			data, err := readFile(s.envoy.LogPath())
			if err != nil {
				return err
			}
			if !strings.Contains(data, want) {
				return fmt.Errorf("no line %q in Envoy's stdout", want)
			}
			return nil
		})
	})
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// TestSettingsZstd: compression.algorithm zstd gives a zstd body (a zstd
// frame starts with the magic number 28 b5 2f fd) to a client that
// accepts it, and identity to one that does not.
func TestSettingsZstd(t *testing.T) {
	s := newSettingsStack(t, `
compression:
  algorithm: zstd
`)
	eventually(t, "route", s.expect(t, "settings.example.com", "/", 200, "echo"))
	r, err := s.get("settings.example.com", "/zstd", http.Header{"Accept-Encoding": {"zstd"}})
	if err != nil || r.status != 200 {
		t.Fatalf("GET: %v %d", err, r.status)
	}
	if ce := r.header.Get("Content-Encoding"); ce != "zstd" {
		t.Fatalf("Content-Encoding %q, want zstd", ce)
	}
	if !bytes.HasPrefix(r.body, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Errorf("body %x does not start a zstd frame", r.body[:min(len(r.body), 8)])
	}
	r, err = s.get("settings.example.com", "/plain", http.Header{"Accept-Encoding": {"gzip"}})
	if err != nil || r.header.Get("Content-Encoding") != "" || r.echo(t).Path != "/plain" {
		t.Errorf("a client without zstd: %v %v %q", err, r.header, r.body)
	}
}
