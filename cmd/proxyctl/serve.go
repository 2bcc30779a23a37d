package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/build"
	"github.com/proxyctl/proxyctl/internal/config"
	"github.com/proxyctl/proxyctl/internal/controller"
	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/httpserver"
	"github.com/proxyctl/proxyctl/internal/metrics"
	"github.com/proxyctl/proxyctl/internal/rungroup"
	"github.com/proxyctl/proxyctl/internal/xds"
)

// serveContext holds the flags of `proxyctl serve`.
type serveContext struct {
	kubeconfig  string
	inCluster   bool
	clientQPS   float32
	clientBurst int

	httpAddress  string
	httpPort     int
	debugAddress string

	xds   xdsFlags
	envoy envoyFlags
	// envoyService is the Service in front of Envoy, whose
	// status.loadBalancer every HTTPProxy shows.
	envoyService envoyServiceFlags

	rootNamespaces    []string
	watchNamespaces   []string
	ingressClassNames []string
	// fallbackCertificate is "namespace/name" of the fallback certificate
	// Secret, or empty; fallbackKey is it parsed by validate.
	fallbackCertificate string
	fallbackKey         types.NamespacedName

	election electionFlags

	// global are Contour's cluster-wide settings of traffic.
	global globalFlags
	// rateLimit is the global rate limit service; rateLimitService is
	// its ExtensionService, parsed by validate; rateLimitFilter what the
	// filter takes from it, read at start-up.
	rateLimit        rateLimitSettings
	rateLimitService types.NamespacedName
	rateLimitFilter  xds.RateLimitService
	// globalAuth is the file's globalExtAuth, the DAG's default
	// authorization server; globalAuthFilter what the HTTP listener and
	// the fallback chain check with, read at start-up.
	globalAuth       *contourv1.AuthorizationServer
	globalAuthFilter *dag.ExternalAuthorization

	logFormat string
	debug     bool

	// configPath is --config-path; settings is the file read (or the
	// defaults), fileKeys the flags that have a key in it.
	configPath string
	settings   *config.Parameters
	fileKeys   []*fileKey
}

type xdsFlags struct {
	address  string
	port     int
	caFile   string
	certFile string
	keyFile  string
	insecure bool
}

// envoyFlags say where Envoy's own listeners bind, inside Envoy.
type envoyFlags struct {
	address             string
	httpPort            int
	httpsPort           int
	numTrustedHops      uint32
	disableMergeSlashes bool
	useProxyProtocol    bool
	// accessLogFormat is json or envoy; the paths are the files of the
	// HTTP and HTTPS listeners' access logs.
	accessLogFormat               string
	httpAccessLog, httpsAccessLog string
}

// globalFlags are cluster-wide settings Contour reads from its
// configuration file, under the same names.
type globalFlags struct {
	// enableExternalNameService is Contour's enableExternalNameService.
	enableExternalNameService bool
	// disablePermitInsecure is Contour's disablePermitInsecure.
	disablePermitInsecure bool
	// tls is Contour's tls: protocol versions, cipher suites, curves.
	tls xds.TLSParameters
	// dnsLookupFamily is Contour's cluster.dns-lookup-family.
	dnsLookupFamily string
	// requestHeaders and responseHeaders are Contour's
	// policy.request-headers and policy.response-headers.
	requestHeaders, responseHeaders dag.GlobalHeaders
	// upstreamMaxRequestsPerConnection and circuitBreakers are Contour's
	// cluster.max-requests-per-connection and cluster.circuit-breakers.
	upstreamMaxRequestsPerConnection uint32
	circuitBreakers                  dag.CircuitBreakers
}

type envoyServiceFlags struct {
	name      string
	namespace string
}

type electionFlags struct {
	disabled      bool
	leaseDuration time.Duration
	renewDeadline time.Duration
	retryPeriod   time.Duration
	name          string
	namespace     string
}

