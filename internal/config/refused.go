package config

import (
	"fmt"
	"reflect"
	"strings"
)

// refusal is a Contour key proxyctl does not serve yet. The file may still
// give it the value that means what proxyctl does anyway (Contour's
// default: false, empty, or allow), so Contour's own example file loads;
// any other value stops the start.
type refusal struct {
	key   string
	allow string
}

// refused lists them, one line each: serving a key means deleting its line
// here and wiring the value through (see cmd/proxyctl/serve_config.go).
var refused = []refusal{
	{key: "ingress-status-address"},
	{key: "gateway"},
	{key: "tls.envoy-client-certificate"},
	{key: "tls.fingerprint"},
	// Only false: proxyctl serves no Ingress for the policies to apply to.
	{key: "policy.applyToIngress"},
	{key: "cluster.upstream-tls"},
	{key: "network.admin-port", allow: "9001"},
	{key: "listener.max-requests-per-io-cycle"},
	{key: "listener.max-connections-per-listener"},
	{key: "listener.max-connections-to-accept-per-socket-event"},
	// Only gRPC servers, as for virtualhost.authorization.
	{key: "globalExtAuth.serviceType", allow: "grpc"},
	{key: "globalExtAuth.httpSettings"},
	{key: "metrics"},
	{key: "tracing"},
	{key: "featureFlags"},
	{key: "omEnforcedHealthListener"},
	{key: "runtime-settings"},
}

// refuse stops at the first refused key the file gives another value.
func (p *Parameters) refuse() error {
	for _, r := range refused {
		keys := p.keysUnder(r.key)
		if len(keys) == 0 {
			continue
		}
		v := valueAt(reflect.ValueOf(p).Elem(), r.key)
		if v.IsZero() || (r.allow != "" && fmt.Sprint(reflect.Indirect(v).Interface()) == r.allow) {
			continue
		}
		if keys[0] == r.key {
			return p.errorf(r.key, "not served by proxyctl yet; remove it, or give it Contour's default, to start")
		}
		return p.errorf(keys[0], "%s is not served by proxyctl yet; remove it, or give it Contour's default, to start", r.key)
	}
	return nil
}

// valueAt is the field at a dotted key path of the Parameters struct.
func valueAt(v reflect.Value, key string) reflect.Value {
	for _, name := range strings.Split(key, ".") {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return v
			}
			v = v.Elem()
		}
		f, ok := field(v, name)
		if !ok {
			panic("config: refused key " + key + " is not in the schema")
		}
		v = f
	}
	return v
}
