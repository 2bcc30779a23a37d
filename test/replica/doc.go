// Package replica runs proxyctl replicas as separate processes of the real
// binary, for tests and the demo.
//
// Running the real binary the way Kubernetes would (flags, environment,
// restarts after an exit) tests what users run: the command line, the run
// group's stop rule, leader election between processes.
package replica
