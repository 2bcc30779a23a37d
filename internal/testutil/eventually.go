package testutil

import (
	"errors"
	"testing"
	"time"
)

// maxInterval bounds the pause between two polls: short enough that a
// test ends soon after its condition holds, long enough not to spin when
// a check is costly (an HTTP request, a process run).
const maxInterval = 100 * time.Millisecond

// errNotYet is what a func() bool condition reports until it holds.
var errNotYet = errors.New("condition not met")

// Eventually polls check until it holds, failing t with what and the last
// error once timeout has passed. check is a func() error (nil when it
// holds) or a func() bool. The first poll is immediate; the pause between
// polls starts at a millisecond and doubles up to maxInterval.
func Eventually[C func() error | func() bool](t testing.TB, timeout time.Duration, what string, check C) {
	t.Helper()
	var poll func() error
	switch c := any(check).(type) {
	case func() error:
		poll = c
	case func() bool:
		poll = func() error {
			if c() {
				return nil
			}
			return errNotYet
		}
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	interval := time.Millisecond
	for {
		err := poll()
		if err == nil {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("%s: not so after %v: %v", what, timeout, err)
		case <-time.After(interval):
		}
		interval = min(2*interval, maxInterval)
	}
}
