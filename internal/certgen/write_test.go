package certgen

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	c := generate(t, Options{})
	if err := WriteFiles(dir, c, false); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	want := map[string]struct {
		data []byte
		mode os.FileMode
	}{
		"ca.crt":       {c.CACert, 0o644},
		"proxyctl.crt": {c.ServerCert, 0o644},
		"proxyctl.key": {c.ServerKey, 0o600},
		"envoy.crt":    {c.ClientCert, 0o644},
		"envoy.key":    {c.ClientKey, 0o600},
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Errorf("%d files in %s, want %d (no temporary files left)", len(entries), dir, len(want))
	}
	for name, w := range want {
		p := filepath.Join(dir, name)
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, w.data) {
			t.Errorf("%s: wrong content", name)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != w.mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), w.mode)
		}
	}

	// A second run refuses and leaves everything as it was.
	again := generate(t, Options{})
	err = WriteFiles(dir, again, false)
	if !errors.Is(err, ErrExist) {
		t.Fatalf("second WriteFiles: %v, want ErrExist", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); !bytes.Equal(got, c.CACert) {
		t.Errorf("ca.crt changed although overwrite was off")
	}

	// One existing file is enough to refuse.
	lone := t.TempDir()
	if err := os.WriteFile(filepath.Join(lone, "envoy.key"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(lone, again, false); !errors.Is(err, ErrExist) {
		t.Errorf("WriteFiles over one existing file: %v, want ErrExist", err)
	}
	if _, err := os.Stat(filepath.Join(lone, "ca.crt")); !os.IsNotExist(err) {
		t.Errorf("WriteFiles wrote ca.crt although it refused: %v", err)
	}

	// With overwrite it replaces them.
	if err := WriteFiles(dir, again, true); err != nil {
		t.Fatalf("WriteFiles with overwrite: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "envoy.key")); !bytes.Equal(got, again.ClientKey) {
		t.Errorf("envoy.key not replaced")
	}
}

func secretData(t *testing.T, client *fake.Clientset, ns, name string) *corev1.Secret {
	t.Helper()
	s, err := client.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWriteSecrets(t *testing.T) {
	ctx := context.Background()
	const ns = "proxyctl"
	client := fake.NewClientset()
	c := generate(t, Options{})

	res, err := WriteSecrets(ctx, client, ns, c, false)
	if err != nil || res != Written {
		t.Fatalf("WriteSecrets: %v, %v", res, err)
	}
	for name, pair := range map[string][2][]byte{"proxyctl-cert": {c.ServerCert, c.ServerKey}, "envoy-cert": {c.ClientCert, c.ClientKey}} {
		s := secretData(t, client, ns, name)
		if s.Type != corev1.SecretTypeTLS {
			t.Errorf("%s: type %q", name, s.Type)
		}
		if !bytes.Equal(s.Data["tls.crt"], pair[0]) || !bytes.Equal(s.Data["tls.key"], pair[1]) || !bytes.Equal(s.Data["ca.crt"], c.CACert) {
			t.Errorf("%s: wrong data", name)
		}
	}

	// Both exist: kept, nothing written.
	again := generate(t, Options{})
	client.ClearActions()
	res, err = WriteSecrets(ctx, client, ns, again, false)
	if err != nil || res != Kept {
		t.Fatalf("WriteSecrets over existing Secrets: %v, %v, want Kept", res, err)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() != "get" {
			t.Errorf("unexpected %s %s without overwrite", a.GetVerb(), a.GetResource().Resource)
		}
	}

	// Overwrite replaces both, keeping labels others set.
	s := secretData(t, client, ns, "envoy-cert")
	s.Labels["team"] = "edge"
	if _, err := client.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = WriteSecrets(ctx, client, ns, again, true)
	if err != nil || res != Written {
		t.Fatalf("WriteSecrets with overwrite: %v, %v", res, err)
	}
	s = secretData(t, client, ns, "envoy-cert")
	if !bytes.Equal(s.Data["ca.crt"], again.CACert) || !bytes.Equal(s.Data["tls.key"], again.ClientKey) {
		t.Errorf("envoy-cert not replaced")
	}
	if s.Labels["team"] != "edge" || s.Labels["app.kubernetes.io/managed-by"] != "proxyctl-certgen" {
		t.Errorf("labels %v", s.Labels)
	}
	if !bytes.Equal(secretData(t, client, ns, "proxyctl-cert").Data["ca.crt"], again.CACert) {
		t.Errorf("proxyctl-cert not replaced")
	}
}

func TestWriteSecretsOnlyOneExists(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "proxyctl", Name: "proxyctl-cert"},
		Type:       corev1.SecretTypeTLS,
	})
	c := generate(t, Options{})
	if _, err := WriteSecrets(ctx, client, "proxyctl", c, false); !errors.Is(err, ErrExist) {
		t.Fatalf("WriteSecrets: %v, want ErrExist", err)
	}
	if _, err := client.CoreV1().Secrets("proxyctl").Get(ctx, "envoy-cert", metav1.GetOptions{}); err == nil {
		t.Errorf("envoy-cert created although WriteSecrets failed")
	}
	if _, err := WriteSecrets(ctx, client, "proxyctl", c, true); err != nil {
		t.Fatalf("WriteSecrets with overwrite: %v", err)
	}
	if s := secretData(t, client, "proxyctl", "envoy-cert"); !bytes.Equal(s.Data["ca.crt"], c.CACert) {
		t.Errorf("envoy-cert not written")
	}
}

func TestWriteSecretsWrongType(t *testing.T) {
	client := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "proxyctl", Name: "envoy-cert"},
		Type:       corev1.SecretTypeOpaque,
	})
	if _, err := WriteSecrets(context.Background(), client, "proxyctl", generate(t, Options{}), true); err == nil {
		t.Errorf("WriteSecrets replaced an Opaque Secret")
	}
	if _, err := client.CoreV1().Secrets("proxyctl").Get(context.Background(), "proxyctl-cert", metav1.GetOptions{}); err == nil {
		t.Errorf("proxyctl-cert created although WriteSecrets failed")
	}
}
