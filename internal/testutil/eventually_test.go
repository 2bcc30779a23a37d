package testutil

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestEventuallyPollsUntilTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	Eventually(t, 10*time.Second, "the third poll", func() bool { return n.Add(1) >= 3 })
	if got := n.Load(); got != 3 {
		t.Errorf("polled %d times, want 3", got)
	}
	n.Store(0)
	Eventually(t, 10*time.Second, "the third poll", func() error {
		if n.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if got := n.Load(); got != 3 {
		t.Errorf("polled %d times, want 3", got)
	}
}

// fatalRecorder records Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	// Eventually must not poll again after Fatalf; a real Fatalf ends the
	// goroutine, which runtime.Goexit would do here too.
	panic(f)
}

func TestEventuallyFailsWithTheLastError(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	func() {
		defer func() {
			if r := recover(); r != rec {
				t.Fatalf("Eventually did not fail: %v", r)
			}
		}()
		Eventually(rec, 20*time.Millisecond, "never", func() error { return errors.New("the last error") })
	}()
	if !strings.Contains(rec.msg, "never") || !strings.Contains(rec.msg, "the last error") {
		t.Errorf("failure message %q names neither what nor the last error", rec.msg)
	}
}
