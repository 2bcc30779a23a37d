package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
)

func proxy(name string, generation int64, mutate ...func(*contourv1.HTTPProxy)) *contourv1.HTTPProxy {
	p := &contourv1.HTTPProxy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Generation: generation},
		Spec: contourv1.HTTPProxySpec{
			VirtualHost: &contourv1.VirtualHost{Fqdn: name + ".example.com", TLS: &contourv1.TLS{SecretName: "cert"}},
			Routes:      []contourv1.Route{{Services: []contourv1.Service{{Name: "web", Port: 80}}}},
		},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func service(name, resourceVersion string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: resourceVersion},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}
}

func slice(name, svc, resourceVersion string) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{
		Namespace: "ns", Name: name, ResourceVersion: resourceVersion,
		Labels: map[string]string{discoveryv1.LabelServiceName: svc},
	}}
}

func secret(name string, typ corev1.SecretType) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Type: typ}
}

func TestCacheReportsOnlyChangesThatMatter(t *testing.T) {
	c := newObjectCache(nil)
	steps := []struct {
		name   string
		obj    any
		delete bool
		want   bool
	}{
		{"new proxy", proxy("a", 1), false, true},
		{"status-only update of the proxy", proxy("a", 1), false, false},
		{"spec change bumps generation", proxy("a", 2), false, true},
		{"annotation change", proxy("a", 2, func(p *contourv1.HTTPProxy) { p.Annotations = map[string]string{"x": "y"} }), false, true},
		{"referenced service", service("web", "1"), false, true},
		{"unreferenced service", service("other", "1"), false, false},
		{"referenced service, status-only change", service("web", "2"), false, false},
		{"slice of referenced service", slice("web-abc", "web", "1"), false, true},
		{"slice resync", slice("web-abc", "web", "1"), false, false},
		{"slice of unreferenced service", slice("other-abc", "other", "1"), false, false},
		{"referenced TLS secret", secret("cert", corev1.SecretTypeTLS), false, true},
		{"unreferenced TLS secret", secret("unused", corev1.SecretTypeTLS), false, false},
		{"opaque secret never cached", secret("token", corev1.SecretTypeOpaque), false, false},
		{"delete unreferenced service", service("other", "1"), true, false},
		{"delete referenced service", service("web", "2"), true, true},
		{"delete unknown proxy", proxy("ghost", 1), true, false},
		{"proxy of another class is dropped", proxy("a", 3, func(p *contourv1.HTTPProxy) { p.Spec.IngressClassName = "other" }), false, true},
		{"another class again changes nothing", proxy("a", 4, func(p *contourv1.HTTPProxy) { p.Spec.IngressClassName = "other" }), false, false},
	}
	for _, s := range steps {
		got := c.apply(event{obj: s.obj, delete: s.delete})
		if got != s.want {
			t.Errorf("%s: rebuild needed = %v, want %v", s.name, got, s.want)
		}
	}
	if _, ok := c.objs.Secrets[key("ns", "token")]; ok {
		t.Error("an opaque Secret was cached")
	}
	if len(c.objs.HTTPProxies) != 0 {
		t.Errorf("proxies of another class cached: %v", c.objs.HTTPProxies)
	}
}

