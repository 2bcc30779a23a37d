package ratelimit

import (
	"context"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	ratelimitcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rls "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/proxyctl/proxyctl/test/netns"
)

// The harness runs a service that really counts: the third request of a
// descriptor limited to two per minute is over the limit, another
// descriptor is not, and after Flush the count starts again.
func TestServiceLimits(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	ns := netns.New(t)
	s := Start(t, ns, `
domain: test
descriptors:
  - key: generic_key
    value: two
    rate_limit: {unit: minute, requests_per_unit: 2}
`)
	ip, port := s.Addr()
	conn, err := grpc.NewClient("passthrough:///"+net.JoinHostPort(ip, strconv.Itoa(int(port))),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return ns.Dial("tcp", addr) }))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := rls.NewRateLimitServiceClient(conn)
	ask := func(value string) rls.RateLimitResponse_Code {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := client.ShouldRateLimit(ctx, &rls.RateLimitRequest{Domain: "test", Descriptors: []*ratelimitcommon.RateLimitDescriptor{{
			Entries: []*ratelimitcommon.RateLimitDescriptor_Entry{{Key: "generic_key", Value: value}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetOverallCode()
	}
	// A minute boundary between the requests resets the count: start over
	// in the new minute.
	for attempt := 0; ; attempt++ {
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		got := []rls.RateLimitResponse_Code{ask("two"), ask("two"), ask("two"), ask("other")}
		want := []rls.RateLimitResponse_Code{rls.RateLimitResponse_OK, rls.RateLimitResponse_OK, rls.RateLimitResponse_OVER_LIMIT, rls.RateLimitResponse_OK}
		if slices.Equal(got, want) {
			return
		}
		if attempt > 0 || start.Truncate(time.Minute).Equal(time.Now().Truncate(time.Minute)) {
			t.Fatalf("codes %v, want %v", got, want)
		}
	}
}
