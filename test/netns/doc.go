// Package netns gives a test a network namespace of its own, with backends
// (HTTP, echo, websocket, TLS) listening inside it.
//
// A test can so put several "machines" behind Envoy without containers, and
// no traffic ever leaves the machine. The namespace is joined to the host by a
// veth pair on a random private /24 (10.200-254.Y.0/24): the host side is
// 10.X.Y.1, the namespace side 10.X.Y.2 and more addresses on request. The
// backends run in the test process itself. The namespace has no route beyond
// its /24: nothing in it can reach anything else. Cleanup removes the
// namespace and the veth pair. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and
// iproute2.
package netns
