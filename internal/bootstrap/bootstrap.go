package bootstrap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// XDSClusterName is the name of the static cluster through which Envoy
// reaches the xDS server.
const XDSClusterName = "proxyctl"

// Defaults of Options.
const (
	DefaultNodeCluster    = "proxyctl"
	DefaultXDSAddress     = "127.0.0.1"
	DefaultXDSPort        = 8001
	DefaultAdminAddress   = "127.0.0.1"
	DefaultAdminPort      = 9001
	DefaultConnectTimeout = 5 * time.Second
)

// Options describe the bootstrap to build. The zero value of a field means
// its default; see Defaults.
type Options struct {
	// NodeID identifies this Envoy to the xDS server; the hostname by
	// default.
	NodeID string
	// NodeCluster is the node's cluster; DefaultNodeCluster by default.
	NodeCluster string

	// XDSAddress is an IP address or a DNS name of the xDS server.
	XDSAddress string
	XDSPort    int
	// Delta makes Envoy use the incremental (delta) ADS protocol.
	Delta bool
	// ConnectTimeout bounds connecting to the xDS server.
	ConnectTimeout time.Duration

	// AdminAddress and AdminPort are where Envoy's admin interface listens.
	// Keep it on loopback: the admin interface can stop Envoy.
	AdminAddress string
	AdminPort    int

	// CAFile, CertFile and KeyFile, all three or none, turn on mutual TLS
	// (TLS 1.3 only) towards the xDS server: CAFile verifies the server,
	// CertFile and KeyFile are the client's. The bootstrap refers to the
	// files by path; Envoy reads them when it loads the bootstrap.
	CAFile, CertFile, KeyFile string

	// RuntimeLayer, when set, adds a layered runtime whose dynamic layer of
	// that name Envoy fetches over ADS (RTDS), below an admin layer. Envoy
	// then waits for that runtime layer before it finishes initializing, so
	// set it only when the xDS server serves it.
	RuntimeLayer string
}

// Defaults returns the options with every unset field set to its default.
// The node id defaults to the hostname.
func (o Options) Defaults() (Options, error) {
	if o.NodeID == "" {
		host, err := os.Hostname()
		if err != nil {
			return o, fmt.Errorf("node id: no hostname: %w", err)
		}
		o.NodeID = host
	}
	if o.NodeCluster == "" {
		o.NodeCluster = DefaultNodeCluster
	}
	if o.XDSAddress == "" {
		o.XDSAddress = DefaultXDSAddress
	}
	if o.XDSPort == 0 {
		o.XDSPort = DefaultXDSPort
	}
	if o.AdminAddress == "" {
		o.AdminAddress = DefaultAdminAddress
	}
	if o.AdminPort == 0 {
		o.AdminPort = DefaultAdminPort
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	return o, nil
}

// Validate reports options that cannot give a working bootstrap. It expects
// defaults to have been applied.
func (o Options) Validate() error {
	var errs []error
	if o.NodeID == "" {
		errs = append(errs, errors.New("node id is empty"))
	}
	if o.NodeCluster == "" {
		errs = append(errs, errors.New("node cluster is empty"))
	}
	if o.XDSAddress == "" {
		errs = append(errs, errors.New("xDS address is empty"))
	} else if net.ParseIP(o.XDSAddress) == nil && !validHostname(o.XDSAddress) {
		errs = append(errs, fmt.Errorf("xDS address %q is neither an IP address nor a DNS name", o.XDSAddress))
	}
	if err := checkPort("xDS port", o.XDSPort); err != nil {
		errs = append(errs, err)
	}
	if net.ParseIP(o.AdminAddress) == nil {
		errs = append(errs, fmt.Errorf("admin address %q is not an IP address", o.AdminAddress))
	}
	if err := checkPort("admin port", o.AdminPort); err != nil {
		errs = append(errs, err)
	}
	if o.ConnectTimeout <= 0 {
		errs = append(errs, fmt.Errorf("connect timeout %v is not positive", o.ConnectTimeout))
	}
	errs = append(errs, o.validateTLS()...)
	return errors.Join(errs...)
}

func (o Options) validateTLS() []error {
	files := []struct{ what, path string }{
		{"CA file", o.CAFile}, {"certificate file", o.CertFile}, {"key file", o.KeyFile},
	}
	var set int
	for _, f := range files {
		if f.path != "" {
			set++
		}
	}
	if set == 0 {
		return nil
	}
	var errs []error
	if set != len(files) {
		errs = append(errs, fmt.Errorf("xDS mutual TLS needs the CA, certificate and key files together, got CA %q, certificate %q, key %q", o.CAFile, o.CertFile, o.KeyFile))
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		info, err := os.Stat(f.path)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("xDS %s: %w", f.what, err))
		case !info.Mode().IsRegular():
			errs = append(errs, fmt.Errorf("xDS %s %s is not a regular file", f.what, f.path))
		}
	}
	return errs
}

