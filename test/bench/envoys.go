package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/proxyctl/proxyctl/test/xdsclient"
)

// fleet is a set of simulated Envoys spread over the replicas.
type fleet []*xdsclient.Client

// dialFleet connects n simulated Envoys, Envoy i to addrs[i%len(addrs)],
// all at once.
func dialFleet(ctx context.Context, prefix string, n int, addrs []string) (fleet, error) {
	f := make(fleet, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range f {
		wg.Go(func() {
			f[i], errs[i] = xdsclient.Dial(ctx, addrs[i%len(addrs)], xdsclient.Options{NodeID: fmt.Sprintf("%s-%d", prefix, i)})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f fleet) close() {
	for _, c := range f {
		if c != nil {
			_ = c.Close()
		}
	}
}

// each runs fn for every client concurrently and joins the errors.
func (f fleet) each(fn func(i int, c *xdsclient.Client) error) error {
	errs := make([]error, len(f))
	var wg sync.WaitGroup
	for i, c := range f {
		wg.Go(func() { errs[i] = fn(i, c) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// configTypes are the resource types a full configuration has; Secrets are
// left out, the benchmark has no TLS.
var configTypes = []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType}

// hasAll says whether st holds at least n Clusters and n
// ClusterLoadAssignments, a Listener and a RouteConfiguration in which fqdn
// (the last proxy's) appears.
func hasAll(st map[string]xdsclient.State, n int, fqdn []byte) bool {
	if len(st[resourcev3.ClusterType].Resources) < n || len(st[resourcev3.EndpointType].Resources) < n ||
		len(st[resourcev3.ListenerType].Resources) == 0 {
		return false
	}
	return routesContain(st, fqdn)
}

func routesContain(st map[string]xdsclient.State, token []byte) bool {
	for _, b := range st[resourcev3.RouteType].Resources {
		if bytes.Contains(b, token) {
			return true
		}
	}
	return false
}

// lastReceived is when the latest of the configuration types arrived.
func lastReceived(st map[string]xdsclient.State) time.Time {
	var last time.Time
	for _, typ := range configTypes {
		if r := st[typ].Received; r.After(last) {
			last = r
		}
	}
	return last
}

func versions(st map[string]xdsclient.State) map[string]string {
	out := map[string]string{}
	for _, typ := range configTypes {
		out[typ] = st[typ].Version
	}
	return out
}

// waitFull waits until every client holds the full configuration for n
// proxies and all hold the same versions (replicas serve byte-identical
// config). It returns those versions and when the last client got them.
func (f fleet) waitFull(ctx context.Context, n int, fqdn []byte) (map[string]string, time.Time, error) {
	for {
		got := make([]map[string]string, len(f))
		at := make([]time.Time, len(f))
		err := f.each(func(i int, c *xdsclient.Client) error {
			return c.WaitFor(ctx, func(st map[string]xdsclient.State) bool {
				if !hasAll(st, n, fqdn) {
					return false
				}
				got[i], at[i] = versions(st), lastReceived(st)
				return true
			})
		})
		if err != nil {
			return nil, time.Time{}, err
		}
		var last time.Time
		same := true
		for i := range got {
			same = same && maps.Equal(got[i], got[0])
			if at[i].After(last) {
				last = at[i]
			}
		}
		if same {
			return got[0], last, nil
		}
		// A replica was still behind: wait for the clients to agree.
		if err := f.waitVersions(ctx, maxVersions(f)); err != nil {
			return nil, time.Time{}, err
		}
	}
}

// maxVersions picks the versions the most clients hold, the config the
// replicas converge on; the others are behind.
func maxVersions(f fleet) map[string]string {
	count := map[string]int{}
	byKey := map[string]map[string]string{}
	for _, c := range f {
		v := c.Versions()
		key := fmt.Sprint(v[resourcev3.ListenerType], v[resourcev3.RouteType], v[resourcev3.ClusterType], v[resourcev3.EndpointType])
		count[key]++
		byKey[key] = v
	}
	best, bestN := "", -1
	for k, c := range count {
		if c > bestN {
			best, bestN = k, c
		}
	}
	return byKey[best]
}

// waitVersions waits until every client holds want for each config type, or
// a short grace passes (then the caller looks again).
func (f fleet) waitVersions(ctx context.Context, want map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := f.each(func(_ int, c *xdsclient.Client) error {
		return c.WaitFor(ctx, func(st map[string]xdsclient.State) bool {
			for _, typ := range configTypes {
				if st[typ].Version != want[typ] {
					return false
				}
			}
			return true
		})
	})
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return nil
	}
	return err
}

// waitRoute waits until every client holds a RouteConfiguration containing
// token and returns, per client, when that version arrived.
func (f fleet) waitRoute(ctx context.Context, token []byte) ([]time.Time, error) {
	at := make([]time.Time, len(f))
	err := f.each(func(i int, c *xdsclient.Client) error {
		seen := ""
		return c.WaitFor(ctx, func(st map[string]xdsclient.State) bool {
			rs := st[resourcev3.RouteType]
			if rs.Version == seen {
				return false
			}
			seen = rs.Version
			// Only what this response carried can hold the new token.
			found := false
			for _, name := range rs.Carried {
				found = found || bytes.Contains(rs.Resources[name], token)
			}
			if found {
				at[i] = rs.Received
				return true
			}
			return false
		})
	})
	return at, err
}

// waitExact waits until every client holds exactly want for each config
// type and returns, per client, when the last of them arrived.
func (f fleet) waitExact(ctx context.Context, want map[string]string) ([]time.Time, error) {
	at := make([]time.Time, len(f))
	err := f.each(func(i int, c *xdsclient.Client) error {
		return c.WaitFor(ctx, func(st map[string]xdsclient.State) bool {
			for _, typ := range configTypes {
				if st[typ].Version != want[typ] {
					return false
				}
			}
			at[i] = lastReceived(st)
			return true
		})
	})
	return at, err
}
