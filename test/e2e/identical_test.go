package e2e

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/proxyctl/proxyctl/test/replica"
	"github.com/proxyctl/proxyctl/test/xdsclient"
)

var allTypes = []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType}

// complete reports whether a client holds n clusters with their endpoints
// and route configuration.
func complete(n int) func(map[string]xdsclient.State) bool {
	return func(s map[string]xdsclient.State) bool {
		for _, typ := range allTypes {
			if s[typ].Version == "" {
				return false
			}
		}
		return len(s[resourcev3.ClusterType].Resources) == n && len(s[resourcev3.EndpointType].Resources) == n
	}
}

// Every replica given the same objects serves byte-identical resources with
// identical versions, so an Envoy that reconnects to another replica is
// pushed nothing new. A replica answers only once it has synced and built:
// its first answer is already the whole configuration.
func TestReplicasServeIdenticalConfig(t *testing.T) {
	ns := kube.NewNamespace(t)
	const proxies = 20
	var manifest strings.Builder
	for i := range proxies {
		svc := fmt.Sprintf("svc-%d", i)
		backendService(t, ns, svc, fmt.Sprintf("10.250.0.%d", i+1), 8080)
		manifest.WriteString(simpleProxy(fmt.Sprintf("p%d", i), fmt.Sprintf("p%d.example.com", i), svc))
	}
	apply(t, ns, manifest.String())

	bin := replica.Binary(t)
	logDir := t.TempDir()
	var clients []*xdsclient.Client
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 2 {
		r := replica.Start(t, replica.Options{
			Binary: bin, Kubeconfig: kube.Kubeconfig, Identity: fmt.Sprintf("replica-%d", i),
			LeaseNamespace: ns, LogDir: logDir,
		})
		// Connect at once: the replica may still be syncing, and must hold
		// the request until it has the whole configuration.
		var c *xdsclient.Client
		deadline := time.Now().Add(30 * time.Second)
		for {
			var err error
			if c, err = xdsclient.Dial(ctx, r.XDSAddr, xdsclient.Options{NodeID: r.Identity}); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("dial %s: %v", r.XDSAddr, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	for i, c := range clients {
		if err := c.WaitFor(ctx, complete(proxies)); err != nil {
			t.Fatalf("replica-%d never served the whole configuration: %v (have %v)", i, err, c.Versions())
		}
		for _, typ := range []string{resourcev3.ListenerType, resourcev3.ClusterType} {
			if n := c.State(typ).Responses; n != 1 {
				t.Errorf("replica-%d sent %d responses of %s before the config was complete; want the whole config at once", i, n, typ)
			}
		}
	}
	a, b := clients[0], clients[1]
	if !maps.Equal(a.Versions(), b.Versions()) {
		t.Fatalf("replicas serve different versions:\n%v\n%v", a.Versions(), b.Versions())
	}
	for _, typ := range allTypes {
		ra, rb := a.State(typ).Resources, b.State(typ).Resources
		if !maps.EqualFunc(ra, rb, func(x, y []byte) bool { return string(x) == string(y) }) {
			t.Errorf("replicas serve different %s resources", typ)
		}
	}
	t.Logf("both replicas serve versions %v", a.Versions())
}
