package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/proxyctl/proxyctl/internal/xdsserver"
)

// parseCertgen parses args as a proxyctl command line and returns the
// certgen subcommand's context, printing to stdout and using client for
// --kube.
func parseCertgen(t *testing.T, stdout io.Writer, client kubernetes.Interface, args ...string) (*certgenContext, error) {
	t.Helper()
	app := kingpin.New("proxyctl", "")
	app.Terminate(nil)
	cmd, ctx := registerCertgen(app)
	ctx.stdout = stdout
	ctx.newClient = func(*certgenContext) (kubernetes.Interface, error) {
		if client == nil {
			return nil, errors.New("no Kubernetes client in this test")
		}
		return client, nil
	}
	got, err := app.Parse(args)
	if err != nil {
		return nil, err
	}
	if got != cmd.FullCommand() {
		t.Fatalf("parsed command %q, want %q", got, cmd.FullCommand())
	}
	return ctx, nil
}

func runCertgen(t *testing.T, client kubernetes.Interface, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	ctx, err := parseCertgen(t, &out, client, append([]string{"certgen"}, args...)...)
	if err != nil {
		return "", usagef("%v", err)
	}
	err = ctx.run()
	return out.String(), err
}

func TestCertgenUsageErrors(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("POD_NAMESPACE", "")
	dir := t.TempDir()
	tests := map[string][]string{
		"no output":                    {},
		"both outputs":                 {"--output-dir", dir, "--kube"},
		"incluster without kube":       {"--output-dir", dir, "--incluster"},
		"kubeconfig without kube":      {"--output-dir", dir, "--kubeconfig", "/dev/null"},
		"incluster and kubeconfig":     {"--kube", "--incluster", "--kubeconfig", "/dev/null"},
		"zero lifetime":                {"--output-dir", dir, "--lifetime", "0s"},
		"negative lifetime":            {"--output-dir", dir, "--lifetime", "-1h"},
		"lifetime not a duration":      {"--output-dir", dir, "--lifetime", "1y"},
		"bad namespace":                {"--output-dir", dir, "--namespace", "Not_A_Namespace"},
		"empty dns name":               {"--output-dir", dir, "--dns-name", ""},
		"bad dns name":                 {"--output-dir", dir, "--dns-name", "proxyctl..svc"},
		"IP address given as dns name": {"--output-dir", dir, "--dns-name", "10.0.0.1"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := runCertgen(t, nil, args...)
			if !errors.As(err, new(usageError)) {
				t.Fatalf("certgen %v: %v, want a usage error", args, err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Errorf("files written despite the usage error")
			}
		})
	}
}

