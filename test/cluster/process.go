package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

const (
	tailLines          = 50
	etcdStopGrace      = 10 * time.Second
	apiserverStopGrace = 15 * time.Second
)

// errPortInUse marks a start that failed because a port picked for a
// component was taken before the component bound it.
var errPortInUse = errors.New("port already in use")

// process is a child process in its own process group whose output goes to
// a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited and been reaped
	err     error         // Wait's result, readable after done is closed
}

// startProcess starts bin with args, appending its stdout and stderr to
// logPath.
func startProcess(name, bin string, args, env []string, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	// The child has its own descriptor; ours is not needed past Start.
	defer logFile.Close()
	fmt.Fprintf(logFile, "=== %s %s: %s %s\n", time.Now().Format(time.RFC3339Nano), name, bin, strings.Join(args, " "))

	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = testutil.SysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited, and if so why.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.exitError()
	default:
		return false, nil
	}
}

// exitError describes an exit the harness did not ask for.
func (p *process) exitError() error {
	err := fmt.Errorf("%s exited: %v (log: %s)", p.name, p.err, p.logPath)
	if logMentions(p.logPath, "address already in use") {
		err = fmt.Errorf("%w: %w", errPortInUse, err)
	}
	return err
}

// stop sends SIGTERM to the process group, then SIGKILL if the process has
// not exited after grace, and waits for it to exit.
func (p *process) stop(grace time.Duration) error {
	err := testutil.StopGroup(p.name, p.cmd.Process.Pid, p.done, grace)
	if errors.Is(err, testutil.ErrIgnoredTerm) {
		// A component that needed SIGKILL is stopped all the same.
		return nil
	}
	return err
}

// kill sends SIGKILL to the process group and waits for the process to exit.
func (p *process) kill() error {
	return testutil.KillGroup(p.name, p.cmd.Process.Pid, p.done, nil)
}

// logMentions reports whether the log at path contains s.
func logMentions(path, s string) bool {
	data, err := os.ReadFile(path)
	return err == nil && bytes.Contains(data, []byte(s))
}

// logTails returns the last n lines of every log of the cluster.
func (c *Cluster) logTails(n int) string {
	logs, _ := filepath.Glob(filepath.Join(c.logDir, "*.log"))
	var b strings.Builder
	for _, path := range logs {
		fmt.Fprintf(&b, "----- %s (last %d lines) -----\n", filepath.Base(path), n)
		lines, err := tail(path, n)
		if err != nil {
			fmt.Fprintf(&b, "%v\n", err)
			continue
		}
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// tail returns the last n lines of the file at path, reading at most its last
// 256 KiB.
func tail(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	const maxRead = 256 << 10
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	offset := max(info.Size()-maxRead, 0)
	data, err := io.ReadAll(io.NewSectionReader(f, offset, info.Size()-offset))
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if offset > 0 && len(lines) > 0 {
		lines = lines[1:] // partial first line
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}

// childEnv returns the environment of the test process without the variables
// whose names start with one of the prefixes, plus extra.
func childEnv(dropPrefixes []string, extra ...string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		for _, p := range dropPrefixes {
			if strings.HasPrefix(kv, p) {
				return true
			}
		}
		return false
	})
	return append(env, extra...)
}
