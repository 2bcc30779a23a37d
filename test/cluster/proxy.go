package cluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// TCPProxy forwards TCP connections from a loopback port of its own to a
// target, until the test cuts it: then every connection through it is
// closed and new ones are closed as soon as they are accepted, as a network
// partition between one client and the target would look. It keeps its
// port while cut, so Restore heals the partition on the same address.
type TCPProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewTCPProxy listens on a free loopback port and forwards to target
// (host:port). Close it when done.
func NewTCPProxy(target string) (*TCPProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &TCPProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *TCPProxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every open connection through the proxy and makes it close new
// ones at once.
func (p *TCPProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
}

// Restore forwards new connections again.
func (p *TCPProxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Close stops listening, closes every connection and waits for the
// forwarding goroutines to end.
func (p *TCPProxy) Close() error {
	err := p.ln.Close()
	p.Cut()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (p *TCPProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(in)
	}
}

// track registers c unless the proxy is cut, in which case it closes c.
func (p *TCPProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *TCPProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *TCPProxy) forward(in net.Conn) {
	defer p.wg.Done()
	if !p.track(in) {
		return
	}
	defer p.untrack(in)
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(out) {
		return
	}
	defer p.untrack(out)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Closing both ends makes the other direction's copy return too.
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}

// KubeconfigVia writes a kubeconfig with the cluster's credentials whose
// server is https://addr instead of the API server's own address (a
// TCPProxy's, say) and returns its path. The API server's certificate is
// valid for 127.0.0.1 on any port.
func (c *Cluster) KubeconfigVia(name, addr string) (string, error) {
	if c.Config == nil {
		return "", errors.New("cluster is not started")
	}
	path := c.path(fmt.Sprintf("kubeconfig-%s", name))
	err := clientcmd.WriteToFile(clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"proxyctl-test": {Server: "https://" + addr, CertificateAuthorityData: c.Config.CAData}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{AdminUser: {Token: c.Config.BearerToken}},
		Contexts:       map[string]*clientcmdapi.Context{"proxyctl-test": {Cluster: "proxyctl-test", AuthInfo: AdminUser, Namespace: "default"}},
		CurrentContext: "proxyctl-test",
	}, path)
	return path, err
}

// APIServerAddr is the API server's host:port, for a TCPProxy's target.
func (c *Cluster) APIServerAddr() string { return fmt.Sprintf("127.0.0.1:%d", c.apiPort) }
