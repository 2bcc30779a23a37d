package xdsserver

import (
	"context"
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"

	pmetrics "github.com/proxyctl/proxyctl/internal/metrics"
)

type serverMetrics struct {
	streams          *prometheus.GaugeVec
	pushes           *prometheus.CounterVec
	sentBytes        *prometheus.CounterVec
	snapshotDuration prometheus.Histogram
	snapshotErrors   prometheus.Counter
	// snapshotsInconsistent counts the part of snapshotErrors refused by
	// the consistency check.
	snapshotsInconsistent prometheus.Counter
}

func newServerMetrics(reg prometheus.Registerer) (*serverMetrics, error) {
	m := &serverMetrics{
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: pmetrics.Namespace, Name: "xds_connected_streams",
			Help: "Open xDS streams from Envoys, by protocol (sotw or delta).",
		}, []string{"protocol"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: pmetrics.Namespace, Name: "xds_pushes_total",
			Help: "xDS responses sent to Envoys, by resource type.",
		}, []string{"type"}),
		sentBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: pmetrics.Namespace, Name: "xds_sent_bytes_total",
			Help: "Bytes of the xDS responses sent to Envoys (encoded messages, before gRPC framing), by resource type.",
		}, []string{"type"}),
		snapshotDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: pmetrics.Namespace, Name: "xds_push_duration_seconds",
			Help:    "Time from a new DAG to a new snapshot ready to push (translate, hash, set).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		snapshotErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: pmetrics.Namespace, Name: "xds_snapshot_errors_total",
			Help: "Snapshots not served because they were inconsistent, failed to translate or could not be set.",
		}),
		snapshotsInconsistent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: pmetrics.Namespace, Name: "xds_snapshots_inconsistent_total",
			Help: "Snapshots not served because a resource referenced one they lack (route to cluster, EDS cluster to endpoints, listener to route configuration or secret); the last good one stayed served.",
		}),
	}
	if err := pmetrics.Register(reg, m.streams, m.pushes, m.sentBytes, m.snapshotDuration, m.snapshotErrors, m.snapshotsInconsistent); err != nil {
		return nil, fmt.Errorf("xds: register metrics: %w", err)
	}
	return m, nil
}

func (m *serverMetrics) callbacks() serverv3.Callbacks {
	sotw, delta := m.streams.WithLabelValues("sotw"), m.streams.WithLabelValues("delta")
	return serverv3.CallbackFuncs{
		StreamOpenFunc:        func(context.Context, int64, string) error { sotw.Inc(); return nil },
		StreamClosedFunc:      func(int64, *corev3.Node) { sotw.Dec() },
		DeltaStreamOpenFunc:   func(context.Context, int64, string) error { delta.Inc(); return nil },
		DeltaStreamClosedFunc: func(int64, *corev3.Node) { delta.Dec() },
		StreamResponseFunc: func(_ context.Context, _ int64, _ *discoveryv3.DiscoveryRequest, r *discoveryv3.DiscoveryResponse) {
			m.pushes.WithLabelValues(shortType(r.GetTypeUrl())).Inc()
		},
		StreamDeltaResponseFunc: func(_ int64, _ *discoveryv3.DeltaDiscoveryRequest, r *discoveryv3.DeltaDiscoveryResponse) {
			m.pushes.WithLabelValues(shortType(r.GetTypeUrl())).Inc()
		},
	}
}

// shortType turns a type URL into a readable label ("Cluster").
func shortType(url string) string {
	for i := len(url) - 1; i >= 0; i-- {
		if url[i] == '.' {
			return url[i+1:]
		}
	}
	return url
}
