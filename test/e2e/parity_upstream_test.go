package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/test/netns"
)

// healthBackend is an echo backend whose health path answers the status
// the test sets (200 at first); every other path gets the echo.
type healthBackend struct {
	status atomic.Int32
}

func (s *stack) serveHealthBackend(t *testing.T, port int, name, path string) *healthBackend {
	t.Helper()
	hb := &healthBackend{}
	hb.status.Store(http.StatusOK)
	echo := netns.EchoHandler(name)
	s.net.ServeHTTP(t, net.JoinHostPort(s.net.IP(), strconv.Itoa(port)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			w.WriteHeader(int(hb.status.Load()))
			return
		}
		echo.ServeHTTP(w, r)
	}))
	return hb
}

// sliceOf is one EndpointSlice: an address and its ports by name.
type sliceOf struct {
	addr  string
	ports map[string]int32
}

// serviceWithSlices creates a Service with the given named ports and one
// EndpointSlice per sliceOf (Kubernetes has no controller here to make
// them).
func serviceWithSlices(t *testing.T, ns, name string, ports map[string]int32, slices ...sliceOf) {
	t.Helper()
	ctx := context.Background()
	kc := kubernetes.NewForConfigOrDie(kube.RESTConfig())
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for pn, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: pn, Port: p})
	}
	if _, err := kc.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, sl := range slices {
		es := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", name, i), Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{
				Addresses:  []string{sl.addr},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			}},
		}
		for pn, p := range sl.ports {
			es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: ptr.To(pn), Port: ptr.To(p)})
		}
		if _, err := kc.DiscoveryV1().EndpointSlices(ns).Create(ctx, es, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// answeredBy sends n requests and counts the answers by backend name; any
// answer other than a 200 echo is an error.
func (s *stack) answeredBy(t *testing.T, host string, n int) (map[string]int, error) {
	got := map[string]int{}
	for range n {
		r, err := s.get(host, "/", nil)
		if err != nil {
			return nil, err
		}
		if r.status != 200 {
			return nil, fmt.Errorf("GET %s/ = %d %q", host, r.status, strings.TrimSpace(string(r.body)))
		}
		got[r.echo(t).Name]++
	}
	return got, nil
}

// clusterHosts returns the lines of Envoy's /clusters about the clusters
// whose names start with prefix and that mention what.
func (s *stack) clusterHosts(prefix, what string) ([]string, error) {
	body, err := s.envoy.Admin("/clusters")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, what) {
			out = append(out, l)
		}
	}
	return out, nil
}

