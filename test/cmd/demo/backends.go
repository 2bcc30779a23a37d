package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/proxyctl/proxyctl/test/netns"
)

// backendServer is one sample application instance inside the namespace.
type backendServer struct {
	name string
	ip   string
	port int32
	srv  *http.Server
}

// The sample applications: two instances of the demo app, a canary and a
// blog owned by another team (namespace).
var backendNames = []string{"demo-app-1", "demo-app-2", "demo-canary", "blog"}

const backendPort = 8080

func (d *demo) startBackends() error {
	n, err := netns.Create()
	if err != nil {
		return err
	}
	d.net = n
	for i, name := range backendNames {
		ip, err := n.Addr(i)
		if err != nil {
			return err
		}
		ln, err := n.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(backendPort)))
		if err != nil {
			return err
		}
		b := &backendServer{name: name, ip: ip, port: backendPort}
		b.srv = &http.Server{Handler: hello(name), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = b.srv.Serve(ln) }()
		d.backends = append(d.backends, b)
	}
	return nil
}

func (b *backendServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = b.srv.Shutdown(ctx)
}

// hello answers with one readable line naming the instance, so curl shows
// which backend Envoy picked.
func hello(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "Hello from %s: %s %s%s\n", name, r.Method, r.Host, r.URL.Path)
	})
}

func (d *demo) backend(name string) *backendServer {
	for _, b := range d.backends {
		if b.name == name {
			return b
		}
	}
	return nil
}
