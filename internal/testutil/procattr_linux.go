package testutil

import "syscall"

// SysProcAttr puts a child in its own process group, so that stopping it
// stops anything it started, and has the kernel kill it if the test binary
// dies without running its cleanups (a panic or a -timeout, say).
func SysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
