package envoy

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/proxyctl/proxyctl/test/cluster"
)

// buildProxyctl builds cmd/proxyctl into a temporary directory.
func buildProxyctl(t *testing.T) string {
	t.Helper()
	root, err := cluster.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "proxyctl")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/proxyctl")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/proxyctl: %v\n%s", err, out)
	}
	return bin
}

// TestProxyctlBootstrapValidates checks that what `proxyctl bootstrap`
// writes loads in the real Envoy as it is.
func TestProxyctlBootstrapValidates(t *testing.T) {
	proxyctl := buildProxyctl(t)
	_, files := xdsMTLS(t, nil)
	tests := map[string][]string{
		"defaults":   nil,
		"delta":      {"--xds-delta"},
		"DNS name":   {"--xds-address", "localhost", "--xds-port", "18001", "--admin-port", "19001"},
		"mutual TLS": {"--xds-ca-file", files.ca, "--xds-cert-file", files.cert, "--xds-key-file", files.key},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "envoy.json")
			cmd := exec.Command(proxyctl, append([]string{"bootstrap", path, "--node-id", "envoy-0"}, args...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("proxyctl bootstrap: %v\n%s", err, out)
			}
			if err := Validate(path); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("stdout", func(t *testing.T) {
		out, err := exec.Command(proxyctl, "bootstrap", "-").Output()
		if err != nil {
			t.Fatalf("proxyctl bootstrap -: %v", err)
		}
		path := filepath.Join(t.TempDir(), "envoy.json")
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Validate(path); err != nil {
			t.Fatal(err)
		}
	})
}

// helloSnapshot serves one listener on a free loopback port that answers
// every request with 200 "hello"; it returns the port.
func helloSnapshot(t *testing.T, ads *ADS, nodeID string) int {
	t.Helper()
	ports, err := cluster.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	l, err := DirectResponseListener("hello", "127.0.0.1", ports[0], http.StatusOK, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if err := ads.Set(nodeID, map[resource.Type][]types.Resource{resource.ListenerType: {l}}); err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

// get fetches url without any proxy from the environment, retrying for a
// few seconds while the connection is refused.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			return resp.StatusCode, string(body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEnvoyServesConfigFromADS runs the real Envoy with the bootstrap
// against an ADS server and checks that it serves what the server sent.
func TestEnvoyServesConfigFromADS(t *testing.T) {
	tests := map[string]struct {
		delta bool
		tls   bool
	}{
		"sotw":             {},
		"delta":            {delta: true},
		"mutual TLS":       {tls: true},
		"mutual TLS delta": {tls: true, delta: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var (
				adsOpts ADSOptions
				opts    = Options{NodeID: "envoy-" + strings.ReplaceAll(name, " ", "-"), Delta: tc.delta}
			)
			if tc.tls {
				serverTLS, files := xdsMTLS(t, nil)
				adsOpts.TLS = serverTLS
				opts.CAFile, opts.CertFile, opts.KeyFile = files.ca, files.cert, files.key
			}
			ads := StartADS(t, adsOpts)
			port := helloSnapshot(t, ads, opts.NodeID)
			opts.XDSAddress, opts.XDSPort = ads.Address(), ads.Port()

			started := time.Now()
			e := Start(t, opts)
			adminUp := time.Since(started)
			if err := e.WaitReady(20 * time.Second); err != nil {
				t.Fatal(err)
			}
			t.Logf("Envoy admin up after %v, ready after %v", adminUp.Round(time.Millisecond), time.Since(started).Round(time.Millisecond))

			code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/anything", port))
			if code != http.StatusOK || body != "hello" {
				t.Fatalf("GET: %d %q, want 200 \"hello\"", code, body)
			}

			stats, err := e.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if got := stats["listener_manager.total_listeners_active"]; got != 1 {
				t.Errorf("listener_manager.total_listeners_active = %d, want 1", got)
			}
			if got := stats["control_plane.connected_state"]; got != 1 {
				t.Errorf("control_plane.connected_state = %d, want 1", got)
			}
			dump, err := e.ConfigDump()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(dump), `"name": "hello"`) {
				t.Errorf("config dump does not show the listener hello")
			}
		})
	}
}

// TestSeveralEnvoysAtOnce runs three Envoys side by side on one ADS server.
func TestSeveralEnvoysAtOnce(t *testing.T) {
	ads := StartADS(t, ADSOptions{})
	const n = 3
	envoys := make([]*Envoy, n)
	ports := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		node := "envoy-" + strconv.Itoa(i)
		ports[i] = helloSnapshot(t, ads, node)
		wg.Go(func() {
			envoys[i] = Start(t, Options{NodeID: node, XDSAddress: ads.Address(), XDSPort: ads.Port()})
		})
	}
	wg.Wait()
	for i, e := range envoys {
		if e == nil {
			t.FailNow() // Start failed in its goroutine
		}
		if err := e.WaitReady(20 * time.Second); err != nil {
			t.Fatalf("envoy %d: %v", i, err)
		}
		if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", ports[i])); code != 200 || body != "hello" {
			t.Errorf("envoy %d: GET: %d %q", i, code, body)
		}
	}
}

// TestNotReadyWithoutXDS checks that the admin interface comes up while
// /ready stays 503 as long as no configuration has arrived.
func TestNotReadyWithoutXDS(t *testing.T) {
	ports, err := cluster.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	e := Start(t, Options{XDSAddress: "127.0.0.1", XDSPort: ports[0]})
	if err := e.WaitAdminUp(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	err = e.WaitReady(2 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("WaitReady = %v, want a timeout with /ready at 503", err)
	}
}

// TestUntrustedClientCertificateIsRejected checks that the ADS server's
// client certificate check really applies: an Envoy whose certificate
// another CA issued never gets configuration.
func TestUntrustedClientCertificateIsRejected(t *testing.T) {
	serverTLS, files := xdsMTLS(t, newTestCA(t, "someone-else"))
	ads := StartADS(t, ADSOptions{TLS: serverTLS})
	helloSnapshot(t, ads, "envoy")
	e := Start(t, Options{NodeID: "envoy", XDSAddress: ads.Address(), XDSPort: ads.Port(),
		CAFile: files.ca, CertFile: files.cert, KeyFile: files.key})
	if err := e.WaitReady(3 * time.Second); err == nil {
		t.Fatal("Envoy with an untrusted client certificate became ready")
	}
}

// TestStopLeavesNoProcess checks that Stop ends Envoy and that stopping
// twice is harmless.
func TestStopLeavesNoProcess(t *testing.T) {
	ads := StartADS(t, ADSOptions{})
	e := Start(t, Options{XDSAddress: ads.Address(), XDSPort: ads.Port()})
	pid := e.Pid()
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Fatalf("kill(%d, 0) = %v after Stop, want ESRCH", pid, err)
	}
}
