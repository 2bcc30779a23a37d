// Command demo runs proxyctl's main job on one machine, for `make demo`.
//
// It starts a real control plane (etcd and kube-apiserver), three proxyctl
// replicas with leader election and xDS mutual TLS, a real Envoy bootstrapped
// by `proxyctl bootstrap` on 127.0.0.1:8080 and :8443, sample backends in a
// network namespace of its own, and sample HTTPProxies. It stays in the
// foreground with a short live view until Ctrl-C, then stops everything it
// started and removes what it made.
package main
