package main

import (
	"errors"
	"testing"
)

func TestCLITransportFlags(t *testing.T) {
	for name, tc := range map[string]struct {
		c         cliContext
		wantUsage bool
	}{
		"insecure":              {cliContext{insecure: true}, false},
		"neither":               {cliContext{}, true},
		"insecure and TLS":      {cliContext{insecure: true, caFile: "ca.crt"}, true},
		"TLS without a key":     {cliContext{caFile: "ca.crt", certFile: "tls.crt"}, true},
		"TLS files not present": {cliContext{caFile: "/nonexistent/ca.crt", certFile: "/nonexistent/tls.crt", keyFile: "/nonexistent/tls.key"}, false},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tc.c.transport()
			if got := errors.As(err, new(usageError)); got != tc.wantUsage {
				t.Errorf("usage error %v (%v), want %v", got, err, tc.wantUsage)
			}
			if name == "TLS files not present" && err == nil {
				t.Error("missing certificate files accepted")
			}
		})
	}
}

func TestCLIRefusesBadArguments(t *testing.T) {
	for name, tc := range map[string]struct {
		kind string
		c    cliContext
	}{
		"unknown type": {"xds", cliContext{insecure: true, port: 8001}},
		"bad port":     {"lds", cliContext{insecure: true, port: 70000}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := tc.c.run(tc.kind); !errors.As(err, new(usageError)) {
				t.Errorf("run(%q): %v, want a usage error", tc.kind, err)
			}
		})
	}
}
