//go:build linux

package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NS is a network namespace of a test, with a veth pair to the host.
type NS struct {
	name     string // namespace name, proxyctl-<hex>
	hostVeth string
	nsVeth   string
	subnet   [3]byte // 10.X.Y
	fd       *os.File

	mu    sync.Mutex
	addrs int // addresses on the namespace side: 10.X.Y.2 .. 10.X.Y.(1+addrs)
}

// New creates a namespace for the test and removes it when the test ends.
func New(t testing.TB) *NS {
	t.Helper()
	n, err := Create()
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("netns cleanup: %v", err)
		}
	})
	return n
}

// Create makes a namespace that the caller must Close; New is the form
// for tests.
func Create() (*NS, error) {
	var lastErr error
	for range 5 {
		n, err := create()
		if err == nil {
			return n, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func create() (_ *NS, err error) {
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	suffix := hex.EncodeToString(id)
	n := &NS{
		name: "proxyctl-" + suffix,
		// Interface names have at most 15 bytes.
		hostVeth: "pcx" + suffix + "h",
		nsVeth:   "pcx" + suffix + "n",
		addrs:    1,
	}
	if n.subnet, err = pickSubnet(); err != nil {
		return nil, err
	}
	if err := ip("netns", "add", n.name); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = n.Close()
		}
	}()
	steps := [][]string{
		{"link", "add", n.hostVeth, "type", "veth", "peer", "name", n.nsVeth},
		{"link", "set", n.nsVeth, "netns", n.name},
		{"addr", "add", n.HostIP() + "/24", "dev", n.hostVeth},
		{"link", "set", n.hostVeth, "up"},
		{"-n", n.name, "link", "set", "lo", "up"},
		{"-n", n.name, "addr", "add", n.IP() + "/24", "dev", n.nsVeth},
		{"-n", n.name, "link", "set", n.nsVeth, "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return nil, err
		}
	}
	if n.fd, err = os.Open("/var/run/netns/" + n.name); err != nil {
		return nil, err
	}
	return n, nil
}

// pickSubnet returns a random 10.X.Y/24, X in 200-254, that no address or
// route of the host already covers.
func pickSubnet() ([3]byte, error) {
	for range 100 {
		x, err := rand.Int(rand.Reader, big.NewInt(55))
		if err != nil {
			return [3]byte{}, err
		}
		y, err := rand.Int(rand.Reader, big.NewInt(256))
		if err != nil {
			return [3]byte{}, err
		}
		s := [3]byte{10, byte(200 + x.Int64()), byte(y.Int64())}
		prefix := fmt.Sprintf("%d.%d.%d.0/24", s[0], s[1], s[2])
		// Routes to the prefix or inside it (other tests' veths included).
		out, err := exec.Command("ip", "-4", "route", "show", "table", "all", "root", prefix).CombinedOutput()
		if err != nil {
			return [3]byte{}, fmt.Errorf("ip route show: %v: %s", err, out)
		}
		if len(bytes.TrimSpace(out)) == 0 {
			return s, nil
		}
	}
	return [3]byte{}, errors.New("no free 10.200-254.Y.0/24 subnet")
}

// ip runs iproute2's ip with args.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// Close removes the veth pair and the namespace. New's cleanup calls it;
// calling it again is harmless.
func (n *NS) Close() error {
	var errs []error
	if n.fd != nil {
		n.fd.Close()
		n.fd = nil
	}
	// Deleting one end of a veth pair deletes both, at once, whatever still
	// holds the namespace open.
	if linkExists(n.hostVeth) {
		if err := ip("link", "del", n.hostVeth); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := os.Stat("/var/run/netns/" + n.name); err == nil {
		if err := ip("netns", "del", n.name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// Name returns the namespace's name (for `ip netns exec`).
func (n *NS) Name() string { return n.name }

// HostVeth returns the name of the host end of the veth pair.
func (n *NS) HostVeth() string { return n.hostVeth }

// HostIP returns the host's address on the veth pair, 10.X.Y.1.
func (n *NS) HostIP() string { return n.hostIP(1) }

// IP returns the namespace's first address, 10.X.Y.2.
func (n *NS) IP() string { return n.hostIP(2) }

func (n *NS) hostIP(last int) string {
	return net.IPv4(n.subnet[0], n.subnet[1], n.subnet[2], byte(last)).String()
}

// Subnet returns the namespace's /24.
func (n *NS) Subnet() *net.IPNet {
	return &net.IPNet{IP: net.IPv4(n.subnet[0], n.subnet[1], n.subnet[2], 0).To4(), Mask: net.CIDRMask(24, 32)}
}

// Addr returns the namespace's address number i: Addr(0) is IP(), 10.X.Y.2,
// Addr(1) is 10.X.Y.3, and so on. Addresses not there yet are added to the
// namespace's end of the veth pair.
func (n *NS) Addr(i int) (string, error) {
	if i < 0 || i > 250 {
		return "", fmt.Errorf("netns: address index %d not in 0-250", i)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for n.addrs <= i {
		addr := n.hostIP(2 + n.addrs)
		if err := ip("-n", n.name, "addr", "add", addr+"/24", "dev", n.nsVeth); err != nil {
			return "", err
		}
		n.addrs++
	}
	return n.hostIP(2 + i), nil
}

// Do runs fn on an OS thread that is inside the namespace. Sockets fn
// creates stay in the namespace after fn returns. fn must not start
// goroutines that expect the namespace: they run on other threads.
func (n *NS) Do(fn func() error) error {
	if n.fd == nil {
		return errors.New("netns: namespace closed")
	}
	target := int(n.fd.Fd())
	errc := make(chan error, 1)
	// A fresh goroutine: if switching back fails, it exits still locked to
	// its thread and the runtime throws that thread away instead of
	// reusing it in the wrong namespace.
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", n.name, err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: the thread dies with this goroutine.
			errc <- errors.Join(fnErr, fmt.Errorf("setns back to the host namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}

// Listen creates a listener inside the namespace; addr must be an address
// of the namespace (see IP and Addr) or 127.0.0.1, the namespace's own
// loopback.
func (n *NS) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// Dial connects from inside the namespace to an IP:port on its loopback or
// its /24.
func (n *NS) Dial(network, addr string) (net.Conn, error) {
	if err := n.checkAddr(addr); err != nil {
		return nil, err
	}
	var c net.Conn
	err := n.Do(func() error {
		var err error
		c, err = net.DialTimeout(network, addr, 5*time.Second)
		return err
	})
	return c, err
}

// Allowed reports whether ip is one the tests may send traffic to: loopback
// or this namespace's /24.
func (n *NS) Allowed(ip net.IP) bool {
	return ip.IsLoopback() || n.Subnet().Contains(ip)
}

// HTTPClient returns a client that never uses a proxy from the environment,
// never resolves names (a DNS query would leave the machine) and refuses to
// connect anywhere but loopback and the namespace's /24.
func (n *NS) HTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
				if err := n.checkAddr(address); err != nil {
					return nil, err
				}
				return dialer.DialContext(ctx, network, address)
			},
		},
	}
}

// checkAddr accepts an IP:port on loopback or in the namespace's /24.
func (n *NS) checkAddr(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !n.Allowed(ip) {
		return fmt.Errorf("netns: refusing to connect to %s: only IP addresses on loopback and in %s", address, n.Subnet())
	}
	return nil
}

// hostPort fills in the namespace's first IP and port 0 where addr leaves
// them out ("" or ":0" or "10.X.Y.3:").
func (n *NS) hostPort(addr string) string {
	if addr == "" {
		return net.JoinHostPort(n.IP(), "0")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr // let Listen report it
	}
	if host == "" {
		host = n.IP()
	}
	if port == "" {
		port = "0"
	}
	return net.JoinHostPort(host, port)
}

// serve runs srv on a listener inside the namespace until the test ends and
// returns the listener's address. With srv.TLSConfig set, it serves TLS.
func (n *NS) serve(t testing.TB, addr string, srv *http.Server) string {
	t.Helper()
	l, err := n.Listen("tcp", n.hostPort(addr))
	if err != nil {
		t.Fatalf("netns: listen on %s: %v", addr, err)
	}
	served := l
	if srv.TLSConfig != nil {
		served = tls.NewListener(l, srv.TLSConfig)
	}
	go srv.Serve(served) //nolint:errcheck // returns once shut down
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
	})
	return l.Addr().String()
}

// ServeHTTP serves handler inside the namespace on addr ("" for the
// namespace's first IP and a free port) until the test ends, and returns the
// server's URL.
func (n *NS) ServeHTTP(t testing.TB, addr string, handler http.Handler) string {
	t.Helper()
	return "http://" + n.serve(t, addr, &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second})
}

// Command returns a command that runs name inside the namespace (through
// `ip netns exec`, which execs it: the process is name itself), for
// backends that are programs of their own rather than handlers of the
// test process.
func (n *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}