// TestClassMatches follows Contour's ingressclass package: annotations
// take precedence over spec.ingressClassName, projectcontour.io's over
// kubernetes.io's (the first present, even empty); with classes configured
// the class must be one of them, without, it must be empty or "contour".
func TestClassMatches(t *testing.T) {
	withClass := func(field string, annotations ...string) *contourv1.HTTPProxy {
		return proxy("p", 1, func(p *contourv1.HTTPProxy) {
			p.Spec.IngressClassName = field
			for i := 0; i+1 < len(annotations); i += 2 {
				if p.Annotations == nil {
					p.Annotations = map[string]string{}
				}
				p.Annotations[annotations[i]] = annotations[i+1]
			}
		})
	}
	none := []string(nil)
	edge := []string{"edge"}
	two := []string{"contour", "team1"}
	for name, c := range map[string]struct {
		proxy      *contourv1.HTTPProxy
		configured []string
		want       bool
	}{
		"no class, none configured":                   {withClass(""), none, true},
		"contour's default, none configured":          {withClass("contour"), none, true},
		"contour's default annotation, none":          {withClass("", classAnnotation, "contour"), none, true},
		"other class, none configured":                {withClass("nginx"), none, false},
		"other annotation, none configured":           {withClass("", legacyClassAnnotation, "nginx"), none, false},
		"no class, one configured":                    {withClass(""), edge, false},
		"matching field":                              {withClass("edge"), edge, true},
		"matching annotation":                         {withClass("", classAnnotation, "edge"), edge, true},
		"matching legacy annotation":                  {withClass("", legacyClassAnnotation, "edge"), edge, true},
		"annotation wins over field":                  {withClass("edge", legacyClassAnnotation, "other"), edge, false},
		"annotation wins over field, matching":        {withClass("other", classAnnotation, "edge"), edge, true},
		"projectcontour.io wins over kubernetes.io":   {withClass("", classAnnotation, "other", legacyClassAnnotation, "edge"), edge, false},
		"empty annotation leaves it to the field":     {withClass("edge", classAnnotation, ""), edge, true},
		"empty first annotation hides the second":     {withClass("", classAnnotation, "", legacyClassAnnotation, "edge"), edge, false},
		"first of two configured":                     {withClass("contour"), two, true},
		"second of two configured":                    {withClass("team1"), two, true},
		"second of two by annotation":                 {withClass("", legacyClassAnnotation, "team1"), two, true},
		"none of two configured":                      {withClass("team2"), two, false},
		"no class, two configured":                    {withClass(""), two, false},
		"contour is not implied when classes are set": {withClass(""), edge, false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := classMatches(c.proxy, c.configured); got != c.want {
				t.Errorf("classMatches = %v, want %v", got, c.want)
			}
		})
	}
}

// An ExtensionService is watched by every replica: it always matters but
// for our own status writes, and so do the Services, slices and CA Secret
// it names, until it is gone.
func TestCacheTracksExtensionServices(t *testing.T) {
	c := newObjectCache(nil)
	ext := func(generation int64, svc string) *contourv1alpha1.ExtensionService {
		return &contourv1alpha1.ExtensionService{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "authz", Generation: generation},
			Spec: contourv1alpha1.ExtensionServiceSpec{
				Services:           []contourv1alpha1.ExtensionServiceTarget{{Name: svc, Port: 80}},
				UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "ca", SubjectName: "authz"},
			},
		}
	}
	steps := []struct {
		name   string
		obj    any
		delete bool
		want   bool
	}{
		{"new ExtensionService", ext(1, "authz"), false, true},
		{"status-only update", ext(1, "authz"), false, false},
		{"its Service", service("authz", "1"), false, true},
		{"its Service's slice", slice("authz-1", "authz", "1"), false, true},
		{"its CA Secret", secret("ca", corev1.SecretTypeOpaque), false, false}, // not usable: no ca.crt
		{"another Service", service("other", "1"), false, false},
		{"names another Service", ext(2, "other"), false, true},
		{"the first Service, no longer named, deleted", service("authz", "2"), true, false},
		{"the second Service's slice", slice("other-1", "other", "1"), false, true},
		{"deleted", ext(2, "other"), true, true},
		{"the second Service, named by nothing, deleted", service("other", "2"), true, false},
	}
	for _, s := range steps {
		var got bool
		if s.delete {
			got = c.remove(s.obj)
		} else {
			got = c.insert(s.obj)
		}
		if got != s.want {
			t.Errorf("%s: rebuild %t, want %t", s.name, got, s.want)
		}
	}
}
