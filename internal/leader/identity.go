package leader

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Identity picks this replica's name in the election. In Kubernetes it is the
// pod name, so that a restarted container that still holds the Lease renews
// it at once instead of waiting for it to expire; elsewhere the hostname with
// a random suffix, so that two processes on one host never share a name.
func Identity(podName string, hostname func() (string, error)) (string, error) {
	if podName != "" {
		return podName, nil
	}
	host, err := hostname()
	if err != nil {
		return "", fmt.Errorf("leader: no POD_NAME and no hostname: %w", err)
	}
	suffix := make([]byte, 3)
	if _, err := rand.Read(suffix); err != nil {
		return "", fmt.Errorf("leader: random identity suffix: %w", err)
	}
	return host + "-" + hex.EncodeToString(suffix), nil
}
