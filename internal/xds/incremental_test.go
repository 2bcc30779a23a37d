package xds

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// sortedDAG has n plain hosts, each routing to its own cluster, with its
// lists sorted by name as dag.Builder gives them.
func sortedDAG(n int) *dag.DAG {
	var http []*dag.VirtualHost
	for i := range n {
		http = append(http, vhost(fmt.Sprintf("app%05d.example.com", i), prefix("/", to(upstream("ns", fmt.Sprintf("app%05d", i), 80)))))
	}
	d := build(http)
	slices.SortFunc(d.Clusters, func(a, b *dag.Cluster) int { return strings.Compare(a.Name, b.Name) })
	return d
}

// TestTranslatorPatches: hosts and clusters edited, added and removed are
// patched into the snapshot before (and give exactly what a translation
// from scratch gives); a wildcard host takes the full path.
func TestTranslatorPatches(t *testing.T) {
	tr := newTestTranslator(t)
	d := sortedDAG(20)
	checkTranslator(t, tr, d)

	with := func(d *dag.DAG, edit func(d *dag.DAG)) *dag.DAG {
		n := *d
		n.HTTP, n.Clusters = slices.Clone(d.HTTP), slices.Clone(d.Clusters)
		edit(&n)
		return &n
	}
	added := vhost("app00005a.example.com", prefix("/", to(upstream("ns", "app00005a", 80))))
	steps := []struct {
		name    string
		edit    func(d *dag.DAG)
		patched bool
	}{
		{"a host's route changed", func(d *dag.DAG) {
			d.HTTP[3] = vhost(d.HTTP[3].Name, prefix("/v2", to(d.HTTP[3].Routes[0].Clusters[0].Cluster)))
		}, true},
		{"a cluster's endpoints changed", func(d *dag.DAG) {
			c := *d.Clusters[4]
			c.Endpoints = append(slices.Clone(c.Endpoints), dag.Endpoint{Address: "10.9.9.9", Port: 8080})
			d.Clusters[4] = &c
		}, true},
		{"a host and its cluster added", func(d *dag.DAG) {
			d.HTTP = slices.Insert(d.HTTP, 6, added)
			d.Clusters = slices.Insert(d.Clusters, 6, added.Routes[0].Clusters[0].Cluster)
		}, true},
		{"a host and its cluster removed", func(d *dag.DAG) {
			d.HTTP = slices.Delete(d.HTTP, 10, 11)
			d.Clusters = slices.Delete(d.Clusters, 10, 11)
		}, true},
		{"the first and the last host removed", func(d *dag.DAG) {
			d.HTTP = d.HTTP[1 : len(d.HTTP)-1]
		}, true},
		{"a wildcard host added", func(d *dag.DAG) {
			d.HTTP = append(slices.Clone(d.HTTP), vhost("*.other.com", prefix("/", to(d.Clusters[0]))))
			slices.SortFunc(d.HTTP, func(a, b *dag.VirtualHost) int { return strings.Compare(a.Name, b.Name) })
		}, false},
		{"the wildcard host's route changed", func(d *dag.DAG) {
			d.HTTP[0] = vhost("*.other.com", prefix("/w", to(d.Clusters[0])))
		}, true},
		{"the wildcard host removed", func(d *dag.DAG) {
			d.HTTP = d.HTTP[1:]
		}, false},
		{"back to plain hosts only, edited", func(d *dag.DAG) {
			d.HTTP[0] = vhost(d.HTTP[0].Name, prefix("/again", to(d.Clusters[0])))
		}, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := tr.patched
			d = with(d, s.edit)
			checkTranslator(t, tr, d)
			if patched := tr.patched > before; patched != s.patched {
				t.Errorf("patched = %v, want %v", patched, s.patched)
			}
		})
	}
}

// BenchmarkTranslatorAdd: one host and its cluster added to, then removed
// from, a DAG of n, as during a create storm.
func BenchmarkTranslatorAdd(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("vhosts=%d", n), func(b *testing.B) {
			d := sortedDAG(n)
			without := *d
			without.HTTP = slices.Delete(slices.Clone(d.HTTP), n/2, n/2+1)
			without.Clusters = slices.Delete(slices.Clone(d.Clusters), n/2, n/2+1)
			benchmarkAlternating(b, d, &without)
		})
	}
}
