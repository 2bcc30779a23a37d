package shutdown

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"time"

	"github.com/sirupsen/logrus"
)

// Handler serves the shutdown manager's endpoints: /healthz for its
// liveness probe, and /shutdown for Envoy's preStop hook, which answers 200
// only once readyFile exists (Drain writes it) and until then holds the
// request, checking every interval. The file, not memory, carries the
// news because Drain runs in another process: the kubelet execs it as the
// shutdown manager's own preStop hook.
func Handler(readyFile string, interval time.Duration, log logrus.FieldLogger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("OK"))
	})
	mux.HandleFunc("GET /shutdown", func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			_, err := os.Stat(readyFile)
			switch {
			case err == nil:
				log.WithField("file", readyFile).Info("drain done, Envoy may stop")
				_, _ = w.Write([]byte("OK"))
				return
			case !errors.Is(err, fs.ErrNotExist):
				// Keep holding: answering would let Envoy stop mid-drain.
				log.WithError(err).Error("checking the ready file")
			}
			select {
			case <-r.Context().Done():
				return
			case <-t.C:
			}
		}
	})
	return mux
}
