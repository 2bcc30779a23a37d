// Package testutil is the test support every package's tests share:
// polling until a condition holds, and stopping the processes a test
// started.
//
// Tests never sleep to wait: they poll with a deadline, and one
// implementation of that (Eventually) keeps the interval, the timeout
// message and the last error reported the same everywhere. It is imported
// only by tests and test harnesses.
package testutil
