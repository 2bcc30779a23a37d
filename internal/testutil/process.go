//go:build unix

package testutil

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// KillWait bounds how long a process may take to exit after SIGKILL.
const KillWait = 10 * time.Second

// ErrIgnoredTerm says a process exited only after SIGKILL.
var ErrIgnoredTerm = errors.New("ignored SIGTERM")

// StopGroup stops the process group that pid leads (started with
// SysProcAttr): SIGTERM, then SIGKILL if the process has not exited after
// grace, and waits for it to exit (done is closed once it has been reaped).
// It sends SIGKILL to the group in the end in any case, so that nothing the
// process started outlives it. It returns an error wrapping ErrIgnoredTerm
// when SIGKILL was needed, and another error when even that did not end it.
func StopGroup(name string, pid int, done <-chan struct{}, grace time.Duration) error {
	// The process leads its group, so the group's id is its pid.
	signal := func(sig syscall.Signal) { _ = syscall.Kill(-pid, sig) }
	select {
	case <-done:
		signal(syscall.SIGKILL) // leftovers of the group, if any
		return nil
	default:
	}
	signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
		signal(syscall.SIGKILL)
		return nil
	case <-timer.C:
	}
	return KillGroup(name, pid, done, fmt.Errorf("%s (pid %d) %w for %v", name, pid, ErrIgnoredTerm, grace))
}

// KillGroup sends SIGKILL to the process group pid leads and waits for the
// process to exit; it returns ifExited once it has.
func KillGroup(name string, pid int, done <-chan struct{}, ifExited error) error {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-done:
		return ifExited
	case <-time.After(KillWait):
		return fmt.Errorf("%s (pid %d) did not exit %v after SIGKILL", name, pid, KillWait)
	}
}
