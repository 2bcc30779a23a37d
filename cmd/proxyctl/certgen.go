package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/proxyctl/proxyctl/internal/build"
	"github.com/proxyctl/proxyctl/internal/certgen"
)

// certgenTimeout bounds the Kubernetes calls of `certgen --kube`.
const certgenTimeout = time.Minute

// certgenContext holds the arguments of `proxyctl certgen`.
type certgenContext struct {
	outputDir  string
	kube       bool
	kubeconfig string
	// kubeconfigSet: --kubeconfig was on the command line (not only in
	// $KUBECONFIG).
	kubeconfigSet bool
	inCluster     bool
	namespace     string
	dnsNames      []string
	lifetime      time.Duration
	overwrite     bool

	// stdout gets one line per thing written; os.Stdout unless a test
	// replaces it.
	stdout io.Writer
	// newClient builds the Kubernetes client for --kube; tests replace it.
	newClient func(c *certgenContext) (kubernetes.Interface, error)
}

func registerCertgen(app *kingpin.Application) (*kingpin.CmdClause, *certgenContext) {
	ctx := &certgenContext{stdout: os.Stdout, newClient: certgenClient}
	cmd := app.Command("certgen", "Make a CA, proxyctl's xDS server certificate and Envoy's client certificate for xDS mutual TLS, "+
		"and write them to files (--output-dir) or to the Kubernetes Secrets "+certgen.ServerSecret+" and "+certgen.ClientSecret+" (--kube).")
	cmd.Flag("output-dir", "Write "+strings.Join([]string{certgen.CACertFile, certgen.ServerCertFile, certgen.ServerKeyFile, certgen.ClientCertFile, certgen.ClientKeyFile}, ", ")+" into this directory.").
		PlaceHolder("DIR").StringVar(&ctx.outputDir)
	cmd.Flag("kube", "Write the Secrets "+certgen.ServerSecret+" and "+certgen.ClientSecret+" (type kubernetes.io/tls, with ca.crt) in --namespace.").BoolVar(&ctx.kube)
	cmd.Flag("kubeconfig", "Path to a kubeconfig file (with --kube).").Envar("KUBECONFIG").IsSetByUser(&ctx.kubeconfigSet).StringVar(&ctx.kubeconfig)
	cmd.Flag("incluster", "Use the in-cluster service account (with --kube).").BoolVar(&ctx.inCluster)
	cmd.Flag("namespace", "Namespace proxyctl runs in: where --kube writes the Secrets, and part of the default DNS names.").
		Envar("POD_NAMESPACE").Default(certgen.DefaultNamespace).StringVar(&ctx.namespace)
	cmd.Flag("dns-name", "DNS name of the xDS server certificate; repeat for more. Default: proxyctl, proxyctl.NAMESPACE, "+
		"proxyctl.NAMESPACE.svc, proxyctl.NAMESPACE.svc.cluster.local and localhost. The certificate always carries IP 127.0.0.1.").
		StringsVar(&ctx.dnsNames)
	cmd.Flag("lifetime", "How long the certificates are valid.").Default(certgen.DefaultLifetime.String()).DurationVar(&ctx.lifetime)
	cmd.Flag("overwrite", "Replace existing files or Secrets.").BoolVar(&ctx.overwrite)
	return cmd, ctx
}

// validate turns flag values that cannot be run into usage errors.
func (c *certgenContext) validate() error {
	switch {
	case c.outputDir == "" && !c.kube:
		return usagef("certgen needs --output-dir or --kube")
	case c.outputDir != "" && c.kube:
		return usagef("--output-dir and --kube cannot be used together")
	case !c.kube && (c.inCluster || c.kubeconfigSet):
		return usagef("--kubeconfig and --incluster need --kube")
	case c.inCluster && c.kubeconfigSet:
		return usagef("--kubeconfig and --incluster cannot be used together")
	case c.lifetime <= 0:
		return usagef("--lifetime must be positive, got %v", c.lifetime)
	}
	if errs := validation.IsDNS1123Label(c.namespace); len(errs) > 0 {
		return usagef("--namespace %q: %s", c.namespace, strings.Join(errs, "; "))
	}
	for _, name := range c.dnsNames {
		// An IP address in a DNS name SAN matches nothing.
		if net.ParseIP(name) != nil {
			return usagef("--dns-name %q is an IP address; the certificate carries 127.0.0.1 only", name)
		}
		wildcard := strings.TrimPrefix(name, "*.")
		if errs := validation.IsDNS1123Subdomain(wildcard); len(errs) > 0 {
			return usagef("--dns-name %q: %s", name, strings.Join(errs, "; "))
		}
	}
	return nil
}

func (c *certgenContext) run() error {
	if err := c.validate(); err != nil {
		return err
	}
	certs, err := certgen.Generate(certgen.Options{
		Namespace: c.namespace,
		DNSNames:  c.dnsNames,
		Lifetime:  c.lifetime,
	})
	if err != nil {
		return err
	}
	if !c.kube {
		if err := certgen.WriteFiles(c.outputDir, certs, c.overwrite); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "certgen: wrote %s, %s, %s, %s and %s in %s\n", certgen.CACertFile,
			certgen.ServerCertFile, certgen.ServerKeyFile, certgen.ClientCertFile, certgen.ClientKeyFile, c.outputDir)
		return nil
	}
	client, err := c.newClient(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), certgenTimeout)
	defer cancel()
	res, err := certgen.WriteSecrets(ctx, client, c.namespace, certs, c.overwrite)
	if err != nil {
		return err
	}
	switch res {
	case certgen.Kept:
		fmt.Fprintf(c.stdout, "certgen: Secrets %s/%s and %s/%s exist, kept them (use --overwrite to replace)\n",
			c.namespace, certgen.ServerSecret, c.namespace, certgen.ClientSecret)
	default:
		fmt.Fprintf(c.stdout, "certgen: wrote Secrets %s/%s and %s/%s\n",
			c.namespace, certgen.ServerSecret, c.namespace, certgen.ClientSecret)
	}
	return nil
}

// certgenClient builds a client from --incluster or --kubeconfig (the
// usual loading rules when it is empty).
func certgenClient(c *certgenContext) (kubernetes.Interface, error) {
	cfg, err := restConfig(c.kubeconfig, c.inCluster)
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = fmt.Sprintf("proxyctl/%s certgen", build.Get().Version)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return client, nil
}
