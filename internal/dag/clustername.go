package dag

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// A Service's cluster is named "namespace/service/port/digest": the digest
// is of every setting that makes it differ from another cluster of the
// same Service port, so that equal settings share one cluster and a
// change of settings makes a new name. A server Envoy finds by DNS is
// named likewise (dnsClusterName).

// settingsHash is a short, stable digest of a cluster's settings.
func settingsHash(c *Cluster) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "port=%s;protocol=%s;lb=%s", c.PortName, c.Protocol, c.LoadBalancer)
	if hc := c.HealthCheck; hc != nil {
		fmt.Fprintf(&sb, ";hc=%q,%q,%d,%d,%d,%d,%v", hc.Path, hc.Host, hc.Interval, hc.Timeout,
			hc.UnhealthyThreshold, hc.HealthyThreshold, hc.ExpectedStatuses)
	}
	// Appended only when set, so that the names of clusters without them
	// stay what they were.
	if c.HealthPortName != "" || c.HealthPort != 0 {
		fmt.Fprintf(&sb, ";healthport=%s,%d", c.HealthPortName, c.HealthPort)
	}
	if c.IdleTimeout.IsSet() {
		fmt.Fprintf(&sb, ";idle=%d,%v", c.IdleTimeout.Duration, c.IdleTimeout.Infinite)
	}
	if ss := c.SlowStart; ss != nil {
		fmt.Fprintf(&sb, ";slowstart=%d,%g,%d", ss.Window, ss.Aggression, ss.MinWeightPercent)
	}
	if v := c.Validation; v != nil {
		// The CA's content, not only its Secret's name: a new CA makes a
		// new cluster, as any other change of settings does.
		fmt.Fprintf(&sb, ";uv=%q,%x,%q", v.CAName, sha256.Sum256(v.CA), v.SubjectNames)
	}
	// The cluster of a Service is shared by name and made again only when
	// its EndpointSlices change: a new external name or server name must
	// make a new name.
	if c.ExternalName != "" {
		fmt.Fprintf(&sb, ";externalname=%q", c.ExternalName)
	}
	if c.DNSLookupFamily != "" {
		fmt.Fprintf(&sb, ";dnsfamily=%s", c.DNSLookupFamily)
	}
	if c.SNI != "" {
		fmt.Fprintf(&sb, ";sni=%q", c.SNI)
	}
	if c.MaxRequestsPerConnection != 0 {
		fmt.Fprintf(&sb, ";maxreqs=%d", c.MaxRequestsPerConnection)
	}
	if cb := c.CircuitBreakers; cb.IsSet() {
		fmt.Fprintf(&sb, ";cb=%d,%d,%d,%d,%d", cb.MaxConnections, cb.MaxPendingRequests, cb.MaxRequests, cb.MaxRetries, cb.PerHostMaxConnections)
	}
	sum := sha256.Sum256([]byte(sb.String()))
	return hex.EncodeToString(sum[:5])
}

// settingsHashes caches settingsHash by value across builds: a root
// processed again asks for the digests it asked for before. Each Build
// keeps what it used, so entries unused for two builds are dropped.
type settingsHashes struct {
	cur, old map[settingsKey]string
}

// settingsKey is everything settingsHash reads, comparable.
type settingsKey struct {
	portName, protocol, lb string
	hasHC                  bool
	path, host             string
	interval, timeout      time.Duration
	unhealthy, healthy     uint32
	expected               string
	healthPortName         string
	healthPort             int32
	idle                   Timeout
	hasSlow                bool
	window                 time.Duration
	aggression             float64
	minWeight              uint32
	// The upstream validation: the CA Secret's name and content, and the
	// subject names joined by NUL.
	hasUV        bool
	caName, ca   string
	subjectNames string
	externalName string
	dnsFamily    string
	sni          string
	maxRequests  uint32
	breakers     CircuitBreakers
}

func (h *settingsHashes) get(c *Cluster) string {
	k := settingsKey{portName: c.PortName, protocol: c.Protocol, lb: c.LoadBalancer,
		healthPortName: c.HealthPortName, healthPort: c.HealthPort, idle: c.IdleTimeout,
		externalName: c.ExternalName, dnsFamily: c.DNSLookupFamily, sni: c.SNI,
		maxRequests: c.MaxRequestsPerConnection, breakers: c.CircuitBreakers}
	if hc := c.HealthCheck; hc != nil {
		k.hasHC, k.path, k.host = true, hc.Path, hc.Host
		k.interval, k.timeout = hc.Interval, hc.Timeout
		k.unhealthy, k.healthy = hc.UnhealthyThreshold, hc.HealthyThreshold
		var sb strings.Builder
		for _, code := range hc.ExpectedStatuses {
			sb.WriteString(strconv.FormatUint(uint64(code), 10))
			sb.WriteByte(',')
		}
		k.expected = sb.String()
	}
	if ss := c.SlowStart; ss != nil {
		k.hasSlow, k.window, k.aggression, k.minWeight = true, ss.Window, ss.Aggression, ss.MinWeightPercent
	}
	if v := c.Validation; v != nil {
		k.hasUV, k.caName, k.ca = true, v.CAName, string(v.CA)
		k.subjectNames = strings.Join(v.SubjectNames, "\x00")
	}
	if v, ok := h.cur[k]; ok {
		return v
	}
	v, ok := h.old[k]
	if !ok {
		v = settingsHash(c)
	}
	if h.cur == nil {
		h.cur = map[settingsKey]string{}
	}
	h.cur[k] = v
	return v
}

// rotate ends a Build: what it used is kept for the next.
func (h *settingsHashes) rotate() {
	if len(h.cur) > 0 {
		h.old, h.cur = h.cur, nil
	}
}

// dnsClusterName is the name of the Cluster of upstream up:
// "dnsname/<scheme>/<host>:<port>/" and a digest of the rest, so that
// equal names are equal clusters.
func dnsClusterName(up DNSUpstream) string {
	scheme := "http"
	if up.TLS {
		scheme = "https"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "family=%s;sni=%s;names=%q;ca=", up.DNSLookupFamily, up.Host, up.SubjectNames)
	caSum := sha256.Sum256(up.CACertificate)
	sb.WriteString(hex.EncodeToString(caSum[:]))
	sum := sha256.Sum256([]byte(sb.String()))
	return "dnsname/" + scheme + "/" + net.JoinHostPort(up.Host, strconv.Itoa(int(up.Port))) + "/" + hex.EncodeToString(sum[:5])
}
