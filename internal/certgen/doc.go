// Package certgen makes the certificates for xDS mutual TLS: a CA, a server
// certificate for proxyctl and a client certificate for Envoy.
//
// It writes them to files or to Kubernetes Secrets (`proxyctl certgen`), and
// tests use it as their one test CA.
//
// Keys are ECDSA P-256: what Go, BoringSSL (Envoy) and every TLS stack
// support, small and fast. Envoy does not accept Ed25519 certificates for
// its TLS contexts. The CA key is never written anywhere: to renew, run
// certgen again, which replaces all three certificates at once.
package certgen
