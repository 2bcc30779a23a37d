// Package shutdown drains an Envoy before its pod stops, so that a rollout
// loses no request.
//
// It works the way Contour's `contour envoy shutdown` and `contour envoy
// shutdown-manager` do. Two processes share the work because Kubernetes runs
// each container's preStop hook on its own. The shutdown manager's preStop
// (`proxyctl envoy shutdown`, Drain here) tells Envoy to fail its health
// checks and drain its listeners, waits until few enough connections are open
// and then writes a ready file. Envoy's own preStop asks the shutdown
// manager's /shutdown endpoint (Server here), which answers only once that
// file exists: the kubelet sends Envoy SIGTERM only after its preStop
// returns, so Envoy keeps serving the connections it has until they are done.
package shutdown
