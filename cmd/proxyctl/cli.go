package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	// The resources proxyctl serves carry typed configs (filters, TLS
	// contexts) that protojson can only print once their types are
	// registered; the translator's imports register exactly those.
	_ "github.com/proxyctl/proxyctl/internal/xds"
)

// cliContext holds the arguments of `proxyctl cli TYPE`.
type cliContext struct {
	address    string
	port       int
	serverName string
	caFile     string
	certFile   string
	keyFile    string
	insecure   bool
	nodeID     string
	output     string
	timeout    time.Duration
	stdout     io.Writer
}

// cliTypes maps each `proxyctl cli` subcommand to the type it prints.
var cliTypes = map[string]string{
	"lds":  resourcev3.ListenerType,
	"rds":  resourcev3.RouteType,
	"srds": resourcev3.ScopedRouteType,
	"cds":  resourcev3.ClusterType,
	"eds":  resourcev3.EndpointType,
	"sds":  resourcev3.SecretType,
}

var cliHelp = map[string]string{
	"lds":  "Print the Listeners the replica serves.",
	"rds":  "Print the RouteConfigurations the replica serves, named by its Listeners and scopes.",
	"srds": "Print the ScopedRouteConfigurations (one per HTTP host) the replica serves.",
	"cds":  "Print the Clusters the replica serves.",
	"eds":  "Print the ClusterLoadAssignments (endpoints) the replica serves, named by its Clusters.",
	"sds":  "Print the Secrets (TLS certificates and validation contexts) the replica serves, named by its Listeners and Clusters.",
}

func registerCLI(app *kingpin.Application) (*kingpin.CmdClause, *cliContext) {
	c := &cliContext{stdout: os.Stdout}
	cmd := app.Command("cli", "Connect to a replica's xDS port as an Envoy would and print what it serves.")
	cmd.Flag("xds-address", "Address (IP or DNS name) of the xDS server.").Default("127.0.0.1").StringVar(&c.address)
	cmd.Flag("xds-port", "Port of the xDS server.").Default("8001").IntVar(&c.port)
	cmd.Flag("xds-server-name", "Name the xDS server's certificate must carry; --xds-address by default (e.g. proxyctl.proxyctl.svc through a port-forward).").StringVar(&c.serverName)
	cmd.Flag("xds-ca-file", "CA certificate that verifies the xDS server (mutual TLS).").StringVar(&c.caFile)
	cmd.Flag("xds-cert-file", "Client certificate to present, e.g. Envoy's (mutual TLS).").StringVar(&c.certFile)
	cmd.Flag("xds-key-file", "Key of the client certificate (mutual TLS).").StringVar(&c.keyFile)
	cmd.Flag("insecure", "Connect in plaintext, to a replica serving with --insecure.").BoolVar(&c.insecure)
	cmd.Flag("node-id", "Node id to send, as Envoy sends its own.").Default("proxyctl-cli").StringVar(&c.nodeID)
	cmd.Flag("output", "Output format: json or yaml.").Short('o').Default("json").EnumVar(&c.output, "json", "yaml")
	cmd.Flag("timeout", "How long to wait for the replica's answers.").Default("10s").DurationVar(&c.timeout)
	for _, name := range slices.Sorted(maps.Keys(cliTypes)) {
		cmd.Command(name, cliHelp[name])
	}
	return cmd, c
}

// transport returns the gRPC credentials the flags ask for.
func (c *cliContext) transport() (credentials.TransportCredentials, error) {
	files := 0
	for _, f := range []string{c.caFile, c.certFile, c.keyFile} {
		if f != "" {
			files++
		}
	}
	switch {
	case c.insecure && files > 0:
		return nil, usagef("--insecure and the --xds-*-file flags are mutually exclusive")
	case c.insecure:
		return insecure.NewCredentials(), nil
	case files != 3:
		return nil, usagef("xDS needs mutual TLS (--xds-ca-file, --xds-cert-file and --xds-key-file) or --insecure")
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	caPEM, err := os.ReadFile(c.caFile)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", c.caFile)
	}
	serverName := c.serverName
	if serverName == "" {
		serverName = c.address
	}
	return credentials.NewTLS(&tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   serverName,
	}), nil
}

