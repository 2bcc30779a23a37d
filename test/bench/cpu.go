package bench

import (
	"context"
	"strings"
	"syscall"
	"time"
)

const metricCPU = "process_cpu_seconds_total"

// cpuSnapshot is the CPU time used so far by each process the run can see:
// the leader, the other replicas together, the API server and the harness
// itself (its simulated Envoys included). etcd is not counted.
type cpuSnapshot struct {
	at                                    time.Time
	leader, followers, apiserver, harness float64
}

func (r *run) cpu(ctx context.Context) (cpuSnapshot, error) {
	s := cpuSnapshot{at: time.Now()}
	for _, rep := range r.replicas {
		code, body, err := rep.Get(ctx, "/metrics")
		if err != nil || code != 200 {
			continue // an exited replica no longer counts
		}
		m, err := parseMetrics(strings.NewReader(body))
		if err != nil {
			return s, err
		}
		if rep == r.leader {
			s.leader = m.get(metricCPU)
		} else {
			s.followers += m.get(metricCPU)
		}
	}
	body, err := r.kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return s, err
	}
	m, err := parseMetrics(strings.NewReader(string(body)))
	if err != nil {
		return s, err
	}
	s.apiserver = m.get(metricCPU)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s, err
	}
	s.harness = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	return s, nil
}

// CPU is the CPU time, in seconds, each process used during the run's
// measured part (from the first create to the end), and that part's length.
type CPU struct {
	WallSeconds float64 `json:"wallSeconds"`
	Leader      float64 `json:"leader"`
	Followers   float64 `json:"followers"`
	APIServer   float64 `json:"apiserver"`
	Harness     float64 `json:"harness"`
}

func (s cpuSnapshot) since(prev cpuSnapshot) CPU {
	return CPU{
		WallSeconds: s.at.Sub(prev.at).Seconds(),
		Leader:      s.leader - prev.leader,
		Followers:   s.followers - prev.followers,
		APIServer:   s.apiserver - prev.apiserver,
		Harness:     s.harness - prev.harness,
	}
}
