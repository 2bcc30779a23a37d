// Package xds turns the DAG into Envoy v3 resources and serves them to every
// Envoy over ADS.
//
// Translation is a pure function: the same DAG and ListenerConfig always give
// the same resources, in the same order, byte for byte once marshalled
// deterministically, so every replica serves identical versions and an Envoy
// that reconnects to another replica is pushed nothing new. The Translator
// memoizes by DAG pointer so only what changed is translated again. The
// serving side (Cache, Server) holds each resource encoded once, checks each
// snapshot for consistency before serving it, and answers nothing before the
// first DAG, so a restarting replica never hands an Envoy an empty
// configuration.
package xds
