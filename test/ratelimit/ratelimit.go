// Package ratelimit runs the real Envoy rate limit service
// (github.com/envoyproxy/ratelimit, bin/ratelimit, built by `make tools`)
// with a real Redis (Debian's redis-server, installed by `make sysdeps`)
// inside a test's network namespace: Redis on the namespace's loopback,
// the service's gRPC API on the namespace's address. Both are processes
// of their own, stopped when the test ends; the service can be stopped
// earlier to see what Envoy does without it.
package ratelimit

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/netns"
)

const (
	// GRPCPort is the service's gRPC port, on the namespace's address.
	GRPCPort = 8081
	// httpPort answers /healthcheck.
	httpPort  = 8080
	debugPort = 6070
	redisPort = 6379
	startWait = 30 * time.Second
	stopWait  = 10 * time.Second
	tailLines = 40
)

// Binary returns bin/ratelimit, or an error that says how to build it.
func Binary() (string, error) {
	root, err := cluster.FindRepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "bin", "ratelimit")
	if info, err := os.Stat(bin); err != nil || info.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("no rate limit service at %s: run `make tools`", bin)
	}
	return bin, nil
}

// Service is a running rate limit service and its Redis.
type Service struct {
	ns        *netns.NS
	dir       string
	redis     *process
	ratelimit *process
}

// process is one child, in a process group of its own.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// Start runs Redis and the rate limit service with config, the YAML of
// one domain's rate limit configuration (see the service's README), and
// waits until the service answers its health check. A missing binary
// fails the test: run `make tools sysdeps`.
func Start(t testing.TB, ns *netns.NS, config string) *Service {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("no redis-server: run `make sysdeps`: %v", err)
	}
	s := &Service{ns: ns, dir: t.TempDir()}
	t.Cleanup(func() { s.stopAll(t) })

	// Redis keeps nothing on disk: counters live only as long as the test.
	s.redis, err = s.start("redis", redisBin, nil, "--bind", "127.0.0.1", "--port", strconv.Itoa(redisPort),
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	if err != nil {
		t.Fatal(err)
	}
	// The service reads RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/config/*.yaml.
	confDir := filepath.Join(s.dir, "runtime", "ratelimit", "config")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(confDir, "config.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"USE_STATSD=false",
		"LOG_LEVEL=debug",
		"REDIS_SOCKET_TYPE=tcp",
		"REDIS_URL=" + net.JoinHostPort("127.0.0.1", strconv.Itoa(redisPort)),
		"RUNTIME_ROOT=" + filepath.Join(s.dir, "runtime"),
		"RUNTIME_SUBDIRECTORY=ratelimit",
		"RUNTIME_WATCH_ROOT=false",
		"HOST=" + ns.IP(), "PORT=" + strconv.Itoa(httpPort),
		"DEBUG_HOST=127.0.0.1", "DEBUG_PORT=" + strconv.Itoa(debugPort),
		"GRPC_HOST=" + ns.IP(), "GRPC_PORT=" + strconv.Itoa(GRPCPort),
	}
	if err := s.waitRedis(); err != nil {
		t.Fatalf("%v\n%s", err, s.redis.tail())
	}
	if s.ratelimit, err = s.start("ratelimit", bin, env); err != nil {
		t.Fatal(err)
	}
	if err := s.waitHealthy(); err != nil {
		t.Fatalf("%v\n%s", err, s.ratelimit.tail())
	}
	return s
}

// Addr is the service's gRPC address, in the namespace.
func (s *Service) Addr() (ip string, port int32) { return s.ns.IP(), GRPCPort }

// start runs bin inside the namespace with its output in a log file.
func (s *Service) start(name, bin string, env []string, args ...string) (*process, error) {
	p := &process{name: name, logPath: filepath.Join(s.dir, name+".log"), done: make(chan struct{})}
	log, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	p.cmd = s.ns.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	// A group of its own, killed with the test binary if it dies without
	// running its cleanups.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// waitRedis waits until Redis answers PING.
func (s *Service) waitRedis() error {
	deadline := time.Now().Add(startWait)
	for {
		err := s.redisCommand("PING")
		if err == nil {
			return nil
		}
		select {
		case <-s.redis.done:
			return fmt.Errorf("redis-server exited: %v", s.redis.cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server did not answer within %v: %v", startWait, err)
		}
	}
}

// waitHealthy waits until the service says it is healthy (its
// configuration loaded, Redis reachable).
func (s *Service) waitHealthy() error {
	client := s.ns.HTTPClient()
	url := "http://" + net.JoinHostPort(s.ns.IP(), strconv.Itoa(httpPort)) + "/healthcheck"
	deadline := time.Now().Add(startWait)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("health check answered %d", resp.StatusCode)
		}
		select {
		case <-s.ratelimit.done:
			return fmt.Errorf("ratelimit exited: %v", s.ratelimit.cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ratelimit was not healthy within %v: %v", startWait, err)
		}
	}
}

// Flush forgets every counter, so a test starts from zero.
func (s *Service) Flush() error { return s.redisCommand("FLUSHALL") }

// redisCommand sends one inline command to Redis and wants a simple
// string ("+...") answer.
func (s *Service) redisCommand(cmd string) error {
	c, err := s.ns.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(redisPort)))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+") {
		return fmt.Errorf("redis %s: %s", cmd, strings.TrimSpace(line))
	}
	return nil
}

// StopService stops the rate limit service (Redis keeps running): Envoy's
// requests to it then fail.
func (s *Service) StopService() error { return s.ratelimit.stop() }

func (p *process) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopWait):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return fmt.Errorf("%s (pid %d) ignored SIGTERM for %v", p.name, p.cmd.Process.Pid, stopWait)
	case <-time.After(stopWait):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

func (p *process) tail() string {
	data, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return fmt.Sprintf("----- %s log %s (last %d lines) -----\n%s", p.name, p.logPath, tailLines, strings.Join(lines, "\n"))
}

func (s *Service) stopAll(t testing.TB) {
	var errs []error
	for _, p := range []*process{s.ratelimit, s.redis} {
		if p == nil {
			continue
		}
		if t.Failed() {
			t.Log(p.tail())
		}
		errs = append(errs, p.stop())
	}
	if err := errors.Join(errs...); err != nil {
		t.Errorf("stop the rate limit service: %v", err)
	}
}
