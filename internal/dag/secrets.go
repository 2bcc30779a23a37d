package dag

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// tlsSecret returns the serving certificate in Secret key: a
// kubernetes.io/tls Secret whose tls.crt and tls.key form a key pair.
func (b *rootBuild) tlsSecret(key types.NamespacedName) (*Secret, error) {
	return b.bl.sharedSecret(key, b.secret(key))
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

// Keys of the Secrets that hold CA bundles and revocation lists, as in
// Contour.
const (
	caCertKey = "ca.crt"
	crlKey    = "crl.pem"
)

// errNotDelegated is a Secret of another namespace that no
// TLSCertificateDelegation shares with the proxy's.
var errNotDelegated = errors.New("certificate delegation not permitted")

// secretRefError is a Secret reference that cannot name a Secret.
type secretRefError struct{ ref string }

func (e *secretRefError) Error() string { return fmt.Sprintf("%q is not a valid secret name", e.ref) }

// refSecret resolves a Secret reference written in an object of
// namespace ns: "name" in ns, or "namespace/name" when that namespace
// delegates it to ns. The Secret is nil when it does not exist; the error
// is a *secretRefError.
func (r *reads) refSecret(ns, ref string) (types.NamespacedName, *corev1.Secret, error) {
	name := ref
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		ns, name = ref[:i], ref[i+1:]
	}
	if ns == "" || name == "" || strings.Contains(name, "/") {
		return types.NamespacedName{}, nil, &secretRefError{ref: ref}
	}
	key := types.NamespacedName{Namespace: ns, Name: name}
	return key, r.secret(key), nil
}

// caSecret returns the CA bundle of the Secret ref names for an object of
// namespace ns, or why it cannot be used: a *secretRefError,
// errNotDelegated, or an error saying what is wrong with the Secret.
func (r *reads) caSecret(ns, ref string) (types.NamespacedName, []byte, error) {
	return r.pemSecret(ns, ref, validateCASecret)
}

// crlSecret is caSecret for a certificate revocation list.
func (r *reads) crlSecret(ns, ref string) (types.NamespacedName, []byte, error) {
	return r.pemSecret(ns, ref, validateCRLSecret)
}

func (r *reads) pemSecret(ns, ref string, validate func(*corev1.Secret) ([]byte, error)) (types.NamespacedName, []byte, error) {
	key, s, err := r.refSecret(ns, ref)
	if err != nil {
		return key, nil, err
	}
	if key.Namespace != ns && !r.delegated(key, ns) {
		return key, nil, errNotDelegated
	}
	data, err := validate(s)
	return key, data, err
}

// validateCASecret returns the ca.crt of a kubernetes.io/tls or Opaque
// Secret: PEM certificates only, each of which parses, so that Envoy
// never rejects the configuration it is put in.
func validateCASecret(s *corev1.Secret) ([]byte, error) {
	data, err := secretKey(s, caCertKey)
	if err != nil {
		return nil, err
	}
	n, err := pemBlocks(data, "CERTIFICATE", false, func(der []byte) error {
		_, err := x509.ParseCertificate(der)
		return err
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("invalid CA certificate bundle: %v", err)
	case n == 0:
		return nil, errors.New("invalid CA certificate bundle: failed to locate certificate")
	}
	return data, nil
}

// validateCRLSecret returns the crl.pem of a kubernetes.io/tls or Opaque
// Secret: at least one PEM "X509 CRL", each of which parses.
func validateCRLSecret(s *corev1.Secret) ([]byte, error) {
	data, err := secretKey(s, crlKey)
	if err != nil {
		return nil, err
	}
	n, err := pemBlocks(data, "X509 CRL", true, func(der []byte) error {
		if _, err := x509.ParseRevocationList(der); err != nil {
			return fmt.Errorf("invalid CRL: %v", err)
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case n == 0:
		return nil, errors.New("failed to locate CRL")
	}
	return data, nil
}

// pemBlocks parses every PEM block of data of type typ with parse and
// counts them. A block of another type is skipped when others is true,
// else an error; data that is not PEM is an error.
func pemBlocks(data []byte, typ string, others bool, parse func(der []byte) error) (int, error) {
	n := 0
	for rest := data; len(bytes.TrimSpace(rest)) > 0; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		switch {
		case block == nil:
			return n, errors.New("failed to parse PEM block")
		case block.Type != typ && others:
			continue
		case block.Type != typ:
			return n, fmt.Errorf("unexpected block type %q", block.Type)
		}
		if err := parse(block.Bytes); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// secretKey returns the non-empty value of key in a kubernetes.io/tls or
// Opaque Secret, with Contour's messages.
func secretKey(s *corev1.Secret, key string) ([]byte, error) {
	if s == nil {
		return nil, errors.New("Secret not found")
	}
	if s.Type != corev1.SecretTypeTLS && s.Type != corev1.SecretTypeOpaque && s.Type != "" {
		return nil, fmt.Errorf("secret type is not %q or %q", corev1.SecretTypeTLS, corev1.SecretTypeOpaque)
	}
	if len(s.Data[key]) == 0 {
		return nil, fmt.Errorf("empty %q key", key)
	}
	return s.Data[key], nil
}

// subjectNames returns the names an upstream's certificate may have,
// subjectName first, or what is wrong with the validation's names.
func subjectNames(v *contourv1.UpstreamValidation) ([]string, error) {
	if v.SubjectName == "" {
		return nil, errors.New("missing subject alternative name")
	}
	if len(v.SubjectNames) == 0 {
		return []string{v.SubjectName}, nil
	}
	if v.SubjectNames[0] != v.SubjectName {
		return nil, fmt.Errorf("first entry of SubjectNames (%s) does not match SubjectName (%s)", v.SubjectNames[0], v.SubjectName)
	}
	return slices.Clone(v.SubjectNames), nil
}