// run prints the resources of one type: kind is the subcommand, lds to sds.
func (c *cliContext) run(kind string) error {
	typ, ok := cliTypes[kind]
	if !ok {
		return usagef("unknown type %q", kind)
	}
	if c.port <= 0 || c.port > 65535 {
		return usagef("--xds-port %d is not a TCP port", c.port)
	}
	creds, err := c.transport()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	conn, err := grpc.NewClient(net.JoinHostPort(c.address, strconv.Itoa(c.port)), grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	a := &adsFetcher{stream: stream, node: &corev3.Node{Id: c.nodeID, Cluster: "proxyctl-cli"}}
	resp, err := a.fetch(typ)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer for %s from %s:%d within %s: %w", typ, c.address, c.port, c.timeout, err)
	}
	if err != nil {
		return err
	}
	return c.print(resp)
}

// adsFetcher asks for one type on an ADS stream the way Envoy does: Listeners
// and Clusters as wildcards; Routes, Endpoints and Secrets by the names the
// Listeners and Clusters give (proxyctl answers a named request only once it
// names every resource of the type, as Envoy's requests do).
type adsFetcher struct {
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *corev3.Node
}

func (a *adsFetcher) fetch(typ string) (*discoveryv3.DiscoveryResponse, error) {
	var names []string
	switch typ {
	case resourcev3.ListenerType, resourcev3.ClusterType:
		return a.request(typ, nil)
	case resourcev3.ScopedRouteType:
		return a.request(typ, nil)
	case resourcev3.RouteType:
		// The HTTPS listener names its route configurations; the HTTP
		// one's are named by the scopes (one per host).
		lds, err := a.request(resourcev3.ListenerType, nil)
		if err != nil {
			return nil, err
		}
		names, _ = listenerRefs(lds)
		srds, err := a.request(resourcev3.ScopedRouteType, nil)
		if err != nil {
			return nil, err
		}
		names = append(names, scopeRefs(srds)...)
	case resourcev3.EndpointType:
		cds, err := a.request(resourcev3.ClusterType, nil)
		if err != nil {
			return nil, err
		}
		names, _ = clusterRefs(cds)
	case resourcev3.SecretType:
		lds, err := a.request(resourcev3.ListenerType, nil)
		if err != nil {
			return nil, err
		}
		cds, err := a.request(resourcev3.ClusterType, nil)
		if err != nil {
			return nil, err
		}
		_, fromListeners := listenerRefs(lds)
		_, fromClusters := clusterRefs(cds)
		names = append(fromListeners, fromClusters...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	// Nothing names a resource of this type, so nothing of it is served:
	// proxyctl would hold the request open, as it does for Envoy.
	if len(names) == 0 {
		return &discoveryv3.DiscoveryResponse{TypeUrl: typ}, nil
	}
	return a.request(typ, names)
}

// request sends one request and waits for the response of its type; a
// replica may also push other types on the stream, which are skipped.
func (a *adsFetcher) request(typ string, names []string) (*discoveryv3.DiscoveryResponse, error) {
	if err := a.stream.Send(&discoveryv3.DiscoveryRequest{Node: a.node, TypeUrl: typ, ResourceNames: names}); err != nil {
		return nil, err
	}
	for {
		resp, err := a.stream.Recv()
		if err != nil {
			return nil, err
		}
		if resp.TypeUrl == typ {
			return resp, nil
		}
	}
}

// listenerRefs returns the route configurations (RDS) and the secrets (SDS)
// the listeners name.
func listenerRefs(lds *discoveryv3.DiscoveryResponse) (routes, secrets []string) {
	for _, r := range lds.Resources {
		var l listenerv3.Listener
		if r.UnmarshalTo(&l) != nil {
			continue
		}
		chains := l.FilterChains
		if l.DefaultFilterChain != nil {
			chains = append(chains, l.DefaultFilterChain)
		}
		for _, fc := range chains {
			for _, f := range fc.Filters {
				var hcm hcmv3.HttpConnectionManager
				if f.GetTypedConfig().UnmarshalTo(&hcm) == nil && hcm.GetRds() != nil {
					routes = append(routes, hcm.GetRds().RouteConfigName)
				}
			}
			var ctx tlsv3.DownstreamTlsContext
			if ts := fc.GetTransportSocket(); ts != nil && ts.GetTypedConfig().UnmarshalTo(&ctx) == nil {
				secrets = append(secrets, sdsNames(ctx.GetCommonTlsContext())...)
			}
		}
	}
	return routes, secrets
}

// scopeRefs returns the route configurations the scopes name.
func scopeRefs(srds *discoveryv3.DiscoveryResponse) []string {
	var routes []string
	for _, r := range srds.Resources {
		var sc routev3.ScopedRouteConfiguration
		if r.UnmarshalTo(&sc) == nil && sc.RouteConfigurationName != "" {
			routes = append(routes, sc.RouteConfigurationName)
		}
	}
	return routes
}

// clusterRefs returns the endpoint assignments (EDS) and the secrets (SDS)
// the clusters name.
func clusterRefs(cds *discoveryv3.DiscoveryResponse) (endpoints, secrets []string) {
	for _, r := range cds.Resources {
		var c clusterv3.Cluster
		if r.UnmarshalTo(&c) != nil {
			continue
		}
		if c.GetType() == clusterv3.Cluster_EDS {
			name := c.GetEdsClusterConfig().GetServiceName()
			if name == "" {
				name = c.Name
			}
			endpoints = append(endpoints, name)
		}
		var ctx tlsv3.UpstreamTlsContext
		if ts := c.GetTransportSocket(); ts != nil && ts.GetTypedConfig().UnmarshalTo(&ctx) == nil {
			secrets = append(secrets, sdsNames(ctx.GetCommonTlsContext())...)
		}
	}
	return endpoints, secrets
}

// sdsNames lists the secrets a TLS context asks SDS for: certificates and
// validation contexts.
func sdsNames(ctx *tlsv3.CommonTlsContext) []string {
	var names []string
	for _, sds := range ctx.GetTlsCertificateSdsSecretConfigs() {
		names = append(names, sds.Name)
	}
	if sds := ctx.GetValidationContextSdsSecretConfig(); sds != nil {
		names = append(names, sds.Name)
	}
	if sds := ctx.GetCombinedValidationContext().GetValidationContextSdsSecretConfig(); sds != nil {
		names = append(names, sds.Name)
	}
	return names
}

// print writes the response without its nonce (which differs on every
// request), resources sorted by name, as indented JSON or YAML.
func (c *cliContext) print(resp *discoveryv3.DiscoveryResponse) error {
	out := &discoveryv3.DiscoveryResponse{VersionInfo: resp.VersionInfo, TypeUrl: resp.TypeUrl, Resources: slices.Clone(resp.Resources)}
	names := map[*anypb.Any]string{}
	for _, r := range out.Resources {
		name, err := resourceName(r)
		if err != nil {
			return err
		}
		names[r] = name
	}
	slices.SortStableFunc(out.Resources, func(a, b *anypb.Any) int { return strings.Compare(names[a], names[b]) })
	raw, err := protojson.Marshal(out)
	if err != nil {
		return err
	}
	// protojson varies its whitespace on purpose; re-indent for output
	// that is the same on every run.
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	data := buf.Bytes()
	if c.output == "yaml" {
		if data, err = yaml.JSONToYAML(raw); err != nil {
			return err
		}
	}
	_, err = c.stdout.Write(data)
	return err
}

// resourceName is the name of a served resource: name, or cluster_name for
// an endpoint assignment.
func resourceName(r *anypb.Any) (string, error) {
	m, err := r.UnmarshalNew()
	if err != nil {
		return "", fmt.Errorf("decode %s: %w", r.TypeUrl, err)
	}
	fields := m.ProtoReflect().Descriptor().Fields()
	for _, f := range []protoreflect.Name{"name", "cluster_name"} {
		if fd := fields.ByName(f); fd != nil && fd.Kind() == protoreflect.StringKind {
			return m.ProtoReflect().Get(fd).String(), nil
		}
	}
	return "", nil
}
