package xdsserver

import (
	"context"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/proxyctl/proxyctl/internal/testutil"
	"github.com/proxyctl/proxyctl/internal/xds/xdstest"
)

// TestHandoffServesTheLatestDAG: DAGs handed over while Run is busy or not
// yet started are served, the last one last, without OnChange waiting.
func TestHandoffServesTheLatestDAG(t *testing.T) {
	srv, err := NewServer(ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handoff()
	first, last := sortedDAG(3), sortedDAG(5)
	h.OnChange(first) // before Run: kept
	h.OnChange(last)  // replaces it
	want := xdstest.Version(snapshot(t, last), resource.RouteType)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	testutil.Eventually(t, 10*time.Second, "the last DAG handed over is served", func() bool {
		d := srv.cache.data(resource.RouteType)
		return d != nil && d.version == want
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
