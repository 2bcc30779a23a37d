package xds

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	accesslog "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	fileaccesslog "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	reqwithoutquery "github.com/envoyproxy/go-control-plane/envoy/extensions/formatter/req_without_query/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/structpb"
)

// DefaultJSONFields are the fields of a JSON access log line unless
// json-fields says otherwise: Contour's default set.
var DefaultJSONFields = []string{
	"@timestamp", "authority", "bytes_received", "bytes_sent",
	"downstream_local_address", "downstream_remote_address", "duration",
	"method", "path", "protocol", "request_id", "requested_server_name",
	"response_code", "response_flags", "uber_trace_id", "upstream_cluster",
	"upstream_host", "upstream_local_address", "upstream_service_time",
	"user_agent", "x_forwarded_for", "grpc_status", "grpc_status_number",
}

// namedJSONFields are the field names Contour maps to something other than
// the command operator of the same name in capitals.
var namedJSONFields = map[string]string{
	"@timestamp":            "%START_TIME%",
	"ts":                    "%START_TIME%",
	"authority":             "%REQ(:AUTHORITY)%",
	"method":                "%REQ(:METHOD)%",
	"path":                  "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
	"request_id":            "%REQ(X-REQUEST-ID)%",
	"uber_trace_id":         "%REQ(UBER-TRACE-ID)%",
	"upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
	"user_agent":            "%REQ(USER-AGENT)%",
	"x_forwarded_for":       "%REQ(X-FORWARDED-FOR)%",
	"x_trace_id":            "%REQ(X-TRACE-ID)%",
}

// plainOperators are Envoy's command operators that take no argument
// (https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage).
// A json-fields entry naming one in lower case ("response_code") gets it.
var plainOperators = setOf(
	"BYTES_RECEIVED", "BYTES_SENT", "CONNECTION_ID", "CONNECTION_TERMINATION_DETAILS",
	"DOWNSTREAM_DIRECT_REMOTE_ADDRESS", "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT",
	"DOWNSTREAM_DIRECT_REMOTE_PORT", "DOWNSTREAM_HEADER_BYTES_RECEIVED", "DOWNSTREAM_HEADER_BYTES_SENT",
	"DOWNSTREAM_LOCAL_ADDRESS", "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", "DOWNSTREAM_LOCAL_PORT",
	"DOWNSTREAM_LOCAL_SUBJECT", "DOWNSTREAM_LOCAL_URI_SAN", "DOWNSTREAM_PEER_CERT",
	"DOWNSTREAM_PEER_CERT_V_END", "DOWNSTREAM_PEER_CERT_V_START", "DOWNSTREAM_PEER_FINGERPRINT_1",
	"DOWNSTREAM_PEER_FINGERPRINT_256", "DOWNSTREAM_PEER_ISSUER", "DOWNSTREAM_PEER_SERIAL",
	"DOWNSTREAM_PEER_SUBJECT", "DOWNSTREAM_PEER_URI_SAN", "DOWNSTREAM_REMOTE_ADDRESS",
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", "DOWNSTREAM_REMOTE_PORT", "DOWNSTREAM_TLS_CIPHER",
	"DOWNSTREAM_TLS_SESSION_ID", "DOWNSTREAM_TLS_VERSION", "DOWNSTREAM_WIRE_BYTES_RECEIVED",
	"DOWNSTREAM_WIRE_BYTES_SENT", "DURATION", "FILTER_CHAIN_NAME", "GRPC_STATUS", "GRPC_STATUS_NUMBER",
	"HOSTNAME", "LOCAL_REPLY_BODY", "PROTOCOL", "REQUEST_DURATION", "REQUEST_HEADERS_BYTES",
	"REQUEST_TX_DURATION", "REQUESTED_SERVER_NAME", "RESPONSE_CODE", "RESPONSE_CODE_DETAILS",
	"RESPONSE_DURATION", "RESPONSE_FLAGS", "RESPONSE_FLAGS_LONG", "RESPONSE_HEADERS_BYTES",
	"RESPONSE_TRAILERS_BYTES", "RESPONSE_TX_DURATION", "ROUTE_NAME", "START_TIME",
	"UPSTREAM_CLUSTER", "UPSTREAM_HEADER_BYTES_RECEIVED", "UPSTREAM_HEADER_BYTES_SENT",
	"UPSTREAM_HOST", "UPSTREAM_LOCAL_ADDRESS", "UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
	"UPSTREAM_LOCAL_PORT", "UPSTREAM_PEER_CERT", "UPSTREAM_PEER_CERT_V_END",
	"UPSTREAM_PEER_CERT_V_START", "UPSTREAM_PEER_ISSUER", "UPSTREAM_PEER_SUBJECT",
	"UPSTREAM_PROTOCOL", "UPSTREAM_REMOTE_ADDRESS", "UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
	"UPSTREAM_REMOTE_PORT", "UPSTREAM_REQUEST_ATTEMPT_COUNT", "UPSTREAM_TLS_CIPHER",
	"UPSTREAM_TLS_SESSION_ID", "UPSTREAM_TLS_VERSION", "UPSTREAM_TRANSPORT_FAILURE_REASON",
	"UPSTREAM_WIRE_BYTES_RECEIVED", "UPSTREAM_WIRE_BYTES_SENT", "VIRTUAL_CLUSTER_NAME",
)

