package httpserver

import (
	"net/http"
	"net/http/pprof"
)

// DebugHandler serves Go's profiler under /debug/pprof/ and, when dagDump
// is not nil, the current DAG on /debug/dag. It belongs on a loopback
// address: profiles and the DAG reveal internals and cost CPU.
func DebugHandler(dagDump http.Handler) http.Handler {
	mux := http.NewServeMux()
	if dagDump != nil {
		mux.Handle("GET /debug/dag", dagDump)
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