// within is eventually with a deadline of d.
func within(t *testing.T, d time.Duration, what string, check func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestHealthCheckTakesEndpointsOut: of two endpoints of a Service, the one
// whose health path answers 418 stops getting traffic, and comes back when
// it answers 200 again; when every endpoint fails its checks the route
// answers 503, as Contour's Envoy config does (panic mode off: Envoy's
// default would route to all endpoints once fewer than half are healthy).
func TestHealthCheckTakesEndpointsOut(t *testing.T) {
	s := newStackArgs(t, nil)
	ns := kube.NewNamespace(t)
	a := s.serveHealthBackend(t, 9300, "hc-a", "/healthz")
	b := s.serveHealthBackend(t, 9301, "hc-b", "/healthz")
	ip := s.net.IP()
	serviceWithSlices(t, ns, "web", map[string]int32{"http": 80},
		sliceOf{ip, map[string]int32{"http": 9300}}, sliceOf{ip, map[string]int32{"http": 9301}})
	apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: checked}
spec:
  virtualhost: {fqdn: hc.example.com}
  routes:
  - services: [{name: web, port: 80}]
    healthCheckPolicy:
      path: /healthz
      intervalSeconds: 1
      timeoutSeconds: 1
      unhealthyThresholdCount: 1
      healthyThresholdCount: 1
`)
	clusterPrefix := ns + "/web/80/"
	eventually(t, "both endpoints serve", func() error {
		got, err := s.answeredBy(t, "hc.example.com", 20)
		if err != nil {
			return err
		}
		if got["hc-a"] == 0 || got["hc-b"] == 0 {
			return fmt.Errorf("answers by backend: %v", got)
		}
		return nil
	})

	b.status.Store(http.StatusTeapot)
	// Envoy checks a cluster that has never had traffic every 60s (its
	// no_traffic_interval, which Contour leaves at the default), and the
	// timer armed then runs out before the 1s interval applies: the first
	// failure may take a minute to be seen.
	within(t, 90*time.Second, "Envoy marks hc-b as failing its health check", func() error {
		lines, err := s.clusterHosts(clusterPrefix, ":9301::health_flags::")
		if err != nil {
			return err
		}
		if len(lines) != 1 || !strings.Contains(lines[0], "/failed_active_hc") {
			hc, _ := s.envoy.StatsText("health_check")
			return fmt.Errorf("/clusters shows %q; stats:\n%s", lines, hc)
		}
		return nil
	})
	eventually(t, "only hc-a serves", func() error {
		got, err := s.answeredBy(t, "hc.example.com", 20)
		if err != nil {
			return err
		}
		if got["hc-b"] != 0 {
			return fmt.Errorf("answers by backend: %v", got)
		}
		return nil
	})
	if lines, err := s.clusterHosts(clusterPrefix, ":9300::health_flags::"); err != nil || len(lines) != 1 || !strings.HasSuffix(lines[0], "::healthy") {
		t.Fatalf("hc-a is not healthy in /clusters: %q %v", lines, err)
	}

	a.status.Store(http.StatusTeapot)
	eventually(t, "no healthy endpoint: 503", s.expect(t, "hc.example.com", "/", 503, ""))

	a.status.Store(http.StatusOK)
	b.status.Store(http.StatusOK)
	eventually(t, "both endpoints serve again", func() error {
		got, err := s.answeredBy(t, "hc.example.com", 20)
		if err != nil {
			return err
		}
		if got["hc-a"] == 0 || got["hc-b"] == 0 {
			return fmt.Errorf("answers by backend: %v", got)
		}
		return nil
	})
}

// TestHealthPort: with services[].healthPort, Envoy checks the endpoint on
// the port the Service names health (here 9311), not on the serving port
// (9310, whose health path always answers 418).
func TestHealthPort(t *testing.T) {
	s := newStackArgs(t, nil)
	ns := kube.NewNamespace(t)
	serving := s.serveHealthBackend(t, 9310, "served", "/healthz")
	serving.status.Store(http.StatusTeapot)
	health := s.serveHealthBackend(t, 9311, "health-port", "/healthz")
	serviceWithSlices(t, ns, "web", map[string]int32{"http": 80, "health": 81},
		sliceOf{s.net.IP(), map[string]int32{"http": 9310, "health": 9311}})
	apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: healthport}
spec:
  virtualhost: {fqdn: healthport.example.com}
  routes:
  - services: [{name: web, port: 80, healthPort: 81}]
    healthCheckPolicy: {path: /healthz, intervalSeconds: 1, timeoutSeconds: 1, unhealthyThresholdCount: 1, healthyThresholdCount: 1}
  - conditions: [{prefix: /serving-port}]
    services: [{name: web, port: 80}]
    healthCheckPolicy: {path: /healthz, intervalSeconds: 1, timeoutSeconds: 1, unhealthyThresholdCount: 1, healthyThresholdCount: 1}
`)
	eventually(t, "the health port passes: traffic flows", s.expect(t, "healthport.example.com", "/", 200, "served"))
	eventually(t, "checked on the serving port, the same endpoint fails", s.expect(t, "healthport.example.com", "/serving-port", 503, ""))
	health.status.Store(http.StatusTeapot)
	// The first check after traffic may wait for Envoy's 60s
	// no_traffic_interval (see TestHealthCheckTakesEndpointsOut).
	within(t, 90*time.Second, "the health port fails: 503", s.expect(t, "healthport.example.com", "/", 503, ""))
	health.status.Store(http.StatusOK)
	eventually(t, "the health port passes again", s.expect(t, "healthport.example.com", "/", 200, "served"))
}

// TestIdleConnectionTimeout: timeoutPolicy.idleConnection closes Envoy's
// upstream connection once idle that long (Envoy counts it in the
// cluster's upstream_cx_idle_timeout); a route without it keeps Envoy's
// default of one hour.
func TestIdleConnectionTimeout(t *testing.T) {
	s := newStackArgs(t, nil)
	ns := kube.NewNamespace(t)
	s.serveHealthBackend(t, 9320, "idle", "/healthz")
	serviceWithSlices(t, ns, "quick", map[string]int32{"http": 80}, sliceOf{s.net.IP(), map[string]int32{"http": 9320}})
	serviceWithSlices(t, ns, "lasting", map[string]int32{"http": 80}, sliceOf{s.net.IP(), map[string]int32{"http": 9320}})
	apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: idle}
