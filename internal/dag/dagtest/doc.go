// Package dagtest turns fuzz input into the objects dag.Build reads, for the
// fuzz tests of dag and its consumers.
//
// Sharing one generator means the fuzzers of dag and of xds exercise the same
// worlds, and Sequence turns the same input into a series of edits for the
// incremental Builder. It is imported only by tests.
package dagtest
