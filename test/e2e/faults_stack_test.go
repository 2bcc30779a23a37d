package e2e

// The fault suite (faults_*_test.go) runs, per fault group, a cluster of
// its own with an audit log, three supervised replicas (restarted like a
// kubelet restarts a container), one real Envoy and echo backends in a
// network namespace; a steady client sends requests through Envoy while the
// fault happens. Every fault is checked the same way (faultStack.run): no
// request fails, a proxy created right after the fault becomes valid within
// its bound, never two leaders, and the audit log shows no status write by
// a replica that did not hold the Lease at that moment.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/envoy"
	"github.com/proxyctl/proxyctl/test/netns"
	"github.com/proxyctl/proxyctl/test/replica"
)

// The fault suite's lease timings are statusLeaseArgs: 4s/3s/500ms.
const (
	faultLease = 4 * time.Second
	faultRenew = 3 * time.Second
	faultRetry = 500 * time.Millisecond
	// faultSlack covers what is not the election: the rebuild hold-off,
	// the status write itself, a loaded machine.
	faultSlack = 1500 * time.Millisecond
	// faultRestartDelay is the supervisor's pause before a restart.
	faultRestartDelay = 200 * time.Millisecond
	leaseName         = "proxyctl-leader"
)

// failoverBound is how long a standby may take to lead after the leader
// vanished without releasing the Lease: client-go waits out the lease
// duration, then tries every retry period with a jitter of up to 1.2 of
// it; lease + 4.4×retry is the documented worst case.
const failoverBound = faultLease + 44*faultRetry/10 + faultSlack

// atOnceBound is how long a status write may take when no leader was lost.
const atOnceBound = faultSlack + 2*faultRetry

// faultAuditPolicy logs every request at Metadata level and Lease writes
// with their body, so the holder each write sets is known.
const faultAuditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  users: ["system:apiserver"]
- level: None
  nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version"]
- level: Request
  resources: [{group: "coordination.k8s.io", resources: ["leases"]}]
  verbs: ["create", "update", "patch", "delete"]