// argOperators take an argument in parentheses; START_TIME's is optional
// (a strftime format).
var argOperators = setOf("ENVIRONMENT", "REQ", "REQ_WITHOUT_QUERY", "RESP", "TRAILER", "START_TIME")

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// operatorRE matches one command operator: %NAME%, %NAME(args)% or
// %NAME(args)%:N (a maximum length).
var operatorRE = regexp.MustCompile(`%([A-Z_0-9]+)(\(([^)]*)\))?%(:[0-9]+)?`)

// CheckFormatString reports an Envoy format string Envoy would refuse:
// unknown command operators, an argument missing or given where none is
// taken, or a lone '%'. Catching these here keeps a typo from costing the
// listeners (Envoy rejects the whole listener update).
func CheckFormatString(s string) error {
	for _, m := range operatorRE.FindAllStringSubmatchIndex(s, -1) {
		name := s[m[2]:m[3]]
		hasArgs := m[4] >= 0
		switch {
		case name == "START_TIME":
		case argOperators[name]:
			if !hasArgs || m[6] == m[7] {
				return fmt.Errorf("%%%s%% needs an argument in parentheses, such as %%%s(USER-AGENT)%%", name, name)
			}
		case plainOperators[name]:
			if hasArgs {
				return fmt.Errorf("%%%s%% takes no argument", name)
			}
		default:
			return fmt.Errorf("%%%s%% is not an Envoy command operator", name)
		}
		if m[8] >= 0 && name != "REQ" && name != "RESP" && name != "TRAILER" && name != "REQ_WITHOUT_QUERY" {
			return fmt.Errorf("%%%s%% cannot be truncated", name)
		}
	}
	rest := operatorRE.ReplaceAllString(s, "")
	if strings.Contains(strings.ReplaceAll(rest, "%%", ""), "%") {
		return fmt.Errorf("format %q has a '%%' that starts no command operator (write %%%% for a literal one)", s)
	}
	return nil
}

// JSONFieldFormats resolves json-fields entries to the format of each
// field, as Contour does, and checks them.
func JSONFieldFormats(entries []string) (map[string]string, error) {
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		name, format, explicit := strings.Cut(e, "=")
		switch {
		case name == "":
			return nil, fmt.Errorf("json-fields entry %q has no field name", e)
		case explicit:
			if format == "" {
				return nil, fmt.Errorf("json-fields entry %q has no format after '='", e)
			}
			if err := CheckFormatString(format); err != nil {
				return nil, fmt.Errorf("json-fields entry %q: %w", e, err)
			}
		case namedJSONFields[name] != "":
			format = namedJSONFields[name]
		case plainOperators[strings.ToUpper(name)]:
			format = "%" + strings.ToUpper(name) + "%"
		default:
			return nil, fmt.Errorf("json-fields entry %q is neither a known field nor an Envoy command operator; write %s=%%FORMAT%% for a field of your own", e, e)
		}
		out[name] = format
	}
	return out, nil
}

