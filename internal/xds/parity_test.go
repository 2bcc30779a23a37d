package xds

import (
	"regexp"
	"slices"
	"testing"

	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// The operators Contour lets through, and only those; every other '%' is
// escaped so Envoy takes it literally.
func TestEscapeHeaderValueAsContour(t *testing.T) {
	for in, want := range map[string]string{
		"%REQ(x-a?x-b):8%":                         "%REQ(x-a?x-b):8%",
		"%REQ(:authority)%":                        "%REQ(:authority)%",
		"%REQ(a b)%":                               "%%REQ(a b)%%",
		"%HOSTNAME%":                               "%HOSTNAME%",
		"%DOWNSTREAM_TLS_VERSION%":                 "%DOWNSTREAM_TLS_VERSION%",
		"%START_TIME%":                             "%%START_TIME%%",
		"%CONTOUR_SERVICE_NAME%":                   "%%CONTOUR_SERVICE_NAME%%",
		"%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
	} {
		if got := escapeHeaderValue(in); got != want {
			t.Errorf("escapeHeaderValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// Envoy matches a header regex against the whole value, as MatchString
// does with the anchors added here.
func TestWildcardAuthority(t *testing.T) {
	if wildcardAuthority("example.com") != nil {
		t.Fatal("an exact host got an authority match")
	}
	re := regexp.MustCompile(`^(?:` + wildcardAuthority("*.domain.io").GetStringMatch().GetSafeRegex().GetRegex() + `)$`)
	for host, want := range map[string]bool{
		"foo.domain.io":         true,
		"foo.domain.io:8080":    true,
		"a-1.domain.io":         true,
		"bar.foo.domain.io":     false,
		"bar.foo.domain.io:80":  false,
		"domain.io":             false,
		".domain.io":            false,
		"fooxdomain.io":         false,
		"foo.domain.io.evil.io": false,
	} {
		if got := re.MatchString(host); got != want {
			t.Errorf("%q matched %v, want %v", host, got, want)
		}
	}
}

func TestMergeSlashesAndMisdirectedFilter(t *testing.T) {
	d := build(hosts(vhost("example.com", prefix("/", to(upstream("default", "kuard", 80))))),
		tlsHost("secure.example.com", secret("default", "tls"), prefix("/", to(upstream("default", "kuard", 80)))))
	for _, cfg := range []ListenerConfig{testListenerConfig, {DisableMergeSlashes: true}} {
		r := Translate(d, cfg)
		if len(r.Listeners) != 2 {
			t.Fatalf("%d listeners", len(r.Listeners))
		}
		for i, l := range r.Listeners {
			m := &hcm.HttpConnectionManager{}
			if err := l.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(m); err != nil {
				t.Fatal(err)
			}
			if m.MergeSlashes == cfg.DisableMergeSlashes {
				t.Errorf("%s: merge_slashes %v with DisableMergeSlashes %v", l.Name, m.MergeSlashes, cfg.DisableMergeSlashes)
			}
			var filters []string
			for _, f := range m.HttpFilters {
				filters = append(filters, f.Name)
			}
			want := []string{corsFilterName, localRateLimitFilterName, cookieRewriteFilterName, rbacFilterName, "envoy.filters.http.router"}
			// HTTPS: the 421 filter; HTTP: the scope filter (scopes.go).
			want = append([]string{"envoy.filters.http.lua"}, want...)
			// Gzip compression by default, first, as in Contour.
			want = append([]string{"envoy.filters.http.compressor"}, want...)
			if !slices.Equal(filters, want) {
				t.Errorf("listener %d (%s) filters %v, want %v", i, l.Name, filters, want)
			}
		}
	}
}