// TestCertgenFilesServeMutualTLS is the path `make demo` takes: certgen
// writes files, the xDS server loads its side through xdsserver.ServerTLSConfig,
// and a client holding Envoy's certificate completes a TLS 1.3 handshake.
func TestCertgenFilesServeMutualTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	out, err := runCertgen(t, nil, "--output-dir", dir, "--dns-name", "proxyctl.example", "--lifetime", "2h")
	if err != nil {
		t.Fatalf("certgen: %v", err)
	}
	if !strings.Contains(out, dir) {
		t.Errorf("output %q does not name %s", out, dir)
	}
	for name, mode := range map[string]os.FileMode{"ca.crt": 0o644, "proxyctl.crt": 0o644, "proxyctl.key": 0o600, "envoy.crt": 0o644, "envoy.key": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}

	serverConfig, err := xdsserver.ServerTLSConfig(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "proxyctl.crt"), filepath.Join(dir, "proxyctl.key"))
	if err != nil {
		t.Fatalf("xdsserver.ServerTLSConfig: %v", err)
	}
	envoy, err := tls.LoadX509KeyPair(filepath.Join(dir, "envoy.crt"), filepath.Join(dir, "envoy.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)

	for _, serverName := range []string{"proxyctl.example", "127.0.0.1"} {
		t.Run(serverName, func(t *testing.T) {
			state, err := tlsHandshake(t, serverConfig, &tls.Config{
				Certificates: []tls.Certificate{envoy},
				RootCAs:      roots,
				ServerName:   serverName,
				MinVersion:   tls.VersionTLS13,
			})
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if state.Version != tls.VersionTLS13 {
				t.Errorf("TLS version %x, want TLS 1.3", state.Version)
			}
			if got := state.PeerCertificates[0].NotAfter.Sub(state.PeerCertificates[0].NotBefore); got > 4*time.Hour {
				t.Errorf("server certificate valid for %v, asked for 2h", got)
			}
		})
	}
	t.Run("without a client certificate", func(t *testing.T) {
		if _, err := tlsHandshake(t, serverConfig, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}); err == nil {
			t.Errorf("the xDS server accepted a client without a certificate")
		}
	})

	// A second run refuses to replace the files; --overwrite replaces them.
	before, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if _, err := runCertgen(t, nil, "--output-dir", dir); err == nil || errors.As(err, new(usageError)) {
		t.Errorf("second certgen: %v, want a refusal that is not a usage error", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); !bytes.Equal(before, after) {
		t.Errorf("ca.crt replaced without --overwrite")
	}
	if _, err := runCertgen(t, nil, "--output-dir", dir, "--overwrite"); err != nil {
		t.Fatalf("certgen --overwrite: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); bytes.Equal(before, after) {
		t.Errorf("ca.crt not replaced with --overwrite")
	}
}

// tlsHandshake serves one connection with serverConfig and returns the
// client's view of it. The client reads a byte the server writes after its
// handshake, so a client certificate the server rejects fails here too.
func tlsHandshake(t *testing.T, serverConfig, clientConfig *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if conn.(*tls.Conn).Handshake() == nil {
			conn.Write([]byte{'x'})
		}
	}()
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", ln.Addr().String(), clientConfig)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
		return tls.ConnectionState{}, err
	}
	return conn.ConnectionState(), nil
}

func TestCertgenKube(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "")
	client := fake.NewClientset()
	out, err := runCertgen(t, client, "--kube", "--namespace", "edge")
	if err != nil {
		t.Fatalf("certgen --kube: %v", err)
	}
	if !strings.Contains(out, "wrote Secrets edge/proxyctl-cert and edge/envoy-cert") {
		t.Errorf("output %q", out)
	}
	server, err := client.CoreV1().Secrets("edge").Get(context.Background(), "proxyctl-cert", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	block, err := tls.X509KeyPair(server.Data["tls.crt"], server.Data["tls.key"])
	if err != nil {
		t.Fatal(err)
	}
	leaf := block.Leaf
	if !strings.Contains(strings.Join(leaf.DNSNames, ","), "proxyctl.edge.svc") {
		t.Errorf("server DNS names %v lack proxyctl.edge.svc", leaf.DNSNames)
	}

	// Run again, as a retried Job would: the Secrets are kept.
	out, err = runCertgen(t, client, "--kube", "--namespace", "edge")
	if err != nil {
		t.Fatalf("second certgen --kube: %v", err)
	}
	if !strings.Contains(out, "kept") {
		t.Errorf("second run output %q, want the Secrets kept", out)
	}
	again, err := client.CoreV1().Secrets("edge").Get(context.Background(), "proxyctl-cert", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Data["ca.crt"], server.Data["ca.crt"]) {
		t.Errorf("Secret replaced without --overwrite")
	}
	if _, err := runCertgen(t, client, "--kube", "--namespace", "edge", "--overwrite"); err != nil {
		t.Fatalf("certgen --kube --overwrite: %v", err)
	}
	again, err = client.CoreV1().Secrets("edge").Get(context.Background(), "envoy-cert", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again.Data["ca.crt"], server.Data["ca.crt"]) {
		t.Errorf("Secret not replaced with --overwrite")
	}
}
