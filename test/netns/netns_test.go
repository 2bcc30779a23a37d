//go:build linux

package netns

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/certgen"
)

// requireRoot fails, not skips: these tests are meant to run, as root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("netns tests need root (network namespaces and veth pairs)")
	}
}

func getEcho(t *testing.T, c *http.Client, url string) Echo {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var e Echo
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestServeHTTPInsideFetchFromHost(t *testing.T) {
	requireRoot(t)
	n := New(t)
	url := n.ServeHTTP(t, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "inside "+r.RemoteAddr)
	}))
	if !strings.HasPrefix(url, "http://"+n.IP()+":") {
		t.Fatalf("URL %s, want one on %s", url, n.IP())
	}
	resp, err := n.HTTPClient().Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The request crossed the veth pair: it came from the host's end.
	if want := "inside " + n.HostIP() + ":"; !strings.HasPrefix(string(body), want) {
		t.Fatalf("body %q, want it to start with %q", body, want)
	}
}

func TestListenerIsInsideTheNamespace(t *testing.T) {
	requireRoot(t)
	n := New(t)
	// The namespace's loopback is not the host's: a listener on
	// 127.0.0.1 inside is unreachable from the host's 127.0.0.1.
	l, err := n.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatalf("reached the namespace's loopback listener %s from the host", l.Addr())
	}
	// But from inside it is there.
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := n.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("dial from inside: %v", err)
	}
	c.Close()
	// The host's addresses are not those of the namespace.
	if _, err := net.Listen("tcp", net.JoinHostPort(n.IP(), "0")); err == nil {
		t.Fatalf("the host could listen on the namespace's address %s", n.IP())
	}
}

func TestEchoBackendsOnSeveralAddresses(t *testing.T) {
	requireRoot(t)
	n := New(t)
	second, err := n.Addr(1)
	if err != nil {
		t.Fatal(err)
	}
	third, err := n.Addr(2)
	if err != nil {
		t.Fatal(err)
	}
	if first, _ := n.Addr(0); first != n.IP() {
		t.Fatalf("Addr(0) = %s, want IP() %s", first, n.IP())
	}
	c := n.HTTPClient()
	for name, addr := range map[string]string{"a": n.IP(), "b": second, "c": third} {
		url := n.ServeEcho(t, addr+":0", name)
		req, _ := http.NewRequest(http.MethodGet, url+"/some/path?x=1", nil)
		req.Host = "example.test"
		req.Header.Set("X-Test", "yes")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e Echo
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if e.Name != name || e.Path != "/some/path" || e.RawQuery != "x=1" || e.Host != "example.test" || e.Headers.Get("X-Test") != "yes" {
			t.Errorf("echo of %s: %+v", name, e)
		}
		if resp.Header.Get("X-Echo-Name") != name {
			t.Errorf("X-Echo-Name %q, want %q", resp.Header.Get("X-Echo-Name"), name)
		}
	}
}

func TestWebsocketEcho(t *testing.T) {
	requireRoot(t)
	n := New(t)
	url := n.ServeWebsocketEcho(t, "", "ws")
	addr := strings.TrimPrefix(url, "http://")
	ws, err := n.DialWebsocket(addr, "chat.test", "/chat", http.Header{"X-Test": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	hello, err := ws.Receive()
	if err != nil {
		t.Fatal(err)
	}
	var e Echo
	if err := json.Unmarshal([]byte(hello), &e); err != nil {
		t.Fatal(err)
	}
	if !e.Websocket || e.Name != "ws" || e.Path != "/chat" || e.Host != "chat.test" {
		t.Errorf("handshake echo %+v", e)
	}
	for _, msg := range []string{"hi", strings.Repeat("x", 70000)} {
		if err := ws.Send(msg); err != nil {
			t.Fatal(err)
		}
		got, err := ws.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if got != msg {
			t.Errorf("echoed %d bytes, want %d", len(got), len(msg))
		}
	}
	// A plain request gets the JSON echo.
	if e := getEcho(t, n.HTTPClient(), url+"/plain"); e.Name != "ws" || e.Websocket {
		t.Errorf("plain echo %+v", e)
	}
}

func TestTLSEcho(t *testing.T) {
	requireRoot(t)
	n := New(t)
	cert := selfSigned(t, "backend.test")
	addr := n.ServeTLSEcho(t, "", "tls-a", cert)
	host, _, _ := net.SplitHostPort(addr)
	if !n.Allowed(net.ParseIP(host)) {
		t.Fatalf("TLS echo on %s, outside the namespace", addr)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: "backend.test", InsecureSkipVerify: true}) //nolint:gosec // a test's own self-signed cert
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	k, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:k]); got != "tls-a backend.test\n" {
		t.Fatalf("greeting %q", got)
	}
	io.WriteString(c, "ping")
	if _, err := io.ReadFull(c, buf[:4]); err != nil || string(buf[:4]) != "ping" {
		t.Fatalf("echo %q, %v", buf[:4], err)
	}
}

func TestHTTPClientRefusesOtherAddresses(t *testing.T) {
	requireRoot(t)
	n := New(t)
	for _, url := range []string{"http://192.0.2.1/", "http://10.0.0.1/", "http://example.com/"} {
		if _, err := n.HTTPClient().Get(url); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("GET %s: %v, want a refusal", url, err)
		}
	}
	if _, err := n.DialWebsocket("192.0.2.1:80", "x", "/", nil); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("DialWebsocket: %v, want a refusal", err)
	}
}

func TestCleanupLeavesNothing(t *testing.T) {
	requireRoot(t)
	var name, veth string
	t.Run("inner", func(t *testing.T) {
		n := New(t)
		name, veth = n.Name(), n.HostVeth()
		n.ServeEcho(t, "", "x") // a listener still open at cleanup
		if !strings.Contains(ipOut(t, "netns", "list"), name) {
			t.Fatalf("namespace %s not listed", name)
		}
	})
	if strings.Contains(ipOut(t, "netns", "list"), name) {
		t.Errorf("namespace %s left behind", name)
	}
	if strings.Contains(ipOut(t, "link", "show"), veth) {
		t.Errorf("veth %s left behind", veth)
	}
}

func TestSeveralNamespacesAtOnce(t *testing.T) {
	requireRoot(t)
	a, b := New(t), New(t)
	if a.Subnet().String() == b.Subnet().String() {
		t.Fatalf("two namespaces share %s", a.Subnet())
	}
	ua, ub := a.ServeEcho(t, "", "a"), b.ServeEcho(t, "", "b")
	if e := getEcho(t, a.HTTPClient(), ua); e.Name != "a" {
		t.Errorf("a answered as %q", e.Name)
	}
	if e := getEcho(t, b.HTTPClient(), ub); e.Name != "b" {
		t.Errorf("b answered as %q", e.Name)
	}
}

func ipOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %v: %v: %s", args, err, out)
	}
	return string(out)
}

// selfSigned is a serving certificate for name, issued by a CA of its own
// (certgen.CA) that nobody trusts.
func selfSigned(t *testing.T, name string) tls.Certificate {
	t.Helper()
	ca, err := certgen.NewCA(name+" CA", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c, k, err := ca.Issue(certgen.Leaf{CommonName: name, DNSNames: []string{name}, Usage: x509.ExtKeyUsageServerAuth})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}
