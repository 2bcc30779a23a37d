// Package arch checks that the import graph runs one way: cmd/proxyctl
// wires controller, xds, xdsserver and status; they consume dag; dag
// consumes the API types; nothing points back.
//
// A model package that imports its consumers, or two consumers that
// import each other, makes every change ripple; the test keeps the layers
// as DESIGN describes them, with the packages added since.
package arch
