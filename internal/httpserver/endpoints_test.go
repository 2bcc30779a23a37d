package httpserver

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type fakeLeader struct {
	leading bool
	holder  string
}

func (fakeLeader) Identity() string { return "me" }
func (f fakeLeader) Leading() bool  { return f.leading }
func (f fakeLeader) Holder() string { return f.holder }

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "probe"}))
	notReady := errors.New("caches not synced")
	var readyErr error = notReady
	h := Endpoints{
		Gatherer: reg,
		Leader:   fakeLeader{leading: false, holder: "other"},
		Ready:    func() error { return readyErr },
	}.Handler()

	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "caches not synced") {
		t.Errorf("/readyz while not ready = %d %q", code, body)
	}
	readyErr = nil
	if code, _ := get(t, h, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz when ready = %d", code)
	}
	if code, body := get(t, h, "/metrics"); code != http.StatusOK || !strings.Contains(body, "probe 0") {
		t.Errorf("/metrics = %d %q", code, body)
	}
	code, body := get(t, h, "/leader")
	var got LeaderStatus
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusOK {
		t.Fatalf("/leader = %d %q (%v)", code, body, err)
	}
	if want := (LeaderStatus{Identity: "me", Leader: false, Holder: "other"}); got != want {
		t.Errorf("/leader = %+v, want %+v", got, want)
	}
}
