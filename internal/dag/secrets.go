package dag

import (
	"crypto/tls"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// secretEntry is the validated Secret of one key (or why it cannot be
// served), shared by every root that serves it, and kept while its
// *corev1.Secret is: validating a key pair is costly.
type secretEntry struct {
	src  *corev1.Secret
	sec  *Secret
	err  error
	refs int // memo entries whose virtual host serves the secret
}

// tlsSecret returns the serving certificate in Secret key: a
// kubernetes.io/tls Secret whose tls.crt and tls.key form a key pair.
func (b *rootBuild) tlsSecret(key types.NamespacedName) (*Secret, error) {
	src := b.secret(key)
	bl := b.bl
	se := bl.secrets[key]
	if se == nil || se.src != src {
		// Every root serving the old one read the old pointer: none of
		// them is reused, so none keeps the old *Secret.
		sec, err := validateTLSSecret(src)
		if sec != nil {
			sec.Name = key.String()
		}
		if se == nil {
			se = &secretEntry{}
			bl.secrets[key] = se
		}
		se.src, se.sec, se.err = src, sec, err
		bl.ch.secret(key)
	}
	if se.sec != nil {
		b.rec.secret = key
	}
	return se.sec, se.err
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
