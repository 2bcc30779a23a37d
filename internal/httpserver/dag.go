package httpserver

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"sync/atomic"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// DAGDump keeps the latest DAG and serves it as JSON on /debug/dag, to see
// what a replica built from the cluster without reading Envoy's config. It
// implements controller.Observer.
type DAGDump struct {
	current atomic.Pointer[dag.DAG]
}

// OnChange keeps d as the DAG to dump.
func (p *DAGDump) OnChange(d *dag.DAG) { p.current.Store(d) }

// DAGView is the JSON body of /debug/dag: the DAG's lists in the DAG's
// order (each sorted by name), and the status results sorted by namespace
// and name, so that replicas with the same objects answer the same bytes.
// Private keys are left out.
type DAGView struct {
	HTTP     []*dag.VirtualHost       `json:"http"`
	HTTPS    []*dag.SecureVirtualHost `json:"https"`
	Clusters []*dag.Cluster           `json:"clusters"`
	Secrets  []*dag.Secret            `json:"secrets"`
	Statuses []*dag.ProxyStatus       `json:"statuses"`
}

// NewDAGView is d as /debug/dag shows it. It copies what it redacts and
// never modifies d, which other observers share.
func NewDAGView(d *dag.DAG) DAGView {
	v := DAGView{
		HTTP:     orEmpty(d.HTTP),
		HTTPS:    make([]*dag.SecureVirtualHost, 0, len(d.HTTPS)),
		Clusters: orEmpty(d.Clusters),
		Secrets:  make([]*dag.Secret, 0, len(d.Secrets)),
		Statuses: make([]*dag.ProxyStatus, 0, len(d.Statuses)),
	}
	redacted := map[*dag.Secret]*dag.Secret{}
	redact := func(s *dag.Secret) *dag.Secret {
		if s == nil {
			return nil
		}
		if r, ok := redacted[s]; ok {
			return r
		}
		r := *s
		r.Key = nil
		redacted[s] = &r
		return &r
	}
	for _, s := range d.Secrets {
		v.Secrets = append(v.Secrets, redact(s))
	}
	for _, vh := range d.HTTPS {
		if vh != nil && vh.Secret != nil {
			c := *vh
			c.Secret = redact(vh.Secret)
			vh = &c
		}
		v.HTTPS = append(v.HTTPS, vh)
	}
	for _, s := range d.Statuses {
		if s != nil {
			v.Statuses = append(v.Statuses, s)
		}
	}
	slices.SortFunc(v.Statuses, func(a, b *dag.ProxyStatus) int {
		return cmp.Or(cmp.Compare(a.Proxy.Namespace, b.Proxy.Namespace), cmp.Compare(a.Proxy.Name, b.Proxy.Name))
	})
	return v
}

func orEmpty[T any](s []*T) []*T {
	if s == nil {
		return []*T{}
	}
	return s
}

// ServeHTTP writes the latest DAG, or 503 before the first one.
func (p *DAGDump) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	d := p.current.Load()
	if d == nil {
		http.Error(w, "no DAG built yet", http.StatusServiceUnavailable)
		return
	}
	body, err := json.MarshalIndent(NewDAGView(d), "", "  ")
	if err != nil {
		http.Error(w, "encoding the DAG: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}
