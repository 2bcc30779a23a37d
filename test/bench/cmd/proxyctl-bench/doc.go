// Command proxyctl-bench runs the benchmark harness (test/bench) and prints
// its figures next to issue 4's targets.
//
// It starts and stops its own API server and appends each result to
// .bench/results.jsonl, so runs can be compared over time:
//
//	go run ./test/bench/cmd/proxyctl-bench --proxies 10000 --compare
package main
