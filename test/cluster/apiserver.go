package cluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ServiceClusterIPRange is the range Service cluster IPs are allocated from.
// Nothing routes to it: there is no kube-proxy.
const ServiceClusterIPRange = "10.96.0.0/16"

// AdminUser is the user the admin token authenticates as; it is in the group
// system:masters.
const AdminUser = "proxyctl-test-admin"

func (c *Cluster) path(name string) string { return filepath.Join(c.dir, name) }

// writeServiceAccountKey generates the key service account tokens are signed
// with.
func (c *Cluster) writeServiceAccountKey() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return errors.Join(
		os.WriteFile(c.path("sa.key"), priv, 0o600),
		os.WriteFile(c.path("sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644),
	)
}

// apiserverArgs writes the files the API server reads and returns its
// command line.
func (c *Cluster) apiserverArgs(token string) ([]string, error) {
	tokens := fmt.Sprintf("%s,%s,%s-uid,system:masters\n", token, AdminUser, AdminUser)
	if err := os.WriteFile(c.path("tokens.csv"), []byte(tokens), 0o600); err != nil {
		return nil, err
	}
	args := []string{
		"--etcd-servers=" + c.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.apiPort),
		// Generates a self-signed CA and serving certificate on the first
		// start and reuses them on a restart.
		"--cert-dir=" + c.path("certs"),
		"--token-auth-file=" + c.path("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.path("sa.pub"),
		"--service-account-signing-key-file=" + c.path("sa.key"),
		"--service-cluster-ip-range=" + ServiceClusterIPRange,
		// No controller manager creates default service accounts, which
		// this plugin would require of every Pod.
		"--disable-admission-plugins=ServiceAccount",
		// The endpoints of the "kubernetes" Service would point at
		// 127.0.0.1, which Endpoints validation rejects.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
	if c.opts.AuditLog {
		c.AuditLogPath = c.path("audit.log")
		if err := os.WriteFile(c.path("audit-policy.yaml"), []byte(c.opts.AuditPolicy), 0o644); err != nil {
			return nil, err
		}
		args = append(args,
			"--audit-policy-file="+c.path("audit-policy.yaml"),
			"--audit-log-path="+c.AuditLogPath,
			"--audit-log-format=json",
			// Events are written as requests complete, not batched.
			"--audit-log-mode=blocking",
		)
	}
	return append(args, c.opts.APIServerFlags...), nil
}

// launchAPIServerFirstTime writes the API server's files and starts it; it
// returns the check that tells when the server is ready.
func (c *Cluster) launchAPIServerFirstTime() (*readiness, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	token := hex.EncodeToString(raw[:])
	args, err := c.apiserverArgs(token)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.launchAPIServer(args); err != nil {
		return nil, err
	}
	return &readiness{host: c.Host, token: token, caFile: c.path("certs/apiserver.crt")}, nil
}

// waitForAPIServerFirstTime waits until the API server is ready and sets up
// Config, Client and Kubeconfig.
func (c *Cluster) waitForAPIServerFirstTime(ready *readiness) error {
	c.mu.Lock()
	p := c.apiserver
	c.mu.Unlock()
	err := poll(c.opts.StartTimeout, p, "kube-apiserver to become ready", ready.check)
	ready.close()
	if err != nil {
		return err
	}

	c.Config = &rest.Config{
		Host:            c.Host,
		BearerToken:     ready.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: ready.ca},
		UserAgent:       UserAgent,
		QPS:             -1, // no client-side rate limit
	}
	c.Client, err = kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	c.Kubeconfig = c.path("kubeconfig")
	return clientcmd.WriteToFile(clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"proxyctl-test": {Server: c.Host, CertificateAuthorityData: ready.ca}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{AdminUser: {Token: ready.token}},
		Contexts:       map[string]*clientcmdapi.Context{"proxyctl-test": {Cluster: "proxyctl-test", AuthInfo: AdminUser, Namespace: "default"}},
		CurrentContext: "proxyctl-test",
	}, c.Kubeconfig)
}

// launchAPIServer starts the kube-apiserver process; c.mu must be held.
func (c *Cluster) launchAPIServer(args []string) (*process, error) {
	p, err := startProcess("kube-apiserver", c.bins.apiserver, args, childEnv(nil), filepath.Join(c.logDir, "kube-apiserver.log"))
	if err != nil {
		return nil, err
	}
	c.apiserver = p
	c.apiserverArgv = args
	return p, nil
}

// readiness polls the API server's /readyz, trusting the CA the server wrote
// into its certificate directory.
type readiness struct {
	host, token, caFile string
	ca                  []byte
	client              *http.Client
}

func (r *readiness) close() {
	if r.client != nil {
		r.client.CloseIdleConnections()
	}
}

func (r *readiness) check(ctx context.Context) (bool, error) {
	if r.client == nil {
		// The server writes its certificate (with the CA after it) before it
		// serves; until then, or while the file is half written, wait.
		ca, err := os.ReadFile(r.caFile)
		if err != nil {
			return false, nil
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return false, nil
		}
		r.ca = ca
		r.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.host+"/readyz", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("User-Agent", UserAgent)
	resp, err := r.client.Do(req)
	if err != nil {
		var unknownAuthority x509.UnknownAuthorityError
		if errors.As(err, &unknownAuthority) {
			// Read the CA again: the file was read while being written.
			r.close()
			r.client = nil
		}
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return false, fmt.Errorf("/readyz: %s: %s", resp.Status, body)
	}
	return true, nil
}

// StopAPIServer stops the API server alone (SIGTERM, then SIGKILL if it has
// not exited after a grace period) and waits for it to exit. etcd keeps
// running. It does nothing if the API server is not running.
func (c *Cluster) StopAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apiserver == nil {
		return nil
	}
	err := c.apiserver.stop(apiserverStopGrace)
	c.apiserver = nil
	return err
}

// KillAPIServer kills the API server with SIGKILL, as a crash would, and
// waits for it to exit. It does nothing if the API server is not running.
func (c *Cluster) KillAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apiserver == nil {
		return nil
	}
	err := c.apiserver.kill()
	c.apiserver = nil
	return err
}

// StartAPIServer starts the API server again after StopAPIServer or
// KillAPIServer, on the same port with the same certificates and
// credentials, so Config, Client and Kubeconfig keep working, and waits until
// it is ready.
func (c *Cluster) StartAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apiserver != nil {
		if exited, _ := c.apiserver.exited(); exited {
			c.apiserver = nil // it crashed or was killed from outside
		}
	}
	switch {
	case c.stopped:
		return errors.New("cluster is stopped")
	case c.apiserver != nil:
		return errors.New("kube-apiserver is already running")
	}
	p, err := c.launchAPIServer(c.apiserverArgv)
	if err != nil {
		return err
	}
	ready := &readiness{host: c.Host, token: c.Config.BearerToken, caFile: c.path("certs/apiserver.crt")}
	defer ready.close()
	return poll(c.opts.StartTimeout, p, "kube-apiserver to become ready again", ready.check)
}
