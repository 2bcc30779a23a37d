//go:build tools

// Package tools records the server this module builds, so that `go mod
// tidy` keeps its dependencies.
package tools

import _ "istio.io/istio/samples/extauthz/cmd/extauthz"