spec:
  virtualhost: {fqdn: idle.example.com}
  routes:
  - conditions: [{prefix: /quick}]
    timeoutPolicy: {idleConnection: 1s}
    services: [{name: quick, port: 80}]
  - services: [{name: lasting, port: 80}]
`)
	eventually(t, "quick route", s.expect(t, "idle.example.com", "/quick", 200, "idle"))
	eventually(t, "lasting route", s.expect(t, "idle.example.com", "/", 200, "idle"))
	stat := func(svc, name string) (int64, error) {
		stats, err := s.envoy.Stats()
		if err != nil {
			return 0, err
		}
		var sum int64
		found := false
		for k, v := range stats {
			if strings.HasPrefix(k, "cluster."+ns+"_"+svc+"_80_") && strings.HasSuffix(k, "."+name) {
				sum += v
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("no stat %s for %s", name, svc)
		}
		return sum, nil
	}
	eventually(t, "the idle upstream connection is closed", func() error {
		n, err := stat("quick", "upstream_cx_idle_timeout")
		if err != nil {
			return err
		}
		if n < 1 {
			return fmt.Errorf("upstream_cx_idle_timeout = %d", n)
		}
		return nil
	})
	if n, err := stat("lasting", "upstream_cx_idle_timeout"); err != nil || n != 0 {
		t.Errorf("the route without idleConnection: upstream_cx_idle_timeout = %d, %v; want 0", n, err)
	}
	if n, err := stat("lasting", "upstream_cx_active"); err != nil || n < 1 {
		t.Errorf("the route without idleConnection: upstream_cx_active = %d, %v; want its connection kept", n, err)
	}
}

// TestRoutesNextToTCPProxy: a root with a tcpproxy and routes serves the
// routes on the HTTP listener, as Contour does (permitInsecure routes go to
// their service, the others redirect to HTTPS), while TLS on the same fqdn
// goes to the tcpproxy, passed through or terminated.
func TestRoutesNextToTCPProxy(t *testing.T) {
	s := newStackArgs(t, nil)
	ca := newTestCA(t)
	ns := kube.NewNamespace(t)
	ip := s.net.IP()
	s.net.ServeEcho(t, net.JoinHostPort(ip, "9330"), "http-side")
	s.net.ServeTLSEcho(t, net.JoinHostPort(ip, "9331"), "tls-side", ca.keyPair(t, "both.example.com"))
	s.net.ServeEcho(t, net.JoinHostPort(ip, "9332"), "tcp-side")
	backendService(t, ns, "http-side", ip, 9330)
	backendService(t, ns, "tls-side", ip, 9331)
	backendService(t, ns, "tcp-side", ip, 9332)
	cert, key := ca.issue(t, "terminated.example.com")
	tlsSecret(t, ns, "terminated-cert", cert, key)
	apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: both}
spec:
  virtualhost:
    fqdn: both.example.com
    tls: {passthrough: true}
  tcpproxy:
    services: [{name: tls-side, port: 80}]
  routes:
  - conditions: [{prefix: /open}]
    permitInsecure: true
    services: [{name: http-side, port: 80}]
  - services: [{name: http-side, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: terminated}
spec:
  virtualhost:
    fqdn: terminated.example.com
    tls: {secretName: terminated-cert}
  tcpproxy:
    services: [{name: tcp-side, port: 80}]
  routes:
  - permitInsecure: true
    services: [{name: http-side, port: 80}]
`)
	eventually(t, "HTTP to a permitInsecure route next to a passthrough tcpproxy", s.expect(t, "both.example.com", "/open", 200, "http-side"))
	eventually(t, "HTTP to a route without permitInsecure redirects", func() error {
		r, err := s.get("both.example.com", "/private", nil)
		if err != nil {
			return err
		}
		if loc := r.header.Get("Location"); r.status != 301 || loc != "https://both.example.com/private" {
			return fmt.Errorf("HTTP answered %d Location %q, want 301 to https", r.status, loc)
		}
		return nil
	})
	eventually(t, "TLS passes through to the tcpproxy",
		s.expectGreeting("both.example.com", ca.clientConfig(), "tls-side both.example.com"))

	eventually(t, "HTTP next to a terminating tcpproxy", s.expect(t, "terminated.example.com", "/", 200, "http-side"))
	eventually(t, "terminated TLS goes to the tcpproxy", func() error {
		// The tcpproxy forwards the decrypted stream: an HTTP request
		// inside it reaches the tcpproxy's echo backend.
		r, err := s.getTLS("terminated.example.com", "/", ca.clientConfig())
		if err != nil {
			return err
		}
		if r.status != 200 || r.echo(t).Name != "tcp-side" {
			return fmt.Errorf("HTTPS answered %d %q", r.status, r.body)
		}
		return nil
	})
	proxies := versioned.NewForConfigOrDie(kube.RESTConfig()).ProjectcontourV1().HTTPProxies(ns)
	for _, name := range []string{"both", "terminated"} {
		eventually(t, name+" is valid", func() error {
			p, err := proxies.Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Status.CurrentStatus != contourv1.StatusValid {
				return fmt.Errorf("%s shows %q %+v", name, p.Status.CurrentStatus, p.Status.Conditions)
			}
			return nil
		})
	}
}

