package controller

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
)

// lastApplied is kubectl's copy of the whole object as last applied: as big
// as the object, and never read here.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Trim is the transform of the informers that feed a Controller (set it
// with their factories' WithTransform): it drops what no part of proxyctl
// reads before an object is stored, so the caches hold less. It lives here
// because the controller decides which Secrets matter (usableSecret). Managed fields and
// kubectl's last-applied copy go from every object, and the data of Secrets
// that can never serve or validate TLS (tokens, Helm releases) is dropped:
// on a real cluster those are most of the bytes the caches would hold.
// Status writes are unaffected: the status subresource ignores metadata.
func Trim(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
		if a := m.GetAnnotations(); a[lastApplied] != "" {
			trimmed := make(map[string]string, len(a)-1)
			for k, v := range a {
				if k != lastApplied {
					trimmed[k] = v
				}
			}
			m.SetAnnotations(trimmed)
		}
	}
	if s, ok := obj.(*corev1.Secret); ok && !usableSecret(s) {
		s.Data, s.StringData = nil, nil
	}
	return obj, nil
}
