// Package envoy runs the real Envoy (bin/envoy) for tests.
//
// Behaviour is proved with real HTTP through a real Envoy, not by reading the
// configuration. Each Envoy gets a bootstrap from internal/bootstrap pointing
// at the test's xDS server, an admin port of its own on loopback and a log
// file, and runs in its own process group so that stopping it leaves nothing
// behind. Several can run at once.
package envoy