// TLS reports whether the options ask for mutual TLS towards the xDS server.
func (o Options) TLS() bool { return o.CAFile != "" || o.CertFile != "" || o.KeyFile != "" }

func checkPort(what string, p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("%s %d is not in 1-65535", what, p)
	}
	return nil
}

// validHostname reports whether s is a syntactically valid DNS name.
func validHostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 || s[i-1] == '-' {
				return false
			}
			label = 0
			continue
		case c == '-':
			if label == 0 {
				return false
			}
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return label > 0 && s[len(s)-1] != '-'
}

// Build applies defaults, validates the options and returns the bootstrap,
// itself validated against Envoy's proto constraints.
func Build(opts Options) (*bootstrapv3.Bootstrap, error) {
	o, err := opts.Defaults()
	if err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	cluster, err := xdsCluster(o)
	if err != nil {
		return nil, err
	}
	b := &bootstrapv3.Bootstrap{
		Node: &corev3.Node{Id: o.NodeID, Cluster: o.NodeCluster},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{
			Clusters: []*clusterv3.Cluster{cluster},
		},
		DynamicResources: &bootstrapv3.Bootstrap_DynamicResources{
			AdsConfig: adsConfig(o),
			LdsConfig: adsSource(),
			CdsConfig: adsSource(),
		},
		Admin: &bootstrapv3.Admin{
			Address: socketAddress(o.AdminAddress, o.AdminPort),
		},
	}
	if b.LayeredRuntime, err = layeredRuntime(o.RuntimeLayer); err != nil {
		return nil, err
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("invalid bootstrap: %w", err)
	}
	return b, nil
}

// Marshal renders a bootstrap as indented JSON with Envoy's field names. The
// output is deterministic: the same bootstrap always gives the same bytes.
func Marshal(b *bootstrapv3.Bootstrap) ([]byte, error) {
	// protojson varies its whitespace on purpose; re-indenting the compact
	// form makes it stable. It emits fields in field-number order and map
	// entries sorted.
	raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(b)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// Write builds the bootstrap of opts and writes it as JSON to w.
func Write(w io.Writer, opts Options) error {
	b, err := Build(opts)
	if err != nil {
		return err
	}
	data, err := Marshal(b)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

func adsConfig(o Options) *corev3.ApiConfigSource {
	apiType := corev3.ApiConfigSource_GRPC
	if o.Delta {
		apiType = corev3.ApiConfigSource_DELTA_GRPC
	}
	return &corev3.ApiConfigSource{
		ApiType:             apiType,
		TransportApiVersion: corev3.ApiVersion_V3,
		// One ADS stream carries everything, so resources arrive in the
		// order the server sends them.
		SetNodeOnFirstMessageOnly: true,
		GrpcServices: []*corev3.GrpcService{{
			TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
				EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: XDSClusterName},
			},
		}},
	}
}

func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

func socketAddress(addr string, port int) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Protocol:      corev3.SocketAddress_TCP,
		Address:       addr,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
}

