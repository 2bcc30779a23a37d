// Package rungroup runs the long-lived parts of a process so that the first to
// return stops all the others.
//
// A server that quietly returns nil must end the process too, which errgroup
// alone does not do; with one stop rule, serve returns the group's result and
// nothing is left running behind it.
package rungroup
