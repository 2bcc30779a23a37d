package certgen

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The files WriteFiles writes.
const (
	CACertFile     = "ca.crt"
	ServerCertFile = "proxyctl.crt"
	ServerKeyFile  = "proxyctl.key"
	ClientCertFile = "envoy.crt"
	ClientKeyFile  = "envoy.key"
)

// The Secrets WriteSecrets writes, of type kubernetes.io/tls with the CA
// under ca.crt, as the Deployment and the Envoy DaemonSet in examples/
// mount them.
const (
	ServerSecret = "proxyctl-cert"
	ClientSecret = "envoy-cert"
	CAKey        = "ca.crt"
)

// ErrExist is wrapped by the errors of WriteFiles and WriteSecrets when
// something to be written exists and overwrite is false.
var ErrExist = errors.New("already exists")

type file struct {
	name string
	data []byte
	mode os.FileMode
}

func (c *Certificates) files() []file {
	return []file{
		{CACertFile, c.CACert, 0o644},
		{ServerCertFile, c.ServerCert, 0o644},
		{ServerKeyFile, c.ServerKey, 0o600},
		{ClientCertFile, c.ClientCert, 0o644},
		{ClientKeyFile, c.ClientKey, 0o600},
	}
}

// WriteFiles writes the certificates and keys into dir, creating it if
// needed; keys are readable by the owner only. Unless overwrite is set, it
// writes nothing when any of the files exists. Each file is replaced by a
// rename, so a reader never sees half a file.
func WriteFiles(dir string, c *Certificates, overwrite bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("certgen: %w", err)
	}
	if !overwrite {
		var existing []string
		for _, f := range c.files() {
			p := filepath.Join(dir, f.name)
			_, err := os.Lstat(p)
			switch {
			case err == nil:
				existing = append(existing, p)
			case !errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("certgen: %w", err)
			}
		}
		if len(existing) > 0 {
			return fmt.Errorf("certgen: %w: %s (use --overwrite to replace)", ErrExist, strings.Join(existing, ", "))
		}
	}
	for _, f := range c.files() {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return fmt.Errorf("certgen: %w", err)
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	// CreateTemp makes the file 0600, so a key is never readable by others,
	// not even for a moment.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Secrets returns the two Secrets holding the certificates in namespace:
// ServerSecret for proxyctl and ClientSecret for Envoy.
func (c *Certificates) Secrets(namespace string) []*corev1.Secret {
	secret := func(name string, cert, key []byte) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name:      name,
				Namespace: namespace,
				Labels:    map[string]string{"app.kubernetes.io/managed-by": "proxyctl-certgen"},
			},
			Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{
				corev1.TLSCertKey:       cert,
				corev1.TLSPrivateKeyKey: key,
				CAKey:                   c.CACert,
			},
		}
	}
	return []*corev1.Secret{
		secret(ServerSecret, c.ServerCert, c.ServerKey),
		secret(ClientSecret, c.ClientCert, c.ClientKey),
	}
}

// WriteResult says what WriteSecrets did.
type WriteResult int

const (
	// Written: the Secrets were created or replaced.
	Written WriteResult = iota
	// Kept: both Secrets existed and overwrite was false; nothing was
	// written. Running certgen again (a Job retried, re-applied) is then
	// harmless.
	Kept
)

// WriteSecrets creates the Secrets in namespace, or replaces them if
// overwrite is set. Without overwrite, when both exist it writes nothing
// and returns Kept; when only one exists it writes nothing and fails, since
// a Secret signed by another CA than its peer would break mutual TLS.
func WriteSecrets(ctx context.Context, client kubernetes.Interface, namespace string, c *Certificates, overwrite bool) (WriteResult, error) {
	secrets := client.CoreV1().Secrets(namespace)
	want := c.Secrets(namespace)
	current := make([]*corev1.Secret, len(want))
	var existing []string
	for i, s := range want {
		got, err := secrets.Get(ctx, s.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			// A Secret of another type cannot be updated into a TLS one;
			// find out before anything is written.
			if got.Type != s.Type {
				return Written, fmt.Errorf("certgen: Secret %s/%s is of type %q, not %q; delete it first", namespace, s.Name, got.Type, s.Type)
			}
			current[i] = got
			existing = append(existing, namespace+"/"+s.Name)
		case !apierrors.IsNotFound(err):
			return Written, fmt.Errorf("certgen: get Secret %s/%s: %w", namespace, s.Name, err)
		}
	}
	if !overwrite && len(existing) == len(want) {
		return Kept, nil
	}
	if !overwrite && len(existing) > 0 {
		return Written, fmt.Errorf("certgen: Secret %s %w but its peer does not; use --overwrite to replace both", strings.Join(existing, ", "), ErrExist)
	}
	for i, s := range want {
		if current[i] == nil {
			if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
				return Written, fmt.Errorf("certgen: create Secret %s/%s: %w", namespace, s.Name, err)
			}
			continue
		}
		update := current[i].DeepCopy()
		if update.Labels == nil {
			update.Labels = map[string]string{}
		}
		for k, v := range s.Labels {
			update.Labels[k] = v
		}
		update.Data = s.Data
		update.StringData = nil
		if _, err := secrets.Update(ctx, update, metav1.UpdateOptions{}); err != nil {
			return Written, fmt.Errorf("certgen: update Secret %s/%s: %w", namespace, s.Name, err)
		}
	}
	return Written, nil
}
