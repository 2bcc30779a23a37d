package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// kubectlTimeout bounds one kubectl run.
const kubectlTimeout = 2 * time.Minute

// Kubectl runs bin/kubectl with the cluster's kubeconfig and returns its
// standard output. The error includes the standard error.
func (c *Cluster) Kubectl(args ...string) (string, error) {
	return c.KubectlInput(nil, args...)
}

// KubectlInput is Kubectl with stdin as kubectl's standard input, as for
// `kubectl apply -f -`.
func (c *Cluster) KubectlInput(stdin io.Reader, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	defer cancel()
	full := append([]string{
		"--kubeconfig=" + c.Kubeconfig,
		// A discovery cache of its own: another cluster may have used the
		// same port before.
		"--cache-dir=" + c.path("kubectl-cache"),
	}, args...)
	cmd := exec.CommandContext(ctx, c.bins.kubectl, full...)
	// KUBERC=off: the user's ~/.kube/kuberc (aliases, default flags) must not
	// change what tests run.
	cmd.Env = childEnv([]string{"KUBECONFIG=", "KUBERC="}, "KUBERC=off")
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