func registerServe(app *kingpin.Application) (*kingpin.CmdClause, *serveContext) {
	ctx := &serveContext{}
	cmd := app.Command("serve", "Watch the cluster, serve Envoy configuration and, on the leader, write HTTPProxy status.")

	cmd.Flag("config-path", "Configuration file (Contour's contour.yaml keys; see README \"Configuration\"). Flags given on the command line or by environment variable override it.").
		Envar("PROXYCTL_CONFIG_PATH").StringVar(&ctx.configPath)
	ctx.bindFile(cmd.Flag("kubeconfig", "Path to a kubeconfig file."), "kubeconfig", "kubeconfig", "KUBECONFIG",
		func(p *config.Parameters) { ctx.kubeconfig = p.Kubeconfig }).Envar("KUBECONFIG").StringVar(&ctx.kubeconfig)
	ctx.bindFile(cmd.Flag("incluster", "Use the in-cluster service account instead of a kubeconfig."), "incluster", "incluster", "",
		func(p *config.Parameters) { ctx.inCluster = p.InCluster }).BoolVar(&ctx.inCluster)
	ctx.bindFile(cmd.Flag("kubernetes-client-qps", "Queries per second each Kubernetes client (informers, status writer) may send."),
		"kubernetes-client-qps", "kubernetesClientQPS", "",
		func(p *config.Parameters) { ctx.clientQPS = p.KubeClientQPS }).Default("1000").Float32Var(&ctx.clientQPS)
	ctx.bindFile(cmd.Flag("kubernetes-client-burst", "Burst of queries each Kubernetes client may send above its QPS."),
		"kubernetes-client-burst", "kubernetesClientBurst", "",
		func(p *config.Parameters) { ctx.clientBurst = p.KubeClientBurst }).Default("2000").IntVar(&ctx.clientBurst)

	cmd.Flag("http-address", "Address for /healthz, /readyz, /metrics and /leader.").Default("0.0.0.0").StringVar(&ctx.httpAddress)
	cmd.Flag("http-port", "Port for /healthz, /readyz, /metrics and /leader.").Default("8000").IntVar(&ctx.httpPort)
	cmd.Flag("debug-address", "host:port for pprof and the DAG dump (/debug/dag); empty disables it. Keep it on loopback.").Default("127.0.0.1:6060").StringVar(&ctx.debugAddress)

	x := &ctx.xds
	cmd.Flag("xds-address", "Address the xDS (ADS) gRPC server listens on.").Default("127.0.0.1").StringVar(&x.address)
	cmd.Flag("xds-port", "Port the xDS (ADS) gRPC server listens on.").Default("8001").IntVar(&x.port)
	cmd.Flag("xds-ca-file", "CA that signed Envoy's client certificate (xDS mutual TLS).").Envar("XDS_CA_FILE").StringVar(&x.caFile)
	cmd.Flag("xds-cert-file", "xDS server certificate (mutual TLS).").Envar("XDS_CERT_FILE").StringVar(&x.certFile)
	cmd.Flag("xds-key-file", "xDS server private key (mutual TLS).").Envar("XDS_KEY_FILE").StringVar(&x.keyFile)
	cmd.Flag("insecure", "Serve xDS without TLS. Only where the network to Envoy is trusted.").BoolVar(&x.insecure)

	v := &ctx.envoy
	cmd.Flag("envoy-address", "Address Envoy's HTTP and HTTPS listeners bind to.").Default("0.0.0.0").StringVar(&v.address)
	cmd.Flag("envoy-http-port", "Port of Envoy's HTTP listener.").Default("8080").IntVar(&v.httpPort)
	cmd.Flag("envoy-https-port", "Port of Envoy's HTTPS listener.").Default("8443").IntVar(&v.httpsPort)
	ctx.bindFile(cmd.Flag("num-trusted-hops", "Proxies in front of Envoy that append to X-Forwarded-For; the client address (for ipAllowPolicy/ipDenyPolicy with source Remote) is that many entries from the right. 0 trusts no header."),
		"num-trusted-hops", "network.num-trusted-hops", "",
		func(p *config.Parameters) { v.numTrustedHops = p.Network.NumTrustedHops }).Default("0").Uint32Var(&v.numTrustedHops)
	ctx.bindFile(cmd.Flag("disable-merge-slashes", "Keep repeated slashes in request paths; by default Envoy merges them (\"//a//b\" is \"/a/b\") before routing, as Contour does."),
		"disable-merge-slashes", "disableMergeSlashes", "",
		func(p *config.Parameters) { v.disableMergeSlashes = p.DisableMergeSlashes }).BoolVar(&v.disableMergeSlashes)
	ctx.bindFile(cmd.Flag("use-proxy-protocol", "Expect a PROXY protocol header (v1 or v2) on every connection to Envoy's listeners and take the client address from it; connections without one are closed. For a load balancer in front that sends it."),
		"use-proxy-protocol", "listener.use-proxy-protocol", "",
		func(p *config.Parameters) { v.useProxyProtocol = p.Listener.UseProxyProtocol }).BoolVar(&v.useProxyProtocol)
	ctx.bindFile(cmd.Flag("accesslog-format", "Format of Envoy's access log: json (fields from the file's json-fields) or envoy (text, the file's accesslog-format-string)."),
		"accesslog-format", "accesslog-format", "",
		func(p *config.Parameters) { v.accessLogFormat = p.AccessLogFormat }).Default("json").EnumVar(&v.accessLogFormat, "json", "envoy")
	cmd.Flag("envoy-http-access-log", "File Envoy writes the HTTP listener's access log to.").Default("/dev/stdout").StringVar(&v.httpAccessLog)
	cmd.Flag("envoy-https-access-log", "File Envoy writes the HTTPS listener's access log to.").Default("/dev/stdout").StringVar(&v.httpsAccessLog)

	ctx.bindFile(cmd.Flag("envoy-service-name", "Name of the Envoy Service whose status.loadBalancer (its IPs or hostnames) the leader copies to every HTTPProxy's status.loadBalancer, as Contour does; empty disables it."),
		"envoy-service-name", "envoy-service-name", "",
		func(p *config.Parameters) { ctx.envoyService.name = p.EnvoyServiceName }).Default("envoy").StringVar(&ctx.envoyService.name)
	ctx.bindFile(cmd.Flag("envoy-service-namespace", "Namespace of the Envoy Service."), "envoy-service-namespace", "envoy-service-namespace", "",
		func(p *config.Parameters) { ctx.envoyService.namespace = p.EnvoyServiceNamespace }).Default("proxyctl").StringVar(&ctx.envoyService.namespace)
	cmd.Flag("root-namespaces", "Comma-separated namespaces whose HTTPProxies may be roots (have a virtualhost); empty allows all.").
		Envar("ROOT_NAMESPACES").StringsVar(&ctx.rootNamespaces)
	ctx.bindFile(cmd.Flag("fallback-certificate", "namespace/name of a kubernetes.io/tls Secret served to TLS clients that send no server name (or an unknown one) by the virtual hosts that set tls.enableFallbackCertificate; empty disables it, as in Contour (tls.fallback-certificate)."),
		"fallback-certificate", "tls.fallback-certificate.name", "FALLBACK_CERTIFICATE",
		func(p *config.Parameters) {
			if f := p.TLS.FallbackCertificate; f.Name != "" {
				ctx.fallbackCertificate = f.Namespace + "/" + f.Name
			}
		}).Envar("FALLBACK_CERTIFICATE").StringVar(&ctx.fallbackCertificate)
	cmd.Flag("watch-namespaces", "Comma-separated namespaces to watch; empty watches the whole cluster.").
		Envar("WATCH_NAMESPACES").StringsVar(&ctx.watchNamespaces)
	cmd.Flag("ingress-class-name", "Comma-separated ingress classes to serve (e.g. contour,team1); empty serves HTTPProxies with no class or Contour's default class.").
		Envar("INGRESS_CLASS_NAME").StringsVar(&ctx.ingressClassNames)

	st := &ctx.global
	ctx.bindFile(cmd.Flag("enable-external-name-service", "Let routes and tcpproxies send to Services of type ExternalName (Contour's enableExternalNameService). Off by default, as in Contour: a user could reach Envoy's admin interface or another namespace's Services through one."),
		"enable-external-name-service", "enableExternalNameService", "",
		func(p *config.Parameters) { st.enableExternalNameService = p.EnableExternalNameService }).BoolVar(&st.enableExternalNameService)
	ctx.bindFile(cmd.Flag("disable-permit-insecure", "Ignore routes[].permitInsecure: plain HTTP requests to TLS virtual hosts are always redirected to HTTPS (Contour's disablePermitInsecure)."),
		"disable-permit-insecure", "disablePermitInsecure", "",
		func(p *config.Parameters) { st.disablePermitInsecure = p.DisablePermitInsecure }).BoolVar(&st.disablePermitInsecure)
	ctx.bindFile(cmd.Flag("tls-minimum-protocol-version", "Lowest TLS version Envoy accepts from clients, 1.2 (the default) or 1.3 (Contour's tls.minimum-protocol-version); a virtual host may ask for more."),
		"tls-minimum-protocol-version", "tls.minimum-protocol-version", "",
		func(p *config.Parameters) { st.tls.MinimumProtocolVersion = p.TLS.MinimumProtocolVersion }).StringVar(&st.tls.MinimumProtocolVersion)
	ctx.bindFile(cmd.Flag("tls-maximum-protocol-version", "Highest TLS version Envoy accepts from clients, 1.2 or 1.3 (the default) (Contour's tls.maximum-protocol-version); a virtual host may ask for less."),
		"tls-maximum-protocol-version", "tls.maximum-protocol-version", "",
		func(p *config.Parameters) { st.tls.MaximumProtocolVersion = p.TLS.MaximumProtocolVersion }).StringVar(&st.tls.MaximumProtocolVersion)
	ctx.bindFile(cmd.Flag("tls-cipher-suites", "Comma-separated TLS 1.2 cipher suites Envoy offers clients, most preferred first, \"[A|B]\" for equal preference (Contour's tls.cipher-suites); empty is Contour's default list."),
		"tls-cipher-suites", "tls.cipher-suites", "",
		func(p *config.Parameters) { st.tls.CipherSuites = p.TLS.CipherSuites }).StringsVar(&st.tls.CipherSuites)
	ctx.bindFile(cmd.Flag("tls-ecdh-curves", "Comma-separated ECDH curves for key exchange with clients, most preferred first (Contour's tls.ecdh-curves); empty is Envoy's default (X25519, P-256)."),
		"tls-ecdh-curves", "tls.ecdh-curves", "",
		func(p *config.Parameters) { st.tls.ECDHCurves = p.TLS.ECDHCurves }).StringsVar(&st.tls.ECDHCurves)

	e := &ctx.election
	cmd.Flag("disable-leader-election", "Act as leader without an election (one replica only).").BoolVar(&e.disabled)
	cmd.Flag("leader-election-lease-duration", "How long standbys wait after the leader's last renewal before taking the Lease.").Default("15s").DurationVar(&e.leaseDuration)
	cmd.Flag("leader-election-renew-deadline", "How long the leader retries renewing before it gives up and exits.").Default("10s").DurationVar(&e.renewDeadline)
	cmd.Flag("leader-election-retry-period", "Interval between attempts to acquire or renew the Lease.").Default("2s").DurationVar(&e.retryPeriod)
	cmd.Flag("leader-election-resource-name", "Name of the Lease used for leader election.").Default("proxyctl-leader").StringVar(&e.name)
	cmd.Flag("leader-election-resource-namespace", "Namespace of the Lease used for leader election.").Envar("POD_NAMESPACE").Default("proxyctl").StringVar(&e.namespace)

	registerRateLimitFlags(cmd, ctx)

	cmd.Flag("log-format", "Log format: text or json.").Default("text").EnumVar(&ctx.logFormat, "text", "json")
	cmd.Flag("debug", "Log at debug level.").BoolVar(&ctx.debug)
	return cmd, ctx
}

