package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ModulePath is the module whose root FindRepoRoot looks for.
const ModulePath = "github.com/proxyctl/proxyctl"

// FindRepoRoot walks up from the working directory to the directory whose
// go.mod declares ModulePath (nested modules such as tools/kube are skipped).
func FindRepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modulePath(data) == ModulePath {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod of module %s in %s or above", ModulePath, wd)
		}
	}
}

// modulePath returns the path of the module statement of a go.mod.
func modulePath(gomod []byte) string {
	s := bufio.NewScanner(bytes.NewReader(gomod))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			rest, _, _ = strings.Cut(rest, "//")
			return strings.Trim(strings.TrimSpace(rest), `"`+"`")
		}
	}
	return ""
}

type binaries struct {
	etcd, apiserver, kubectl string
}

// findBinaries checks that dir holds the three binaries the harness runs.
func findBinaries(dir string) (binaries, error) {
	b := binaries{
		etcd:      filepath.Join(dir, "etcd"),
		apiserver: filepath.Join(dir, "kube-apiserver"),
		kubectl:   filepath.Join(dir, "kubectl"),
	}
	var missing []string
	for _, path := range []string{b.etcd, b.apiserver, b.kubectl} {
		info, err := os.Stat(path)
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			missing = append(missing, filepath.Base(path))
		}
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("%s missing from %s: run `make tools` to build them", strings.Join(missing, ", "), dir)
	}
	return b, nil
}

// freePorts returns n distinct loopback ports that nothing listens on. They
// are picked at random below the kernel's ephemeral range, where outgoing
// connections never take them; that matters for a restarted API server, which
// must bind its old port again.
func freePorts(n int) ([]int, error) {
	lo, hi := 10000, ephemeralLow()
	if hi-lo < 1000 {
		return listenerPorts(n)
	}
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries == 1000 {
			return nil, errors.New("no free loopback port found")
		}
		p := lo + rand.IntN(hi-lo)
		if !slices.Contains(ports, p) && portFree(p) {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// ephemeralLow returns the first port of the kernel's ephemeral range, or 0
// if unknown.
func ephemeralLow() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0
	}
	lo, _ := strconv.Atoi(fields[0])
	return lo
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// listenerPorts asks the kernel for n free ports.
func listenerPorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// FreePorts returns n distinct free loopback ports for other test processes
// (proxyctl replicas, Envoy), picked the same way as the control plane's.
func FreePorts(n int) ([]int, error) { return freePorts(n) }
