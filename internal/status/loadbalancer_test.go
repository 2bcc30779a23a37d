package status

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/dag"
)

// Addresses from the documentation ranges; nothing is ever sent to them.
func lbOf(ips ...string) corev1.LoadBalancerStatus {
	var lb corev1.LoadBalancerStatus
	for _, ip := range ips {
		lb.Ingress = append(lb.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	return lb
}

func TestDesiredWithAddress(t *testing.T) {
	full := corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
		{IP: "192.0.2.10", IPMode: ptr.To(corev1.LoadBalancerIPModeVIP),
			Ports: []corev1.PortStatus{{Port: 80, Protocol: corev1.ProtocolTCP}, {Port: 443, Protocol: corev1.ProtocolTCP, Error: ptr.To("Pending")}}},
		{Hostname: "lb.example.com"},
	}}
	other := lbOf("192.0.2.99")
	empty := corev1.LoadBalancerStatus{}
	tests := map[string]struct {
		ps       *dag.ProxyStatus
		existing corev1.LoadBalancerStatus
		lb       *corev1.LoadBalancerStatus
		want     corev1.LoadBalancerStatus
	}{
		// No Envoy Service configured (or not known yet): not ours.
		"nil keeps what another writer put": {ps: valid(1), existing: other, lb: nil, want: other},
		"nil keeps nothing":                 {ps: invalid(1), lb: nil, want: empty},
		// Contour copies the Service's status.loadBalancer verbatim onto
		// every HTTPProxy of its class, whatever its status.
		"valid shows the Service's address":     {ps: valid(1), lb: &full, want: full},
		"invalid shows it too":                  {ps: invalid(1, dag.Condition{Type: "SpecError", Reason: "R", Message: "m"}), lb: &full, want: full},
		"orphaned shows it too":                 {ps: orphaned(1), lb: &full, want: full},
		"the address replaces another":          {ps: valid(1), existing: other, lb: &full, want: full},
		"no address clears the one shown":       {ps: valid(1), existing: other, lb: &empty, want: empty},
		"valid with warnings shows the address": {ps: withWarnings(valid(1), dag.Condition{Type: "W", Reason: "R", Message: "m"}), lb: &other, want: other},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			existing := notReconciled()
			existing.LoadBalancer = tc.existing
			before := existing.DeepCopy()
			got := DesiredWithAddress(tc.ps, existing, tc.lb, t1)
			if diff := cmp.Diff(tc.want, got.LoadBalancer); diff != "" {
				t.Errorf("loadBalancer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(*before, existing); diff != "" {
				t.Errorf("DesiredWithAddress modified existing:\n%s", diff)
			}
			if tc.lb != nil && len(got.LoadBalancer.Ingress) > 0 && &got.LoadBalancer.Ingress[0] == &tc.lb.Ingress[0] {
				t.Error("the status shares the address's slices: a later change would reach it")
			}
			// The rest is what Desired says.
			rest := got.DeepCopy()
			rest.LoadBalancer = existing.LoadBalancer
			if diff := cmp.Diff(Desired(tc.ps, existing, t1), *rest); diff != "" {
				t.Errorf("conditions differ from Desired (-Desired +got):\n%s", diff)
			}
			if again := DesiredWithAddress(tc.ps, got, tc.lb, t0); NeedsUpdate(got, again) {
				t.Errorf("not idempotent:\n%s", cmp.Diff(got, again))
			}
			obj := func(s contourv1.HTTPProxyStatus) *contourv1.HTTPProxy {
				return &contourv1.HTTPProxy{ObjectMeta: metav1.ObjectMeta{Generation: tc.ps.Generation}, Status: s}
			}
			if !upToDate(tc.ps, tc.lb, obj(got)) {
				t.Error("upToDate says the desired status is stale")
			}
			// An object showing the right conditions but another address.
			withOld := got.DeepCopy()
			withOld.LoadBalancer = tc.existing
			if upToDate(tc.ps, tc.lb, obj(*withOld)) != !NeedsUpdate(*withOld, got) {
				t.Error("upToDate and NeedsUpdate disagree about the address shown")
			}
		})
	}
}