// splitLists turns the list flags, given repeatedly or comma-separated
// ("a,b" as Contour takes them), into clean lists.
func (s *serveContext) splitLists() {
	s.rootNamespaces = splitCommas(s.rootNamespaces)
	s.watchNamespaces = splitCommas(s.watchNamespaces)
	s.ingressClassNames = splitCommas(s.ingressClassNames)
	s.global.tls.CipherSuites = splitCommas(s.global.tls.CipherSuites)
	s.global.tls.ECDHCurves = splitCommas(s.global.tls.ECDHCurves)
}

func splitCommas(values []string) []string {
	var out []string
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// validate reports flag values that cannot work together.
func (s *serveContext) validate() error {
	if s.inCluster && s.kubeconfig != "" {
		return usagef("--incluster and --kubeconfig are mutually exclusive")
	}
	for flag, port := range map[string]int{"--http-port": s.httpPort, "--xds-port": s.xds.port,
		"--envoy-http-port": s.envoy.httpPort, "--envoy-https-port": s.envoy.httpsPort} {
		if port < 0 || port > 65535 {
			return usagef("%s %d is not a TCP port", flag, port)
		}
	}
	if s.envoy.httpPort == s.envoy.httpsPort {
		return usagef("--envoy-http-port and --envoy-https-port must differ")
	}
	x := s.xds
	tlsFiles := 0
	for _, f := range []string{x.caFile, x.certFile, x.keyFile} {
		if f != "" {
			tlsFiles++
		}
	}
	switch {
	case x.insecure && tlsFiles > 0:
		return usagef("--insecure and the --xds-*-file flags are mutually exclusive")
	case !x.insecure && tlsFiles != 3:
		return usagef("xDS needs mutual TLS (--xds-ca-file, --xds-cert-file and --xds-key-file) or --insecure")
	}
	if f := s.fallbackCertificate; f != "" {
		ns, name, ok := strings.Cut(f, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return usagef("--fallback-certificate %q must be namespace/name", f)
		}
		s.fallbackKey = types.NamespacedName{Namespace: ns, Name: name}
	}
	var err error
	if s.rateLimitService, err = s.rateLimit.extensionService(); err != nil {
		return err
	}
	if s.envoyService.name != "" && s.envoyService.namespace == "" {
		return usagef("--envoy-service-namespace must not be empty when --envoy-service-name is set")
	}
	// The header policies (lists) and the DNS lookup family (which Contour
	// has no flag for): the file's only.
	s.global.requestHeaders, s.global.responseHeaders = s.settings.GlobalHeaders()
	s.global.dnsLookupFamily = s.settings.Cluster.DNSLookupFamily
	s.global.upstreamMaxRequestsPerConnection = deref(s.settings.Cluster.MaxRequestsPerConnection)
	s.global.circuitBreakers = s.settings.UpstreamCircuitBreakers()
	if err := s.checkTrafficClass(); err != nil {
		return err
	}
	if err := s.global.validate(); err != nil {
		return err
	}
	if s.clientQPS <= 0 || s.clientBurst <= 0 {
		return usagef("--kubernetes-client-qps and --kubernetes-client-burst must be positive")
	}
	e := s.election
	if !e.disabled {
		if e.name == "" || e.namespace == "" {
			return usagef("--leader-election-resource-name and --leader-election-resource-namespace must not be empty")
		}
		if e.retryPeriod <= 0 || e.renewDeadline <= e.retryPeriod || e.leaseDuration <= e.renewDeadline {
			return usagef("leader election timings must satisfy 0 < retry period (%s) < renew deadline (%s) < lease duration (%s)",
				e.retryPeriod, e.renewDeadline, e.leaseDuration)
		}
	}
	return nil
}

// validate refuses settings Envoy would not take, with Contour's checks.
func (st *globalFlags) validate() error {
	if err := st.tls.Validate(); err != nil {
		return usagef("tls: %v", err)
	}
	if err := st.requestHeaders.Validate(false); err != nil {
		return usagef("policy.request-headers: %v", err)
	}
	if err := st.responseHeaders.Validate(true); err != nil {
		return usagef("policy.response-headers: %v", err)
	}
	return nil
}

// dagConfig is what the DAG needs of the settings.
func (st *globalFlags) dagConfig(cfg dag.Config) dag.Config {
	cfg.EnableExternalNameService = st.enableExternalNameService
	cfg.DisablePermitInsecure = st.disablePermitInsecure
	cfg.DNSLookupFamily = st.dnsLookupFamily
	cfg.RequestHeaders, cfg.ResponseHeaders = st.requestHeaders, st.responseHeaders
	cfg.UpstreamMaxRequestsPerConnection = st.upstreamMaxRequestsPerConnection
	cfg.CircuitBreakers = st.circuitBreakers
	return cfg
}

// defaultGCPercent is the collector's target when $GOGC is not set. Most of
// a replica's heap is long-lived caches, and what operators budget for is
// its resident size: collecting at 50% growth instead of Go's 100% keeps
// that near the live data, for little CPU.
const defaultGCPercent = 50

// run starts every long-lived part of a replica in one run group and
// returns when the first of them stops: a signal (nil, exit 0), lost
// leadership or any failure (an error, exit 1).
func (s *serveContext) run() error {
	s.splitLists()
	if err := s.loadConfig(); err != nil {
		return err
	}
	if err := s.validate(); err != nil {
		return err
	}
	log := newLogger(s.logFormat, s.debug)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	info := build.Get()
	log.WithFields(logrus.Fields{"version": info.Version, "commit": info.Commit}).Info("starting proxyctl serve")

	identity, err := replicaIdentity()
	if err != nil {
		return err
	}
	clients, err := newClients(s, identity)
	if err != nil {
		return err
	}
	if s.rateLimitFilter, err = rateLimitService(context.Background(), clients.contour, s.rateLimitService, s.rateLimit); err != nil {
		return err
	}
	if s.globalAuthFilter, err = globalAuthorization(context.Background(), clients.contour, s.globalAuth); err != nil {
		return err
	}
	elector, err := newElector(s.election, clients, identity, log)
	if err != nil {
		return err
	}

	reg := metrics.NewRegistry(info)
	if err := metrics.RegisterLeader(reg, elector.Leading); err != nil {
		return err
	}

	var group rungroup.Group
	xdsServer, err := addXDSServer(&group, s, reg, log)
	if err != nil {
		return err
	}
	// One set of informers feeds the controller and, through listers over
	// the same caches, tells the status writers what each object shows now.
	infs := newInformerSet(clients.kube, clients.contour, s.watchNamespaces)
	statusWriter, err := newStatusWriter(clients, infs, elector, reg, log)
	if err != nil {
		return err
	}
	extStatusWriter, err := newExtensionStatusWriter(clients, infs, elector, log)
	if err != nil {
		return err
	}
	// xDS translates on a goroutine of its own (latest DAG first), so the
	// event loop and the status writes never wait for a translation.
	xdsHandoff := xdsServer.Handoff()
	group.Add("xds translation", xdsHandoff.Run)
	// The debug listener dumps the latest DAG.
	dagDump := &httpserver.DAGDump{}
	// The status writers see each DAG first; like the xDS handoff, they
	// only queue work for their own goroutines.
	ctrl, err := newController(s, infs, reg, log,
		[]controller.Observer{statusWriter, extStatusWriter, xdsHandoff, dagDump},
		[]controller.ProxyObserver{statusWriter})
	if err != nil {
		return err
	}
	group.Add("informers", infs.run)
	group.Add("controller", ctrl.Run)
	group.Add("status writer", statusWriter.Run)
	group.Add("extensionservice status writer", extStatusWriter.Run)
	addEnvoyServiceWatch(&group, s, clients.kube, statusWriter, log)
	// The HTTP listeners are bound here, before the election starts, so a
	// replica that never leads still answers health checks and scrapes.
	if err := addHTTPServers(&group, s, reg, elector, ctrl.Ready, dagDump, log); err != nil {
		return err
	}
	group.Add("leader election", elector.Run)
	group.Add("signals", waitForSignal(log))

	err = group.Run(context.Background())
	if err == nil {
		log.Info("proxyctl serve stopped")
	}
	return err
}

// waitForSignal returns nil on SIGINT or SIGTERM, which stops the group
// cleanly: the Lease is released and the process exits 0.
func waitForSignal(log logrus.FieldLogger) rungroup.Member {
	return func(ctx context.Context) error {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(sig)
		select {
		case s := <-sig:
			log.WithField("signal", s.String()).Info("shutting down")
		case <-ctx.Done():
		}
		return nil
	}
}