// xdsCluster is the static cluster of the xDS server: HTTP/2 (gRPC), with
// TCP keepalives so a dead server is noticed, and mutual TLS if asked.
func xdsCluster(o Options) (*clusterv3.Cluster, error) {
	h2, err := anypb.New(&httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
				},
			},
		},
	})
	if err != nil {
		return nil, err
	}
	c := &clusterv3.Cluster{
		Name:           XDSClusterName,
		ConnectTimeout: durationpb.New(o.ConnectTimeout),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: XDSClusterName,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{
				LbEndpoints: []*endpointv3.LbEndpoint{{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
						Address: socketAddress(o.XDSAddress, o.XDSPort),
					}},
				}},
			}},
		},
		TypedExtensionProtocolOptions: map[string]*anypb.Any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": h2,
		},
		UpstreamConnectionOptions: &clusterv3.UpstreamConnectionOptions{
			TcpKeepalive: &corev3.TcpKeepalive{
				KeepaliveProbes:   wrapperspb.UInt32(3),
				KeepaliveTime:     wrapperspb.UInt32(30),
				KeepaliveInterval: wrapperspb.UInt32(5),
			},
		},
	}
	if net.ParseIP(o.XDSAddress) != nil {
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
	} else {
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
		// A name such as localhost may resolve to ::1 first while the
		// server listens on IPv4 only.
		c.DnsLookupFamily = clusterv3.Cluster_V4_PREFERRED
	}
	if o.TLS() {
		ts, err := upstreamTLS(o)
		if err != nil {
			return nil, err
		}
		c.TransportSocket = ts
	}
	return c, nil
}

func upstreamTLS(o Options) (*corev3.TransportSocket, error) {
	file := func(path string) *corev3.DataSource {
		return &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: path}}
	}
	tlsContext, err := anypb.New(&tlsv3.UpstreamTlsContext{
		CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsParams: &tlsv3.TlsParameters{
				TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_3,
				TlsMaximumProtocolVersion: tlsv3.TlsParameters_TLSv1_3,
			},
			TlsCertificates: []*tlsv3.TlsCertificate{{
				CertificateChain: file(o.CertFile),
				PrivateKey:       file(o.KeyFile),
			}},
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{
				ValidationContext: &tlsv3.CertificateValidationContext{TrustedCa: file(o.CAFile)},
			},
			AlpnProtocols: []string{"h2"},
		},
	})
	if err != nil {
		return nil, err
	}
	return &corev3.TransportSocket{
		Name:       "envoy.transport_sockets.tls",
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: tlsContext},
	}, nil
}

// RegexProgramSize is the largest RE2 program Envoy accepts in a regex.
// Envoy's default of 100 refuses ordinary route regexes (a UUID path
// segment compiles to about 120), and one refused regex makes Envoy refuse
// the whole route configuration, every tenant's. proxyctl's DAG refuses any
// regex that may exceed this, on the proxy that wrote it (it is
// dag.MaxRegexProgramSize, checked by a test).
const RegexProgramSize = 1000

// layeredRuntime is a static layer with proxyctl's runtime settings, an RTDS
// layer named rtds fetched over ADS when rtds is not empty, and an admin
// layer on top so that values can be overridden by hand.
func layeredRuntime(rtds string) (*bootstrapv3.LayeredRuntime, error) {
	static, err := structpb.NewStruct(map[string]any{
		"re2.max_program_size.error_level": RegexProgramSize,
	})
	if err != nil {
		return nil, fmt.Errorf("runtime layer: %w", err)
	}
	lr := &bootstrapv3.LayeredRuntime{Layers: []*bootstrapv3.RuntimeLayer{{
		Name:           "proxyctl",
		LayerSpecifier: &bootstrapv3.RuntimeLayer_StaticLayer{StaticLayer: static},
	}}}
	if rtds != "" {
		lr.Layers = append(lr.Layers, &bootstrapv3.RuntimeLayer{
			Name: rtds,
			LayerSpecifier: &bootstrapv3.RuntimeLayer_RtdsLayer_{RtdsLayer: &bootstrapv3.RuntimeLayer_RtdsLayer{
				Name:       rtds,
				RtdsConfig: adsSource(),
			}},
		})
	}
	lr.Layers = append(lr.Layers, &bootstrapv3.RuntimeLayer{
		Name:           "admin",
		LayerSpecifier: &bootstrapv3.RuntimeLayer_AdminLayer_{AdminLayer: &bootstrapv3.RuntimeLayer_AdminLayer{}},
	})
	return lr, nil
}
