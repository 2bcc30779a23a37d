// Package leader decides which replica writes status, by holding a Lease.
//
// Every replica reads and serves configuration; only the holder of one Lease
// writes. Leadership is exposed as a channel that closes once, so callers
// never branch on whether election is enabled, and losing leadership ends Run
// with an error: the process exits and starts again rather than trying to
// step down in place.
package leader
