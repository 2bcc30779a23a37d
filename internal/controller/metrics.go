package controller

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	pmetrics "github.com/proxyctl/proxyctl/internal/metrics"
)

type metrics struct {
	events          prometheus.Counter
	rebuilds        prometheus.Counter
	rebuildDuration prometheus.Histogram
	lastRebuild     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: pmetrics.Namespace, Name: "controller_events_total",
			Help: "Informer events received by the event loop.",
		}),
		rebuilds: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: pmetrics.Namespace, Name: "dag_rebuilds_total",
			Help: "DAG rebuilds.",
		}),
		rebuildDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: pmetrics.Namespace, Name: "dag_rebuild_duration_seconds",
			Help:    "Time to build the DAG.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		lastRebuild: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: pmetrics.Namespace, Name: "dag_last_rebuild_timestamp_seconds",
			Help: "Unix time of the last DAG rebuild.",
		}),
	}
	if err := pmetrics.Register(reg, m.events, m.rebuilds, m.rebuildDuration, m.lastRebuild); err != nil {
		return nil, fmt.Errorf("controller: register metrics: %w", err)
	}
	return m, nil
}

func (m *metrics) observeRebuild(start time.Time, took time.Duration) {
	m.rebuilds.Inc()
	m.rebuildDuration.Observe(took.Seconds())
	m.lastRebuild.Set(float64(start.UnixNano()) / 1e9)
}
