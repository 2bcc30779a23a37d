package main

import (
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	"github.com/proxyctl/proxyctl/internal/build"
	"github.com/proxyctl/proxyctl/internal/leader"
)

// clients are the Kubernetes clients of one replica. The election and the
// status writer each have their own, with their own client-side rate
// limiter: a burst of status writes can never delay a Lease renewal, nor the
// informers' lists and watches, and the audit log tells the three apart.
type clients struct {
	config   *rest.Config
	kube     kubernetes.Interface
	contour  versioned.Interface
	status   versioned.Interface
	election kubernetes.Interface
}

func replicaIdentity() (string, error) {
	return leader.Identity(os.Getenv("POD_NAME"), os.Hostname)
}

// userAgent names the replica in every request, so the API server's audit
// log shows which replica did what.
func userAgent(identity, component string) string {
	return fmt.Sprintf("proxyctl/%s (%s) %s", build.Get().Version, identity, component)
}

// restConfig loads the client configuration from the in-cluster service
// account or from a kubeconfig (the usual loading rules when it is empty).
func restConfig(kubeconfig string, inCluster bool) (*rest.Config, error) {
	if inCluster {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster Kubernetes config: %w", err)
		}
		return cfg, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %q: %w", kubeconfig, err)
	}
	return cfg, nil
}

func newClients(s *serveContext, identity string) (*clients, error) {
	cfg, err := restConfig(s.kubeconfig, s.inCluster)
	if err != nil {
		return nil, err
	}
	cfg.QPS = s.clientQPS
	cfg.Burst = s.clientBurst
	cfg.UserAgent = userAgent(identity, "controller")
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}

	contour, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("projectcontour.io client: %w", err)
	}

	scfg := rest.CopyConfig(cfg)
	scfg.UserAgent = userAgent(identity, "status")
	status, err := versioned.NewForConfig(scfg)
	if err != nil {
		return nil, fmt.Errorf("status client: %w", err)
	}

	ecfg := rest.CopyConfig(cfg)
	ecfg.UserAgent = userAgent(identity, "leader-election")
	// A request that hangs must fail well before the renew deadline, or one
	// slow call would cost the leadership.
	ecfg.Timeout = s.election.renewDeadline / 2
	election, err := kubernetes.NewForConfig(ecfg)
	if err != nil {
		return nil, fmt.Errorf("leader election client: %w", err)
	}
	return &clients{config: cfg, kube: kube, contour: contour, status: status, election: election}, nil
}
