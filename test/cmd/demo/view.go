package main

import (
	"bufio"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func (d *demo) printHelp() {
	kc := filepath.Join(d.dir, "kubeconfig")
	kubectl := filepath.Join(d.root, "bin", "kubectl")
	fmt.Printf(`
Try it (in another terminal):

  curl -H 'Host: demo.example.com' http://127.0.0.1:%[1]d/          # demo-app-1/2, or the canary 1 time in 10
  curl -H 'Host: demo.example.com' http://127.0.0.1:%[1]d/blog      # included from namespace blog
  curl --cacert %[3]s --resolve secure.example.com:%[2]d:127.0.0.1 https://secure.example.com:%[2]d/
  %[4]s --kubeconfig %[5]s get httpproxy -A
`, d.httpPort, d.httpsPort, filepath.Join(d.dir, "secure-ca.crt"), kubectl, kc)
	fmt.Println("\nWho leads? Each replica answers on /leader:")
	for _, r := range d.fleet.replicas() {
		fmt.Printf("  curl -s http://%s/leader   # %s (log: %s)\n", r.HTTPAddr, r.Identity, r.LogPath)
	}
	fmt.Print(`
Kill the leader and watch leadership move, with no failed request:
  kill <pid of the leader>      # SIGTERM releases the Lease: another replica leads within a second or two
  kill -9 <pid of the leader>   # the demo restarts it under the same name, as Kubernetes restarts a
                                # container, and it takes its still-valid Lease back at once
  (pids: pgrep -af 'proxyctl serve'; the leader's /leader says "leader": true)

Ctrl-C stops everything and removes what the demo made.

`)
}

// liveView prints a short status line every few seconds until ctx ends.
func (d *demo) liveView(ctx context.Context) {
	ticker := time.NewTicker(3 * time.Second)
	defer ticker.Stop()
	for {
		fmt.Println(d.statusLine(ctx))
		select {
		case <-ctx.Done():
			fmt.Println("\nStopping ...")
			return
		case <-ticker.C:
		}
	}
}

func (d *demo) statusLine(ctx context.Context) string {
	leader, up := "none", 0
	var counts map[string]float64
	for _, r := range d.fleet.replicas() {
		s, err := r.Leader(ctx)
		if err != nil {
			continue
		}
		up++
		if s.Leader {
			leader = s.Identity
			if _, body, err := r.Get(ctx, "/metrics"); err == nil {
				counts = proxyCounts(body)
			}
		}
	}
	served := int64(0)
	if stats, err := d.envoy.Stats(); err == nil {
		for name, v := range stats {
			if strings.HasPrefix(name, "http.") && !strings.HasPrefix(name, "http.admin.") && strings.HasSuffix(name, ".downstream_rq_completed") {
				served += v
			}
		}
	}
	return fmt.Sprintf("%s  leader %-11s replicas up %d/%d  proxies %v valid, %v invalid, %v orphaned  requests served %d",
		time.Now().Format("15:04:05"), leader, up, replicas, counts["valid"], counts["invalid"], counts["orphaned"], served)
}

// proxyCounts reads proxyctl_httpproxies{status="..."} from the leader's
// metrics.
func proxyCounts(metrics string) map[string]float64 {
	out := map[string]float64{"valid": 0, "invalid": 0, "orphaned": 0}
	s := bufio.NewScanner(strings.NewReader(metrics))
	for s.Scan() {
		line := s.Text()
		if !strings.HasPrefix(line, `proxyctl_httpproxies{status="`) {
			continue
		}
		rest := strings.TrimPrefix(line, `proxyctl_httpproxies{status="`)
		status, value, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[status] = v
		}
	}
	return out
}
