package cluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// UserAgent is the user agent of the admin rest.Config, so the harness's own
// requests can be told apart from the controller's in audit logs.
const UserAgent = "proxyctl-test-cluster"

// BinDirEnv names the environment variable that overrides the default
// directory of the binaries.
const BinDirEnv = "PROXYCTL_TEST_BIN_DIR"

// Options configures a Cluster. The zero value is a cluster with the
// project's CRDs from <repo>/examples/crds installed and no audit log.
type Options struct {
	// RepoRoot is the directory holding the proxyctl go.mod. Default: found
	// by walking up from the working directory.
	RepoRoot string
	// BinDir holds etcd, kube-apiserver and kubectl. Default: the value of
	// $PROXYCTL_TEST_BIN_DIR if set (to test against other builds), else
	// <RepoRoot>/bin.
	BinDir string
	// CRDDir is the directory whose *.yaml files are applied after the API
	// server is ready. Default: <RepoRoot>/examples/crds. It must contain at
	// least one *.yaml file unless SkipCRDs is set.
	CRDDir string
	// SkipCRDs installs no CRDs.
	SkipCRDs bool
	// AuditLog turns on the API server's audit log (see Cluster.AuditLogPath).
	AuditLog bool
	// AuditPolicy is the audit policy YAML used when AuditLog is set.
	// Default: DefaultAuditPolicy.
	AuditPolicy string
	// APIServerFlags are appended to the kube-apiserver command line; a flag
	// given here overrides the harness's own value.
	APIServerFlags []string
	// StartTimeout bounds how long each component may take to become ready.
	// Default: 90s.
	StartTimeout time.Duration
}

// Option changes Options; used with Start.
type Option func(*Options)

// WithCRDDir installs the *.yaml manifests of dir instead of the default
// <repo>/examples/crds.
func WithCRDDir(dir string) Option { return func(o *Options) { o.CRDDir = dir } }

// WithoutCRDs installs no CRDs.
func WithoutCRDs() Option { return func(o *Options) { o.SkipCRDs = true } }

// WithAuditLog turns on the audit log with DefaultAuditPolicy.
func WithAuditLog() Option { return func(o *Options) { o.AuditLog = true } }

// WithAuditPolicy turns on the audit log with the given policy YAML.
func WithAuditPolicy(policy string) Option {
	return func(o *Options) { o.AuditLog, o.AuditPolicy = true, policy }
}

// Cluster is a running etcd and kube-apiserver.
type Cluster struct {
	// Config authenticates as an admin (group system:masters) with no client
	// side rate limit and UserAgent as user agent. Do not modify it; use
	// RESTConfig for a copy.
	Config *rest.Config
	// Client is a clientset built from Config.
	Client kubernetes.Interface
	// Kubeconfig is the path of a kubeconfig file with the same credentials,
	// for subprocesses such as proxyctl replicas and kubectl.
	Kubeconfig string
	// Host is the API server URL, https://127.0.0.1:<port>.
	Host string
	// AuditLogPath is the JSON-lines audit log, or "" if auditing is off.
	AuditLogPath string
	// StartupTime is how long New took, CRD installation included.
	StartupTime time.Duration

	opts    Options
	bins    binaries
	dir     string // everything below is removed by Stop
	logDir  string
	etcdURL string
	apiPort int

	mu            sync.Mutex
	etcd          *process
	apiserver     *process
	apiserverArgv []string
	stopped       bool
}

// Start starts a cluster for t and stops it when t ends; when t failed, the
// last lines of each component's log are printed first. Start fails t if the
// cluster does not come up.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	t.Logf("cluster: %s ready in %v (logs in %s)", c.Host, c.StartupTime.Round(time.Millisecond), c.logDir)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster: last lines of the component logs:\n%s", c.logTails(tailLines))
		}
		if err := c.Stop(); err != nil {
			t.Errorf("cluster: stop: %v", err)
		}
	})
	return c
}