- level: Metadata
`

// faultOptions shape a faultStack.
type faultOptions struct {
	// envoyOnLeader connects Envoy to the first leader's xDS server;
	// otherwise to a standby's.
	envoyOnLeader bool
	// kubeconfig, when set, is replica-0's kubeconfig (through a proxy of
	// the test's, say); the others use the cluster's.
	kubeconfig func(c *cluster.Cluster) string
}

// faultStack is stack with three supervised replicas on a cluster of the
// test's own. stack.replica is unused.
type faultStack struct {
	*stack
	c    *cluster.Cluster
	ns   string // proxies, Services and the Lease
	sups []*replica.Supervisor
	// envoyOn is the replica Envoy's xDS stream goes to.
	envoyOn *replica.Supervisor
}

// newFaultStack starts the cluster, replica-0 alone until it leads (so the
// first leader is known), then replica-1 and replica-2, then Envoy, and
// routes steady.example.com to backend "a" through Service "web".
func newFaultStack(t *testing.T, o faultOptions) *faultStack {
	t.Helper()
	c := cluster.Start(t, cluster.WithAuditPolicy(faultAuditPolicy))
	fs := &faultStack{
		stack: &stack{net: netns.New(t), backends: map[string]backend{}},
		c:     c,
		ns:    c.NewNamespace(t),
	}
	for i, name := range []string{"a", "b"} {
		addr := net.JoinHostPort(fs.net.IP(), strconv.Itoa(9000+i))
		fs.net.ServeEcho(t, addr, name)
		fs.backends[name] = backend{ip: fs.net.IP(), port: int32(9000 + i)}
	}
	ports, err := cluster.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	fs.httpAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	fs.httpsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	bin := replica.Binary(t)
	logDir := t.TempDir()
	args := append([]string{"--envoy-address", "127.0.0.1",
		"--envoy-http-port", strconv.Itoa(ports[0]), "--envoy-https-port", strconv.Itoa(ports[1])},
		statusLeaseArgs...)
	for i := range 3 {
		kubeconfig := c.Kubeconfig
		if i == 0 && o.kubeconfig != nil {
			kubeconfig = o.kubeconfig(c)
		}
		fs.sups = append(fs.sups, replica.Supervise(t, replica.Options{
			Binary: bin, Kubeconfig: kubeconfig, Identity: fmt.Sprintf("replica-%d", i),
			LeaseNamespace: fs.ns, LogDir: logDir, Args: args,
		}, faultRestartDelay))
		if i == 0 {
			fs.waitLeader(t, fs.sups[0])
		}
	}
	fs.envoyOn = fs.sups[1]
	if o.envoyOnLeader {
		fs.envoyOn = fs.sups[0]
	}
	host, port, _ := net.SplitHostPort(fs.envoyOn.XDSAddr)
	xdsPort, _ := strconv.Atoi(port)
	fs.envoy = envoy.Start(t, envoy.Options{XDSAddress: host, XDSPort: xdsPort, Proxyctl: bin})
	fs.service(t, "web", "a")
	fs.apply(t, simpleProxy("steady", "steady.example.com", "web"))
	if err := fs.envoy.WaitReady(60 * time.Second); err != nil {
		t.Fatalf("envoy never became ready: %v", err)
	}
	eventually(t, "steady.example.com through Envoy", fs.expect(t, "steady.example.com", "/", 200, "a"))
	fs.waitValid(t, "steady", 30*time.Second)
	fs.settle(t)
	return fs
}

// apply creates the objects of a YAML stream in fs.ns with kubectl.
func (fs *faultStack) apply(t *testing.T, manifest string) {
	t.Helper()
	out, err := fs.c.KubectlInput(strings.NewReader(manifest), "apply", "-n", fs.ns, "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// service creates a Service in fs.ns whose endpoint is the named backend.
func (fs *faultStack) service(t *testing.T, name, backendName string) {
	t.Helper()
	b := fs.backends[backendName]
	backendServiceIn(t, fs.c, fs.ns, name, b.ip, b.port)
}

// backendServiceIn is backendService on a cluster other than kube.
func backendServiceIn(t *testing.T, c *cluster.Cluster, ns, name, addr string, port int32) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{addr},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port)}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// createProxy creates, with the typed client (faster than kubectl), the
// proxy simpleProxy describes.
func (fs *faultStack) createProxy(t *testing.T, name, fqdn, service string) {
	t.Helper()
	_, err := fs.proxies().ProjectcontourV1().HTTPProxies(fs.ns).Create(context.Background(), &contourv1.HTTPProxy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: contourv1.HTTPProxySpec{
			VirtualHost: &contourv1.VirtualHost{Fqdn: fqdn},
			Routes:      []contourv1.Route{{Services: []contourv1.Service{{Name: service, Port: 80}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func (fs *faultStack) proxies() versioned.Interface {
	return versioned.NewForConfigOrDie(fs.c.RESTConfig())
}

// waitValid waits until the proxy shows valid at its generation and
// returns how long that took.
func (fs *faultStack) waitValid(t *testing.T, name string, timeout time.Duration) time.Duration {
	t.Helper()
	return fs.waitStatus(t, name, contourv1.StatusValid, timeout)
}

func (fs *faultStack) waitStatus(t *testing.T, name, want string, timeout time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	client := fs.proxies().ProjectcontourV1().HTTPProxies(fs.ns)
	var last string
	for time.Since(began) < timeout {
		p, err := client.Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			c := p.Status.GetConditionFor(contourv1.ConditionTypeValid)
			if p.Status.CurrentStatus == want && c != nil && c.ObservedGeneration == p.Generation {
				return time.Since(began)
			}
			last = fmt.Sprintf("%q (%q)", p.Status.CurrentStatus, p.Status.Description)
		} else {
			last = err.Error()
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s/%s not %s after %s: %s", fs.ns, name, want, timeout, last)
	return 0
}

// leaders asks every running replica whether it leads. A replica that does
// not answer (starting, exiting) does not lead.
func (fs *faultStack) leaders() []string {
	var (
		mu  sync.Mutex
		out []string
		wg  sync.WaitGroup
	)
	for _, s := range fs.sups {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if st, err := s.Leader(ctx); err == nil && st.Leader {
				mu.Lock()
				out = append(out, s.Identity)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(out)
	return out
}

// waitLeader waits until s leads.
func (fs *faultStack) waitLeader(t *testing.T, s *replica.Supervisor) {
	t.Helper()
	eventually(t, s.Identity+" leads", func() error {
		st, err := s.Leader(context.Background())
		if err != nil {
			return err
		}
		if !st.Leader {
			return fmt.Errorf("%s does not lead; holder %q", s.Identity, st.Holder)
		}
		return nil
	})
}

// settle waits until every replica runs and is ready and exactly one
// leads, and returns the leader.
func (fs *faultStack) settle(t *testing.T) *replica.Supervisor {
	t.Helper()
	var leader *replica.Supervisor
	eventually(t, "three ready replicas, one leader", func() error {
		for _, s := range fs.sups {
			code, body, err := s.Current().Get(context.Background(), "/readyz")
			if err != nil || code != 200 {
				return fmt.Errorf("%s /readyz: %d %q %v", s.Identity, code, body, err)
			}
		}
		l := fs.leaders()
		if len(l) != 1 {
			return fmt.Errorf("leaders %v", l)
		}
		for _, s := range fs.sups {
			if s.Identity == l[0] {
				leader = s
			}
		}
		return nil
	})
	return leader
}

// waitLeaseHolder waits until the Lease's holder satisfies ok.
func (fs *faultStack) waitLeaseHolder(t *testing.T, ok func(holder string) bool, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := "no Lease"
	for time.Now().Before(deadline) {
		l, err := fs.c.Client.CoordinationV1().Leases(fs.ns).Get(context.Background(), leaseName, metav1.GetOptions{})
		if err == nil {
			h := ptr.Deref(l.Spec.HolderIdentity, "")
			if ok(h) {
				return h
			}
			last = fmt.Sprintf("holder %q", h)
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("Lease after %s: %s", timeout, last)
	return ""
}

// sup returns the supervisor of identity.
func (fs *faultStack) sup(identity string) *replica.Supervisor {
	for _, s := range fs.sups {
		if s.Identity == identity {
			return s
		}
	}
	return nil
}

// pids are the replicas' current process ids, by identity.
func (fs *faultStack) pids() map[string]int {
	out := map[string]int{}
	for _, s := range fs.sups {
		out[s.Identity] = s.Current().Pid()
	}
	return out
}

// fault is one fault to inject into a faultStack.
type fault struct {
	name string
	// inject causes the fault and returns at once (for an outage, once it
	// is over); leader is the leader just before.
	inject func(t *testing.T, leader *replica.Supervisor)
	// bound is how long a proxy created right after inject returns may
	// take to become valid.
	bound time.Duration
	// check runs after the new proxy is served, with the traffic still
	// flowing.
	check func(t *testing.T, leader *replica.Supervisor)
}

// faultResult is what run measured.
type faultResult struct {
	sent, failed int
	// valid is how long the proxy created after the fault took to be valid.
	valid time.Duration
	// resumed is the time from the fault to the first successful status
	// write after it, by whom.
	resumed   time.Duration
	resumedBy string
	leaders   []string // who led, in order, as /leader answered
}

// run injects f with traffic flowing through Envoy and checks what every
// fault must leave true.
func (fs *faultStack) run(t *testing.T, f fault) faultResult {
	t.Helper()
	leader := fs.settle(t)
	tr := startTraffic(fs.stack, "steady.example.com", "a")
	lw := watchLeaders(fs, leader.Identity)
	at := time.Now()
	f.inject(t, leader)

	injected := time.Now()
	name := "after-" + slug(f.name)
	host := name + ".example.com"
	fs.createProxy(t, name, host, "web")
	var res faultResult
	fs.waitValid(t, name, f.bound+30*time.Second)
	res.valid = time.Since(injected)
	if res.valid > f.bound {
		t.Errorf("%s: a proxy created right after the fault was valid %s after it, want within %s", f.name, res.valid, f.bound)
	}
	eventually(t, host+" through Envoy", fs.expect(t, host, "/", 200, "a"))
	if f.check != nil {
		f.check(t, leader)
	}
	// Watch for at least a lease duration after the fault: a deposed
	// leader's exit, a second leader, a failed request come within it.
	eventually(t, "a lease duration of watching", func() error {
		if d := time.Since(at); d < faultLease {
			return fmt.Errorf("only %s since the fault", d)
		}
		return nil
	})
	fs.settle(t)
	res.leaders = lw.stop(t)
	res.sent, res.failed = tr.stop(t)

	events := readFaultAudit(t, fs.c)
	checkHolderWrites(t, events, fs.ns)
	res.resumed, res.resumedBy = statusResumed(events, fs.ns, at)
	t.Logf("FAULT %s: requests sent=%d failed=%d; new proxy valid after %s (bound %s); status writes resumed %s after the fault (first by %s); leaders seen %v; lease %s/renew %s/retry %s",
		f.name, res.sent, res.failed, res.valid.Round(time.Millisecond), f.bound, res.resumed.Round(time.Millisecond), res.resumedBy,
		res.leaders, faultLease, faultRenew, faultRetry)
	return res
}

// traffic sends GETs through Envoy every 10ms until stopped, at most
// maxRequests and for at most trafficDeadline, and counts the answers that
// are not 200 from the expected backend.
type traffic struct {
	stopc chan struct{}
	done  chan struct{}

	mu       sync.Mutex
	sent     int
	failures []string
}

const (
	trafficEvery    = 10 * time.Millisecond
	maxRequests     = 10000
	trafficDeadline = 3 * time.Minute
)

func startTraffic(s *stack, host, backendName string) *traffic {
	tr := &traffic{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(trafficEvery)
		defer tick.Stop()
		deadline := time.After(trafficDeadline)
		for range maxRequests {
			err := checkEcho(s, host, backendName)
			tr.mu.Lock()
			tr.sent++
			if err != nil {
				tr.failures = append(tr.failures, time.Now().Format("15:04:05.000")+" "+err.Error())
			}
			tr.mu.Unlock()
			select {
			case <-tr.stopc:
				return
			case <-deadline:
				return
			case <-tick.C:
			}
		}
	}()
	return tr
}

// checkEcho GETs host/ through Envoy and wants 200 from backendName.
func checkEcho(s *stack, host, backendName string) error {
	r, err := s.get(host, "/", nil)
	if err != nil {
		return err
	}
	if r.status != 200 {
		return fmt.Errorf("GET %s = %d %q", host, r.status, bytes.TrimSpace(r.body))
	}
	var e netns.Echo
	if err := json.Unmarshal(r.body, &e); err != nil || e.Name != backendName {
		return fmt.Errorf("GET %s answered by %q (%v), want %q", host, e.Name, err, backendName)
	}
	return nil
}

// stop ends the traffic, fails t if any request failed and returns the
// counts.
func (tr *traffic) stop(t *testing.T) (sent, failed int) {
	t.Helper()
	close(tr.stopc)
	<-tr.done
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if n := len(tr.failures); n > 0 {
		t.Errorf("%d of %d requests through Envoy failed; first: %v", n, tr.sent, tr.failures[:min(n, 5)])
	}
	return tr.sent, len(tr.failures)
}

// leaderWatch polls /leader on every replica while a fault happens.
type leaderWatch struct {
	stopc chan struct{}
	done  chan struct{}

	mu     sync.Mutex
	seen   []string // leaders, in order
	doubts []string // rounds where more than one replica led
}

// watchLeaders polls every 20ms. When a round finds more than one leader
// it asks again at once: a leader that released the Lease or exited between
// two answers of one round is not a second leader, but two replicas that
// both believe they lead stay so at least until the next renewal.
func watchLeaders(fs *faultStack, leader string) *leaderWatch {
	lw := &leaderWatch{stopc: make(chan struct{}), done: make(chan struct{}), seen: []string{leader}}
	go func() {
		defer close(lw.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			l := fs.leaders()
			if len(l) > 1 {
				if again := fs.leaders(); len(again) > 1 {
					lw.mu.Lock()
					lw.doubts = append(lw.doubts, fmt.Sprintf("%s: %v then %v", time.Now().Format("15:04:05.000"), l, again))
					lw.mu.Unlock()
				}
			}
			if len(l) == 1 {
				lw.mu.Lock()
				if n := len(lw.seen); n == 0 || lw.seen[n-1] != l[0] {
					lw.seen = append(lw.seen, l[0])
				}
				lw.mu.Unlock()
			}
			select {
			case <-lw.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	return lw
}

func (lw *leaderWatch) stop(t *testing.T) []string {
	t.Helper()
	close(lw.stopc)
	<-lw.done
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if len(lw.doubts) > 0 {
		t.Errorf("more than one replica led: %v", lw.doubts)
	}
	return lw.seen
}

// faultAuditEvent is an audit event with its request body (Lease writes
// only, by faultAuditPolicy).
type faultAuditEvent struct {
	cluster.AuditEvent
	RequestObject *struct {
		Spec struct {
			HolderIdentity *string `json:"holderIdentity"`
		} `json:"spec"`
	} `json:"requestObject,omitempty"`
}

func readFaultAudit(t *testing.T, c *cluster.Cluster) []faultAuditEvent {
	t.Helper()
	data, err := os.ReadFile(c.AuditLogPath)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	}
	var events []faultAuditEvent
	s := bufio.NewScanner(bytes.NewReader(data))
	s.Buffer(nil, 64<<20)
	for s.Scan() {
		if len(bytes.TrimSpace(s.Bytes())) == 0 {
			continue
		}
		var e faultAuditEvent
		if err := json.Unmarshal(s.Bytes(), &e); err != nil {
			t.Fatalf("audit log: %v", err)
		}
		events = append(events, e)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return events
}

// identityOf extracts "<identity>" from a proxyctl User-Agent
// "proxyctl/<version> (<identity>) <component>"; "" for anything else.
func identityOf(userAgent string) string {
	if !strings.HasPrefix(userAgent, "proxyctl/") {
		return ""
	}
	_, rest, ok := strings.Cut(userAgent, "(")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ")")
	return id
}

func isStatusWrite(e faultAuditEvent, ns string) bool {
	r := e.ObjectRef
	return r != nil && r.Resource == "httpproxies" && r.Subresource == "status" && r.Namespace == ns &&
		(e.Verb == "update" || e.Verb == "patch")
}

func isLeaseWrite(e faultAuditEvent, ns string) bool {
	r := e.ObjectRef
	return r != nil && r.Resource == "leases" && r.Namespace == ns && r.Name == leaseName &&
		(e.Verb == "create" || e.Verb == "update" || e.Verb == "patch" || e.Verb == "delete") &&
		e.Code() >= 200 && e.Code() < 300
}

// holderChange is a successful Lease write: from received to completed the
// holder may be the old or the new one.
type holderChange struct {
	received, completed time.Time
	holder              string // "" when deleted or released
}

// checkHolderWrites fails t if the audit log shows a status write (of any
// outcome) to ns received while its writer did not hold the Lease: the
// holder at a moment is the one the last completed Lease write set (a
// release sets nobody; a deletion changes nothing until the Lease is created
// again); while a write is in flight, both the old and the new holder
// count.
func checkHolderWrites(t *testing.T, events []faultAuditEvent, ns string) int {
	t.Helper()
	var changes []holderChange
	for _, e := range events {
		if !isLeaseWrite(e, ns) {
			continue
		}
		if e.Verb == "delete" {
			// Deleting the Lease hands leadership to nobody: the holder
			// stays the holder until a replica creates it again.
			continue
		}
		h := ""
		if e.RequestObject != nil && e.RequestObject.Spec.HolderIdentity != nil {
			h = *e.RequestObject.Spec.HolderIdentity
		}
		changes = append(changes, holderChange{e.RequestReceivedTimestamp.Time, e.StageTimestamp.Time, h})
	}
	slices.SortFunc(changes, func(a, b holderChange) int { return a.completed.Compare(b.completed) })
	writes := 0
	for _, e := range events {
		if !isStatusWrite(e, ns) {
			continue
		}
		writes++
		at := e.RequestReceivedTimestamp.Time
		who := identityOf(e.UserAgent)
		allowed := map[string]bool{}
		current := ""
		for _, c := range changes {
			switch {
			case !c.completed.After(at):
				current = c.holder
			case !c.received.After(at):
				allowed[c.holder] = true // in flight
			}
		}
		allowed[current] = true
		if who == "" || !allowed[who] {
			t.Errorf("status write %s %s/%s (code %d) by %q at %s while the Lease was held by %q",
				e.Verb, e.ObjectRef.Namespace, e.ObjectRef.Name, e.Code(), e.UserAgent,
				at.Format("15:04:05.000000"), current)
		}
	}
	if writes == 0 {
		t.Error("the audit log shows no status write")
	}
	return writes
}

// statusResumed is the time from at to the first successful status write
// received after it, and its writer.
func statusResumed(events []faultAuditEvent, ns string, at time.Time) (time.Duration, string) {
	first := time.Time{}
	by := "nobody"
	for _, e := range events {
		if !isStatusWrite(e, ns) || e.Code() < 200 || e.Code() >= 300 {
			continue
		}
		if r := e.RequestReceivedTimestamp.Time; r.After(at) && (first.IsZero() || r.Before(first)) {
			first, by = r, identityOf(e.UserAgent)
		}
	}
	if first.IsZero() {
		return -1, by
	}
	return first.Sub(at), by
}

// slug turns a fault's name into an object name.
func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}
