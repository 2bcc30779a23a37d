// Package build reports which proxyctl this is (version and commit).
//
// Version and Commit are set at link time by the Makefile; a plain `go build`
// falls back to the module information the Go toolchain records, so every
// binary can say where it came from in logs, metrics and `proxyctl version`.
package build
