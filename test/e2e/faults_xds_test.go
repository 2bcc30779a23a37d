package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/test/envoy"
	"github.com/proxyctl/proxyctl/test/replica"
	"github.com/proxyctl/proxyctl/test/xdsclient"
)

// TestFaultXDSServerRestart kills the standby whose xDS server Envoy is
// connected to and restarts it at once on the same port. Envoy keeps
// serving its last configuration and reconnects; the restarted replica
// answers nothing until it has synced and built, and then exactly what it
// served before (same versions, same bytes): a simulated Envoy connected
// the moment it restarts receives one response per type, the whole
// configuration. Envoy's config dump, polled throughout, never holds fewer
// listeners, clusters, route configurations, virtual hosts or routes than
// before, and Envoy rejected no update.
func TestFaultXDSServerRestart(t *testing.T) {
	fs := newFaultStack(t, faultOptions{})
	// A second proxy, so the configuration is more than one of each.
	fs.service(t, "other", "b")
	fs.createProxy(t, "other", "other.example.com", "other")
	eventually(t, "other.example.com through Envoy", fs.expect(t, "other.example.com", "/", 200, "b"))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	target := fs.envoyOn
	before := dialObserver(t, ctx, target.XDSAddr, "observer-before")
	if err := before.WaitFor(ctx, complete(2)); err != nil {
		t.Fatalf("observer: %v (have %v)", err, before.Versions())
	}
	baseline := map[string]xdsclient.State{}
	for _, typ := range allTypes {
		baseline[typ] = before.State(typ)
	}
	baseDump := envoyCounts(t, fs.envoy)
	baseStats := updateStats(t, fs.envoy)
	if !baseDump.has(2) {
		t.Fatalf("Envoy's config before the fault: %+v", baseDump)
	}
	poll := pollEnvoyConfig(fs.envoy)

	fs.run(t, fault{
		name:  "SIGKILL and restart of Envoy's xDS server",
		bound: atOnceBound,
		inject: func(t *testing.T, _ *replica.Supervisor) {
			target.Current().Kill()
			r, err := target.WaitStarts(2, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			after := dialObserver(t, ctx, target.XDSAddr, "observer-after")
			if err := after.WaitFor(ctx, complete(2)); err != nil {
				t.Fatalf("observer of the restarted replica: %v (have %v)", err, after.Versions())
			}
			code, _, _ := r.Get(ctx, "/readyz")
			for _, typ := range allTypes {
				got, want := after.State(typ), baseline[typ]
				if got.Responses != 1 {
					t.Errorf("the restarted replica sent %d responses of %s, want the whole configuration at once", got.Responses, typ)
				}
				if got.Version != want.Version || !maps.EqualFunc(got.Resources, want.Resources, func(a, b []byte) bool { return string(a) == string(b) }) {
					t.Errorf("the restarted replica served %s version %q with %d resources, before the fault %q with %d",
						typ, got.Version, len(got.Resources), want.Version, len(want.Resources))
				}
			}
			t.Logf("the restarted replica (pid %d, /readyz %d when its config arrived) first served versions %v, as before the fault",
				r.Pid(), code, after.Versions())
			eventually(t, "Envoy reconnected", func() error {
				if s := updateStats(t, fs.envoy); s["control_plane.connected_state"] != 1 {
					return fmt.Errorf("control_plane.connected_state %d", s["control_plane.connected_state"])
				}
				return nil
			})
		},
		check: func(t *testing.T, _ *replica.Supervisor) {
			min, polls := poll.stop()
			if !min.atLeast(baseDump) {
				t.Errorf("during the restart Envoy held %+v, less than before: %+v", min, baseDump)
			}
			after := updateStats(t, fs.envoy)
			for name, v := range baseStats {
				if (strings.HasSuffix(name, "update_rejected") || strings.HasSuffix(name, "update_empty")) && after[name] != v {
					t.Errorf("Envoy stat %s went from %d to %d", name, v, after[name])
				}
			}
			t.Logf("Envoy's config dump, polled %d times during the fault, never held less than before: minimum %+v, before %+v", polls, min, baseDump)
		},
	})
}

// dialObserver connects a simulated Envoy to addr as soon as it accepts.
func dialObserver(t *testing.T, ctx context.Context, addr, node string) *xdsclient.Client {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := xdsclient.Dial(ctx, addr, xdsclient.Options{NodeID: node})
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// configCounts is what Envoy's config dump holds from xDS.
type configCounts struct {
	Listeners, Clusters, RouteConfigs, VirtualHosts, Routes int
}

func (c configCounts) has(proxies int) bool {
	return c.Listeners > 0 && c.Clusters >= proxies && c.VirtualHosts >= proxies
}

func (c configCounts) atLeast(o configCounts) bool {
	return c.Listeners >= o.Listeners && c.Clusters >= o.Clusters && c.RouteConfigs >= o.RouteConfigs &&
		c.VirtualHosts >= o.VirtualHosts && c.Routes >= o.Routes
}

func (c configCounts) min(o configCounts) configCounts {
	return configCounts{
		min(c.Listeners, o.Listeners), min(c.Clusters, o.Clusters), min(c.RouteConfigs, o.RouteConfigs),
		min(c.VirtualHosts, o.VirtualHosts), min(c.Routes, o.Routes),
	}
}

func envoyCounts(t *testing.T, e *envoy.Envoy) configCounts {
	t.Helper()
	c, err := readEnvoyCounts(e)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readEnvoyCounts counts the dynamic (xDS) resources in /config_dump.
func readEnvoyCounts(e *envoy.Envoy) (configCounts, error) {
	body, err := e.Admin("/config_dump")
	if err != nil {
		return configCounts{}, err
	}
	var dump struct {
		Configs []struct {
			Type             string `json:"@type"`
			DynamicListeners []struct {
				ActiveState *json.RawMessage `json:"active_state"`
			} `json:"dynamic_listeners"`
			DynamicActiveClusters []json.RawMessage `json:"dynamic_active_clusters"`
			DynamicRouteConfigs   []struct {
				RouteConfig struct {
					VirtualHosts []struct {
						Routes []json.RawMessage `json:"routes"`
					} `json:"virtual_hosts"`
				} `json:"route_config"`
			} `json:"dynamic_route_configs"`
		} `json:"configs"`
	}
	if err := json.Unmarshal(body, &dump); err != nil {
		return configCounts{}, fmt.Errorf("config dump: %w", err)
	}
	var c configCounts
	for _, cfg := range dump.Configs {
		for _, l := range cfg.DynamicListeners {
			if l.ActiveState != nil {
				c.Listeners++
			}
		}
		c.Clusters += len(cfg.DynamicActiveClusters)
		c.RouteConfigs += len(cfg.DynamicRouteConfigs)
		for _, rc := range cfg.DynamicRouteConfigs {
			c.VirtualHosts += len(rc.RouteConfig.VirtualHosts)
			for _, vh := range rc.RouteConfig.VirtualHosts {
				c.Routes += len(vh.Routes)
			}
		}
	}
	return c, nil
}

// updateStats returns Envoy's xDS update counters and connection gauge.
func updateStats(t *testing.T, e *envoy.Envoy) map[string]int64 {
	t.Helper()
	all, err := e.Stats()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for name, v := range all {
		if strings.Contains(name, "update_") || name == "control_plane.connected_state" {
			out[name] = v
		}
	}
	return out
}

// configPoll reads Envoy's config dump every 20ms and keeps the minimum of
// each count.
type configPoll struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	min   *configCounts
	polls int
}

func pollEnvoyConfig(e *envoy.Envoy) *configPoll {
	p := &configPoll{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			if c, err := readEnvoyCounts(e); err == nil {
				p.mu.Lock()
				if p.min == nil {
					p.min = &c
				} else {
					m := p.min.min(c)
					p.min = &m
				}
				p.polls++
				p.mu.Unlock()
			}
			select {
			case <-p.stopc:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return p
}

func (p *configPoll) stop() (configCounts, int) {
	close(p.stopc)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.min == nil {
		return configCounts{}, 0
	}
	return *p.min, p.polls
}
