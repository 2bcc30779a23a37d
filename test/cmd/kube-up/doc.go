// Command kube-up runs the test control plane in the foreground, for trying
// proxyctl by hand.
//
// It starts a real etcd and kube-apiserver from bin/ with the project's CRDs
// installed, writes a kubeconfig, and stops everything it started on SIGINT
// or SIGTERM.
package main