// An empty list and no list are the same address: none. Writing one over
// the other would be a write nobody can see.
func TestNoAddressNilOrEmpty(t *testing.T) {
	shown := Desired(valid(1), notReconciled(), t0)
	shown.LoadBalancer = corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{}}
	obj := &contourv1.HTTPProxy{ObjectMeta: metav1.ObjectMeta{Generation: 1}, Status: shown}
	if !upToDate(valid(1), &corev1.LoadBalancerStatus{}, obj) {
		t.Error("an empty ingress list is not up to date with no address")
	}
}

// TestAddressChangeRewritesEveryProxy: the leader writes the Envoy
// Service's address onto every proxy; a change rewrites each proxy that
// shows something else, and only those; the same address again writes
// nothing.
func TestAddressChangeRewritesEveryProxy(t *testing.T) {
	first, second := lbOf("192.0.2.10"), lbOf("192.0.2.20")
	alreadySecond := DesiredWithAddress(named("ahead", valid(1)), notReconciled(), &second, t0)
	h := newHarness(t, 2,
		proxy("a", 1, notReconciled()),
		proxy("b", 1, notReconciled()),
		proxy("c", 1, notReconciled()),
		proxy("ahead", 1, alreadySecond),
	)
	h.w.OnChange(dagOf(
		named("a", valid(1)),
		named("b", invalid(1, dag.Condition{Type: "SpecError", Reason: "R", Message: "m"})),
		named("c", orphaned(1)),
		named("ahead", valid(1)),
	))
	h.w.SetLoadBalancer(first) // before leading: recorded, nothing written
	if a := h.client.Actions(); len(a) != 0 {
		t.Fatalf("a non-leader made API calls: %v", a)
	}
	h.run()
	close(h.elected)
	shows := func(lb corev1.LoadBalancerStatus, names ...string) func() bool {
		return func() bool {
			for _, n := range names {
				if !cmp.Equal(h.stored(n).Status.LoadBalancer, lb) {
					return false
				}
			}
			return true
		}
	}
	eventually(t, "every proxy shows the first address", shows(first, "a", "b", "c", "ahead"))
	h.idle()
	if got := len(h.statusUpdates()); got != 4 {
		t.Errorf("%d status writes, want 4", got)
	}

	h.w.SetLoadBalancer(*first.DeepCopy())
	h.idle()
	if got := len(h.statusUpdates()); got != 4 {
		t.Errorf("the same address again: %d status writes, want still 4", got)
	}

	h.client.ClearActions()
	h.w.SetLoadBalancer(second)
	eventually(t, "every proxy shows the second address", shows(second, "a", "b", "c", "ahead"))
	h.idle()
	if got := h.statusUpdates(); len(got) != 4 {
		t.Errorf("status writes %v, want a, b, c and ahead once each", got)
	}
	if got := h.stored("c").Status.CurrentStatus; got != contourv1.StatusOrphaned {
		t.Errorf("c: currentStatus %q after the address change, want orphaned", got)
	}

	// The Service gone: the address goes from every proxy.
	h.client.ClearActions()
	h.w.SetLoadBalancer(corev1.LoadBalancerStatus{})
	eventually(t, "no proxy shows an address", shows(corev1.LoadBalancerStatus{}, "a", "b", "c", "ahead"))
	h.idle()
	if got := h.statusUpdates(); len(got) != 4 {
		t.Errorf("status writes %v, want each proxy once", got)
	}
}

// Only the proxies that show another address are written.
func TestAddressChangeSkipsProxiesShowingIt(t *testing.T) {
	lb := lbOf("192.0.2.30")
	h := newHarness(t, 2,
		proxy("stale", 1, Desired(named("stale", valid(1)), notReconciled(), t0)),
		proxy("current", 1, DesiredWithAddress(named("current", valid(1)), notReconciled(), &lb, t0)),
	)
	h.w.OnChange(dagOf(named("stale", valid(1)), named("current", valid(1))))
	h.run()
	close(h.elected)
	h.idle()
	if got := h.statusUpdates(); len(got) != 0 {
		t.Fatalf("status writes %v before any address is known: loadBalancer is not ours yet", got)
	}
	h.w.SetLoadBalancer(lb)
	eventually(t, "stale shows the address", func() bool { return cmp.Equal(h.stored("stale").Status.LoadBalancer, lb) })
	h.idle()
	if got := h.statusUpdates(); len(got) != 1 || got[0] != "stale" {
		t.Errorf("status writes %v, want stale only", got)
	}
}
