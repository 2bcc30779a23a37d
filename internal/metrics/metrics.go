package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/proxyctl/proxyctl/internal/build"
)

// Namespace prefixes every proxyctl metric.
const Namespace = "proxyctl"

// NewRegistry returns a registry with build information and the Go runtime
// and process collectors already registered.
func NewRegistry(info build.Info) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace:   Namespace,
			Name:        "build_info",
			Help:        "Always 1; the labels say which proxyctl build is running.",
			ConstLabels: prometheus.Labels{"version": info.Version, "commit": info.Commit, "goversion": info.GoVersion},
		}, func() float64 { return 1 }),
	)
	return reg
}

// RegisterLeader adds the leader gauge: 1 while leading reports true.
func RegisterLeader(reg prometheus.Registerer, leading func() bool) error {
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace,
		Name:      "leader",
		Help:      "1 if this replica holds the leader Lease and may write status, else 0.",
	}, func() float64 {
		if leading() {
			return 1
		}
		return 0
	}))
}

// Register registers each collector, stopping at the first error (a name
// registered twice, most likely).
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
