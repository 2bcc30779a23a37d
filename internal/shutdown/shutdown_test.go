package shutdown

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// fakeAdmin is an Envoy admin interface whose open connections fall by
// one at each count once the listeners drain.
type fakeAdmin struct {
	mu    sync.Mutex
	calls []string
	open  int
}

func (f *fakeAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.RequestURI())
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/healthcheck/fail":
	case r.Method == http.MethodPost && r.URL.Path == "/drain_listeners":
	case r.Method == http.MethodGet && r.URL.Path == "/stats":
		fmt.Fprintf(w, "http.admin.downstream_cx_active: 1\nhttp.ingress_http.downstream_cx_active: %d\nhttp.ingress_https.downstream_cx_active: 0\n", f.open)
		if f.open > 0 {
			f.open--
		}
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeAdmin) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func quiet() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func TestDrain(t *testing.T) {
	for name, tc := range map[string]struct {
		open, min int
		counts    int
	}{
		"none open":         {open: 0, min: 0, counts: 1},
		"waits for zero":    {open: 3, min: 0, counts: 4},
		"stops at the min":  {open: 3, min: 2, counts: 2},
		"already under min": {open: 1, min: 5, counts: 1},
	} {
		t.Run(name, func(t *testing.T) {
			admin := &fakeAdmin{open: tc.open}
			srv := httptest.NewServer(admin)
			defer srv.Close()
			ready := filepath.Join(t.TempDir(), "ok")
			err := Drain(context.Background(), Config{
				AdminAddress:       strings.TrimPrefix(srv.URL, "http://"),
				CheckInterval:      time.Millisecond,
				MinOpenConnections: tc.min,
				ReadyFile:          ready,
				Log:                quiet(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(ready); err != nil {
				t.Fatalf("ready file not written: %v", err)
			}
			calls := admin.Calls()
			want := []string{"POST /healthcheck/fail", "POST /drain_listeners?inbound_only&graceful"}
			if len(calls) != 2+tc.counts {
				t.Fatalf("calls %q, want the two POSTs and %d counts", calls, tc.counts)
			}
			for i, w := range want {
				if calls[i] != w {
					t.Errorf("call %d is %q, want %q", i, calls[i], w)
				}
			}
			for _, c := range calls[2:] {
				if c != "GET "+statsPath {
					t.Errorf("count call %q", c)
				}
			}
		})
	}
}

func TestDrainDeadline(t *testing.T) {
	admin := &fakeAdmin{open: 1 << 30}
	srv := httptest.NewServer(admin)
	defer srv.Close()
	ready := filepath.Join(t.TempDir(), "ok")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := Drain(ctx, Config{AdminAddress: strings.TrimPrefix(srv.URL, "http://"), CheckInterval: time.Millisecond, ReadyFile: ready, Log: quiet()})
	if err != context.DeadlineExceeded {
		t.Fatalf("err %v, want the deadline", err)
	}
	if _, err := os.Stat(ready); err == nil {
		t.Fatal("ready file written although connections stayed open")
	}
}

func TestDrainAdminFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := Drain(ctx, Config{AdminAddress: strings.TrimPrefix(srv.URL, "http://"), CheckInterval: time.Millisecond, Log: quiet()})
	if err == nil || !strings.Contains(err.Error(), "/healthcheck/fail: 500") {
		t.Fatalf("err %v, want the failed POST", err)
	}
}

func TestParseOpenConnections(t *testing.T) {
	for name, tc := range map[string]struct {
		in      string
		want    int
		wantErr bool
	}{
		"empty":        {in: "", want: 0},
		"admin only":   {in: "http.admin.downstream_cx_active: 7\n", want: 0},
		"contour skip": {in: "http.stats.downstream_cx_active: 2\nhttp.envoy-admin.downstream_cx_active: 3\n", want: 0},
		"sum":          {in: "http.ingress_http.downstream_cx_active: 2\nhttp.ingress_https.downstream_cx_active: 3\nhttp.admin.downstream_cx_active: 1\n", want: 5},
		"other stats":  {in: "http.ingress_http.downstream_cx_total: 9\ncluster.x.upstream_cx_active: 4\n", want: 0},
		"bad value":    {in: "http.ingress_http.downstream_cx_active: x\n", wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := parseOpenConnections(strings.NewReader(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if !tc.wantErr && got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestHandlerShutdownWaitsForReadyFile(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ok")
	srv := httptest.NewServer(Handler(ready, time.Millisecond, quiet()))
	defer srv.Close()

	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/shutdown")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("/shutdown answered before the drain was done: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("/shutdown did not answer after the ready file appeared")
	}

	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
}
