package httpserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/proxyctl/proxyctl/internal/dag"
)

func dumpDAG(statusOrder []string) *dag.DAG {
	web := &dag.Cluster{Name: "ns/web/80/abc", Service: types.NamespacedName{Namespace: "ns", Name: "web"}, Port: 80,
		Endpoints: []dag.Endpoint{{Address: "10.0.0.1", Port: 8080}}}
	route := &dag.Route{PathMatch: dag.PathMatch{Kind: dag.PathPrefix, Value: "/"}, Clusters: []*dag.WeightedCluster{{Cluster: web, Weight: 1}}}
	secret := &dag.Secret{Name: "ns/tls", Cert: []byte("CERTIFICATE"), Key: []byte("PRIVATE-KEY-BYTES")}
	d := &dag.DAG{
		HTTP:     []*dag.VirtualHost{{Name: "a.example.com", Routes: []*dag.Route{route}}, {Name: "b.example.com", Routes: []*dag.Route{route}}},
		HTTPS:    []*dag.SecureVirtualHost{{VirtualHost: dag.VirtualHost{Name: "b.example.com", Routes: []*dag.Route{route}}, Secret: secret}},
		Clusters: []*dag.Cluster{web},
		Secrets:  []*dag.Secret{secret},
		Statuses: map[types.NamespacedName]*dag.ProxyStatus{},
	}
	for _, name := range statusOrder {
		k := types.NamespacedName{Namespace: "ns", Name: name}
		d.Statuses[k] = &dag.ProxyStatus{Proxy: k, Generation: 1}
	}
	return d
}

func TestDAGDump(t *testing.T) {
	dump := &DAGDump{}
	h := DebugHandler(dump)
	if code, body := get(t, h, "/debug/dag"); code != http.StatusServiceUnavailable {
		t.Fatalf("/debug/dag before the first DAG = %d %q, want 503", code, body)
	}

	d := dumpDAG([]string{"c", "a", "b"})
	dump.OnChange(d)
	code, body := get(t, h, "/debug/dag")
	if code != http.StatusOK {
		t.Fatalf("/debug/dag = %d %q", code, body)
	}
	var v DAGView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	if len(v.HTTP) != 2 || v.HTTP[0].Name != "a.example.com" || len(v.HTTPS) != 1 || len(v.Clusters) != 1 || len(v.Secrets) != 1 {
		t.Fatalf("dump lacks parts of the DAG:\n%s", body)
	}
	if v.HTTP[0].Routes[0].Clusters[0].Cluster.Name != "ns/web/80/abc" {
		t.Errorf("route's cluster = %+v", v.HTTP[0].Routes[0].Clusters[0].Cluster)
	}
	var names []string
	for _, s := range v.Statuses {
		names = append(names, s.Proxy.Name)
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("statuses in order %v, want sorted a,b,c", names)
	}

	// Private keys are never shown, and the shared DAG keeps its own.
	key := []byte("PRIVATE-KEY-BYTES")
	if strings.Contains(body, string(key)) || strings.Contains(body, base64.StdEncoding.EncodeToString(key)) {
		t.Errorf("the dump shows a private key:\n%s", body)
	}
	if v.Secrets[0].Name != "ns/tls" || string(v.Secrets[0].Cert) != "CERTIFICATE" || v.HTTPS[0].Secret.Name != "ns/tls" {
		t.Errorf("secret not dumped by name and certificate: %+v", v.Secrets[0])
	}
	if !bytes.Equal(d.Secrets[0].Key, key) || !bytes.Equal(d.HTTPS[0].Secret.Key, key) {
		t.Error("dumping modified the DAG's secret")
	}

	// The same DAG, its status map filled in another order, gives the same
	// bytes.
	for range 5 {
		dump.OnChange(dumpDAG([]string{"b", "c", "a"}))
		if _, again := get(t, h, "/debug/dag"); again != body {
			t.Fatalf("dump not deterministic:\n%s\nthen\n%s", body, again)
		}
	}

	// pprof is still served.
	if code, _ := get(t, h, "/debug/pprof/"); code != http.StatusOK {
		t.Errorf("/debug/pprof/ = %d", code)
	}
}
