package dag

import (
	"crypto/tls"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// secretResult is a validated Secret (or why it cannot be served),
// computed once per Build however many virtual hosts use it.
type secretResult struct {
	secret *Secret
	err    error
}

// tlsSecret returns the serving certificate in Secret key: a
// kubernetes.io/tls Secret whose tls.crt and tls.key form a key pair.
func (b *builder) tlsSecret(key types.NamespacedName) (*Secret, error) {
	if r, ok := b.secrets[key]; ok {
		return r.secret, r.err
	}
	sec, err := validateTLSSecret(b.objs.Secrets[key])
	b.secrets[key] = secretResult{secret: sec, err: err}
	if sec != nil {
		sec.Name = key.String()
	}
	return sec, err
}

func validateTLSSecret(s *corev1.Secret) (*Secret, error) {
	if s == nil {
		return nil, errors.New("secret not found")
	}
	if s.Type != corev1.SecretTypeTLS {
		return nil, fmt.Errorf("type is %q, want %q", s.Type, corev1.SecretTypeTLS)
	}
	cert, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	if len(cert) == 0 || len(key) == 0 {
		return nil, fmt.Errorf("%s and %s must both be present", corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		return nil, fmt.Errorf("%s and %s are not a valid certificate and key pair: %v", corev1.TLSCertKey, corev1.TLSPrivateKeyKey, err)
	}
	return &Secret{Cert: cert, Key: key}, nil
}
