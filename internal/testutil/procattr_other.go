//go:build unix && !linux

package testutil

import "syscall"

// SysProcAttr puts a child in its own process group, so that stopping it
// stops anything it started.
func SysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