// TestIngressClasses: with --ingress-class-name contour,team1 proxyctl
// serves, and writes the status of, exactly the proxies whose class is one
// of those, an annotation taking precedence over spec.ingressClassName as
// in Contour; the others are left untouched: no status, not served.
func TestIngressClasses(t *testing.T) {
	s := newStackArgs(t, []string{"--ingress-class-name", "contour,team1"})
	ns := kube.NewNamespace(t)
	s.serveHealthBackend(t, 9340, "classy", "/healthz")
	backendService(t, ns, "web", s.net.IP(), 9340)
	proxy := func(name, annotations, class string) string {
		spec := ""
		if class != "" {
			spec = "ingressClassName: " + class
		}
		return fmt.Sprintf(`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: %s, annotations: {%s}}
spec:
  %s
  virtualhost: {fqdn: %s.class.example.com}
  routes: [{services: [{name: web, port: 80}]}]
---
`, name, annotations, spec, name)
	}
	apply(t, ns, proxy("spec-team1", "", "team1")+
		proxy("spec-contour", "", "contour")+
		proxy("annotation-contour", `projectcontour.io/ingress.class: contour`, "")+
		proxy("legacy-annotation-team1", `kubernetes.io/ingress.class: team1`, "")+
		proxy("annotation-wins", `projectcontour.io/ingress.class: team1`, "other")+
		proxy("annotation-loses", `kubernetes.io/ingress.class: other`, "team1")+
		proxy("projectcontour-first", `projectcontour.io/ingress.class: other, kubernetes.io/ingress.class: team1`, "")+
		proxy("unclassed", "", "")+
		proxy("spec-other", "", "other"))
	ours := []string{"spec-team1", "spec-contour", "annotation-contour", "legacy-annotation-team1", "annotation-wins"}
	theirs := []string{"annotation-loses", "projectcontour-first", "unclassed", "spec-other"}
	proxies := versioned.NewForConfigOrDie(kube.RESTConfig()).ProjectcontourV1().HTTPProxies(ns)
	for _, name := range ours {
		eventually(t, name+" is served", s.expect(t, name+".class.example.com", "/", 200, "classy"))
		eventually(t, name+" is valid", func() error {
			p, err := proxies.Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Status.CurrentStatus != contourv1.StatusValid {
				return fmt.Errorf("%s shows %q", name, p.Status.CurrentStatus)
			}
			return nil
		})
	}
	// Everything of ours is served and written: the others would be by now.
	for _, name := range theirs {
		if err := s.expect(t, name+".class.example.com", "/", 404, "")(); err != nil {
			t.Errorf("%s, not ours, is served: %v", name, err)
		}
		p, err := proxies.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Untouched: what the CRD defaults, no more.
		if p.Status.CurrentStatus != contourv1.StatusNotReconciled || p.Status.Description != contourv1.DescriptionNotReconciled || len(p.Status.Conditions) != 0 {
			t.Errorf("%s, not ours, got a status: %q %q %+v", name, p.Status.CurrentStatus, p.Status.Description, p.Status.Conditions)
		}
	}
}
