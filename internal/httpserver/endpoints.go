package httpserver

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Leadership is what /leader reports.
type Leadership interface {
	Identity() string
	Leading() bool
	Holder() string
}

// LeaderStatus is the JSON body of /leader.
type LeaderStatus struct {
	Identity string `json:"identity"`
	Leader   bool   `json:"leader"`
	Holder   string `json:"holder"`
}

// Endpoints configures the operational handler.
type Endpoints struct {
	// Gatherer supplies /metrics.
	Gatherer prometheus.Gatherer
	// Leader supplies /leader.
	Leader Leadership
	// Ready reports why the replica is not ready yet, or nil once it is.
	// A nil func means always ready.
	Ready func() error
}

// Handler returns the mux for /healthz, /readyz, /metrics and /leader.
func (e Endpoints) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if e.Ready != nil {
			if err := e.Ready(); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(e.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /leader", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(LeaderStatus{
			Identity: e.Leader.Identity(),
			Leader:   e.Leader.Leading(),
			Holder:   e.Leader.Holder(),
		})
	})
	return mux
}