// New starts a cluster. The caller must call Stop.
func New(opts Options) (*Cluster, error) {
	began := time.Now()
	if err := opts.complete(); err != nil {
		return nil, err
	}
	bins, err := findBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	if !opts.SkipCRDs {
		// Fail before spending seconds on a start.
		if _, err := crdFiles(opts.CRDDir); err != nil {
			return nil, err
		}
	}
	// Ports are picked before the processes bind them, so another process may
	// take one in between; start again on fresh ports when that happens.
	for attempt := 1; ; attempt++ {
		c, err := start(opts, bins)
		if err == nil {
			c.StartupTime = time.Since(began)
			return c, nil
		}
		if !errors.Is(err, errPortInUse) || attempt == 3 {
			return nil, err
		}
	}
}

func (o *Options) complete() error {
	if o.RepoRoot == "" {
		root, err := FindRepoRoot()
		if err != nil {
			return err
		}
		o.RepoRoot = root
	}
	if o.BinDir == "" {
		o.BinDir = os.Getenv(BinDirEnv)
	}
	if o.BinDir == "" {
		o.BinDir = filepath.Join(o.RepoRoot, "bin")
	}
	if o.CRDDir == "" {
		o.CRDDir = filepath.Join(o.RepoRoot, "examples", "crds")
	}
	if o.AuditPolicy == "" {
		o.AuditPolicy = DefaultAuditPolicy
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 90 * time.Second
	}
	return nil
}

func start(opts Options, bins binaries) (_ *Cluster, err error) {
	dir, err := os.MkdirTemp("", "proxyctl-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, bins: bins, dir: dir, logDir: filepath.Join(dir, "logs")}
	defer func() {
		if err != nil {
			tails := c.logTails(tailLines)
			if stopErr := c.Stop(); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
			err = fmt.Errorf("%w\nlast lines of the component logs:\n%s", err, tails)
		}
	}()
	if err := os.Mkdir(c.logDir, 0o755); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	c.apiPort = ports[2]
	c.Host = fmt.Sprintf("https://127.0.0.1:%d", c.apiPort)

	// etcd and the API server start together: the API server retries its
	// etcd connections, and its own initialisation overlaps etcd's.
	if err := c.startEtcd(ports[0], ports[1]); err != nil {
		return nil, err
	}
	if err := c.writeServiceAccountKey(); err != nil {
		return nil, err
	}
	ready, err := c.launchAPIServerFirstTime()
	if err != nil {
		return nil, err
	}
	// etcd first: if it cannot start, the API server never gets ready.
	if err := c.waitForEtcd(); err != nil {
		return nil, err
	}
	if err := c.waitForAPIServerFirstTime(ready); err != nil {
		return nil, err
	}
	if !opts.SkipCRDs {
		if err := c.InstallCRDs(opts.CRDDir); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// RESTConfig returns a copy of Config for the caller to change (user agent,
// QPS, impersonation...).
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.Config) }

// Dir is the directory holding the cluster's data, certificates and logs. It
// is removed by Stop.
func (c *Cluster) Dir() string { return c.dir }

// Stop stops the API server and etcd, waits for them to exit and removes
// their data. It may be called more than once.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	var errs []error
	if c.apiserver != nil {
		errs = append(errs, c.apiserver.stop(apiserverStopGrace))
		c.apiserver = nil
	}
	if c.etcd != nil {
		errs = append(errs, c.etcd.stop(etcdStopGrace))
		c.etcd = nil
	}
	errs = append(errs, os.RemoveAll(c.dir))
	return errors.Join(errs...)
}

// DumpLogs writes the last lines of each component's log to w, for callers of
// New (a failed TestMain, say); Start does it by itself when a test fails.
// Call it before Stop, which removes the logs.
func (c *Cluster) DumpLogs(w io.Writer, lines int) error {
	_, err := io.WriteString(w, c.logTails(lines))
	return err
}
