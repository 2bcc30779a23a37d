//go:build unix && !linux

package envoy

import "syscall"

// sysProcAttr puts a child in its own process group, so that stopping it
// stops anything it started.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