// accessLogs is the access log of one listener, writing to path, or nil
// when the access log is disabled. Contour's log levels filter by status
// code: error logs responses of 300 and up, critical 500 and up, each also
// every response Envoy flagged (no healthy upstream, timeout, reset...).
func accessLogs(cfg AccessLog, path string) []*accesslog.AccessLog {
	if cfg.Level == AccessLogLevelDisabled {
		return nil
	}
	format := &core.SubstitutionFormatString{}
	file := &fileaccesslog.FileAccessLog{Path: path}
	if cfg.Format == AccessLogEnvoy {
		if cfg.FormatString != "" {
			format.Format = &core.SubstitutionFormatString_TextFormatSource{
				TextFormatSource: &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: cfg.FormatString}},
			}
			format.Formatters = formatters(cfg.FormatString)
			file.AccessLogFormat = &fileaccesslog.FileAccessLog_LogFormat{LogFormat: format}
		}
	} else {
		fields := cfg.JSONFields
		if len(fields) == 0 {
			fields = DefaultJSONFields
		}
		// Checked when the configuration was read; entries that do not
		// resolve cannot reach here.
		formats, _ := JSONFieldFormats(fields)
		names := make([]string, 0, len(formats))
		for n := range formats {
			names = append(names, n)
		}
		sort.Strings(names)
		st := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(names))}
		var all strings.Builder
		for _, n := range names {
			st.Fields[n] = structpb.NewStringValue(formats[n])
			all.WriteString(formats[n])
		}
		format.Format = &core.SubstitutionFormatString_JsonFormat{JsonFormat: st}
		// Fields without a value (a header the request lacks) are left
		// out rather than logged as null, as in Contour.
		format.OmitEmptyValues = true
		format.Formatters = formatters(all.String())
		file.AccessLogFormat = &fileaccesslog.FileAccessLog_LogFormat{LogFormat: format}
	}
	return []*accesslog.AccessLog{{
		Name:       wellknown.FileAccessLog,
		ConfigType: &accesslog.AccessLog_TypedConfig{TypedConfig: toAny(file)},
		Filter:     levelFilter(cfg.Level),
	}}
}

// formatters are the formatter extensions the format needs: Envoy only
// knows %REQ_WITHOUT_QUERY% with its extension loaded.
func formatters(format string) []*core.TypedExtensionConfig {
	if !strings.Contains(format, "%REQ_WITHOUT_QUERY(") {
		return nil
	}
	return []*core.TypedExtensionConfig{{
		Name:        "envoy.formatter.req_without_query",
		TypedConfig: toAny(&reqwithoutquery.ReqWithoutQuery{}),
	}}
}

func levelFilter(level string) *accesslog.AccessLogFilter {
	var min uint32
	switch level {
	case AccessLogLevelError:
		min = 300
	case AccessLogLevelCritical:
		min = 500
	default:
		return nil
	}
	return &accesslog.AccessLogFilter{FilterSpecifier: &accesslog.AccessLogFilter_OrFilter{OrFilter: &accesslog.OrFilter{
		Filters: []*accesslog.AccessLogFilter{
			{FilterSpecifier: &accesslog.AccessLogFilter_StatusCodeFilter{StatusCodeFilter: &accesslog.StatusCodeFilter{
				Comparison: &accesslog.ComparisonFilter{
					Op:    accesslog.ComparisonFilter_GE,
					Value: &core.RuntimeUInt32{DefaultValue: min, RuntimeKey: "proxyctl.accesslog.status_code_min"},
				},
			}}},
			// No flags listed: any response flag matches.
			{FilterSpecifier: &accesslog.AccessLogFilter_ResponseFlagFilter{ResponseFlagFilter: &accesslog.ResponseFlagFilter{}}},
		},
	}}}
}
