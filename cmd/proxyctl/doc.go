// Command proxyctl is the one binary of the project: the controller (serve),
// and the tools around it (bootstrap, certgen, envoy shutdown, cli, version).
//
// main only parses the command line, runs the chosen subcommand and turns its
// error into one log line and an exit code. Each subcommand registers its flags
// into a plain struct, and serve is split by concern (clients, informers, xDS,
// status, election, HTTP) so that no file wires everything: each long-lived
// piece joins one run group whose first member to return stops the rest.
package main
