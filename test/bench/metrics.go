package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Metric names read from a replica's /metrics.
const (
	metricStatusWrites   = "proxyctl_status_writes_total"
	metricSentBytes      = "proxyctl_xds_sent_bytes_total"
	metricRebuildSeconds = "proxyctl_dag_rebuild_duration_seconds"
	metricRebuilds       = "proxyctl_dag_rebuilds_total"
	metricRSS            = "process_resident_memory_bytes"
)

// sample is one line of the Prometheus text exposition format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// metrics is one scrape of a /metrics page.
type metrics []sample

// parseMetrics reads the Prometheus text format: comments are skipped, each
// other line is `name{label="value",...} value [timestamp]`.
func parseMetrics(r io.Reader) (metrics, error) {
	var out metrics
	s := bufio.NewScanner(r)
	s.Buffer(nil, 1<<20)
	for line := 1; s.Scan(); line++ {
		text := strings.TrimSpace(s.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		smp, err := parseSample(text)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", line, err)
		}
		out = append(out, smp)
	}
	return out, s.Err()
}

func parseSample(text string) (sample, error) {
	smp := sample{labels: map[string]string{}}
	i := strings.IndexAny(text, "{ ")
	if i <= 0 {
		return smp, fmt.Errorf("no value in %q", text)
	}
	smp.name, text = text[:i], text[i:]
	if text[0] == '{' {
		text = text[1:]
		for {
			text = strings.TrimLeft(text, " ,")
			if strings.HasPrefix(text, "}") {
				text = text[1:]
				break
			}
			eq := strings.Index(text, `="`)
			if eq <= 0 {
				return smp, fmt.Errorf("bad labels in %q", text)
			}
			name := text[:eq]
			text = text[eq+2:]
			var b strings.Builder
			closed := false
			for j := 0; j < len(text); j++ {
				c := text[j]
				if c == '\\' && j+1 < len(text) {
					j++
					switch text[j] {
					case 'n':
						b.WriteByte('\n')
					default:
						b.WriteByte(text[j])
					}
					continue
				}
				if c == '"' {
					text, closed = text[j+1:], true
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return smp, fmt.Errorf("unterminated label value of %s", name)
			}
			smp.labels[name] = b.String()
		}
	}
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return smp, fmt.Errorf("no value for %s", smp.name)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return smp, fmt.Errorf("value of %s: %w", smp.name, err)
	}
	smp.value = v
	return smp, nil
}

// value returns the value of the series name whose labels include every
// pair of kv (name, value, name, value...); ok is false if there is none.
func (m metrics) value(name string, kv ...string) (float64, bool) {
	for _, s := range m {
		if s.name == name && matches(s.labels, kv) {
			return s.value, true
		}
	}
	return 0, false
}

// sum adds the values of every series name has.
func (m metrics) sum(name string) float64 {
	total := 0.0
	for _, s := range m {
		if s.name == name {
			total += s.value
		}
	}
	return total
}

// get is value with 0 for a missing series.
func (m metrics) get(name string, kv ...string) float64 {
	v, _ := m.value(name, kv...)
	return v
}

func matches(labels map[string]string, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		if labels[kv[i]] != kv[i+1] {
			return false
		}
	}
	return true
}

// histogram is a Prometheus histogram: cumulative bucket counts by upper
// bound, sum and count.
type histogram struct {
	bounds []float64 // ascending, +Inf last
	counts []float64 // cumulative
	sum    float64
	count  float64
}

// histogram gathers name_bucket, name_sum and name_count.
func (m metrics) histogram(name string) histogram {
	var h histogram
	type bucket struct{ le, n float64 }
	var buckets []bucket
	for _, s := range m {
		switch s.name {
		case name + "_bucket":
			le, err := strconv.ParseFloat(s.labels["le"], 64)
			if err != nil {
				continue
			}
			buckets = append(buckets, bucket{le, s.value})
		case name + "_sum":
			h.sum = s.value
		case name + "_count":
			h.count = s.value
		}
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].le < buckets[j].le })
	for _, b := range buckets {
		h.bounds = append(h.bounds, b.le)
		h.counts = append(h.counts, b.n)
	}
	return h
}

// sub returns the observations made between prev and h (h taken later).
func (h histogram) sub(prev histogram) histogram {
	out := histogram{sum: h.sum - prev.sum, count: h.count - prev.count, bounds: h.bounds}
	for i, c := range h.counts {
		if i < len(prev.counts) {
			c -= prev.counts[i]
		}
		out.counts = append(out.counts, c)
	}
	return out
}

// mean is sum/count, NaN without observations.
func (h histogram) mean() float64 {
	if h.count == 0 {
		return math.NaN()
	}
	return h.sum / h.count
}

// quantile estimates the q-quantile by linear interpolation inside the
// bucket it falls in, as PromQL's histogram_quantile does.
func (h histogram) quantile(q float64) float64 {
	if h.count == 0 || len(h.counts) == 0 {
		return math.NaN()
	}
	rank := q * h.count
	lower, below := 0.0, 0.0
	for i, c := range h.counts {
		if c >= rank {
			upper := h.bounds[i]
			if math.IsInf(upper, 1) {
				return lower // beyond the last finite bound
			}
			if c == below {
				return upper
			}
			return lower + (upper-lower)*(rank-below)/(c-below)
		}
		lower, below = h.bounds[i], c
	}
	return lower
}
