package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/proxyctl/proxyctl/test/bench"
	"github.com/proxyctl/proxyctl/test/cluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "proxyctl-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		cfg     bench.Config
		results string
		compare bool
		noSave  bool
		timeout time.Duration
		qps     float64
		cpuprof string
		direct  bool
		summary int
	)
	flag.IntVar(&cfg.Replicas, "replicas", 3, "proxyctl replicas (R), with leader election")
	flag.IntVar(&cfg.Envoys, "envoys", 50, "simulated Envoys (C) spread over the replicas; as many fresh ones connect at the end")
	flag.IntVar(&cfg.Proxies, "proxies", 1000, "HTTPProxies (N), each with a Service and an EndpointSlice")
	flag.IntVar(&cfg.Changes, "changes", 20, "single changes timed (K)")
	flag.IntVar(&cfg.Workers, "workers", 32, "concurrent creates")
	flag.Float64Var(&qps, "qps", 2000, "the harness's own client QPS")
	flag.IntVar(&cfg.Burst, "burst", 4000, "the harness's own client burst")
	flag.Func("serve-arg", "extra `proxyctl serve` flag for every replica (repeatable), e.g. --serve-arg=--kubernetes-client-qps=500", func(s string) error {
		cfg.ServeArgs = append(cfg.ServeArgs, s)
		return nil
	})
	flag.BoolVar(&cfg.RealEnvoy, "real-envoy", true, "after the simulated Envoys, run a real Envoy (bin/envoy): time to load the config, to apply a change, its CPU per change, and requests through it during a burst")
	flag.BoolVar(&cfg.Delta, "delta", false, "the real Envoy uses incremental (delta) xDS")
	flag.IntVar(&cfg.BurstChanges, "burst-changes", 100, "changes of the real Envoy's burst")
	flag.BoolVar(&direct, "direct", false, "measure the xDS side alone: an in-process DAG of N proxies served by one xDS server to C simulated Envoys and a real one, without API server or status (see test/bench/direct.go)")
	flag.BoolVar(&cfg.Pprof, "pprof", false, "serve pprof on each replica's --debug-address (loopback) and print the addresses")
	flag.StringVar(&cfg.Binary, "binary", "", "proxyctl executable to run (default: build ./cmd/proxyctl without -race)")
	flag.StringVar(&cfg.LogDir, "log-dir", "", "keep the replicas' logs here (default: a temporary directory, removed unless the run fails)")
	flag.DurationVar(&cfg.PhaseTimeout, "phase-timeout", 5*time.Minute, "limit of each waiting phase")
	flag.DurationVar(&timeout, "timeout", 30*time.Minute, "limit of the whole run")
	flag.StringVar(&results, "results", "", "JSON-lines file runs are appended to (default <repo>/.bench/results.jsonl)")
	flag.BoolVar(&compare, "compare", false, "print the previous run of the same size next to this one")
	flag.BoolVar(&noSave, "no-save", false, "do not append this run to the results file")
	flag.IntVar(&summary, "summarize", 0, "run nothing: print min / median / max of the last `n` runs of this size (--proxies, --envoys, --replicas; with --direct, --delta) from the results file")
	flag.StringVar(&cpuprof, "cpuprofile", "", "write the harness's own CPU profile (simulated Envoys included) to this file")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(flag.Args(), " "))
	}
	cfg.QPS = float32(qps)
	cfg.Log = os.Stderr

	root, err := cluster.FindRepoRoot()
	if err != nil {
		return err
	}
	cfg.RepoRoot = root
	if results == "" {
		results = filepath.Join(root, ".bench", "results.jsonl")
	}
	directResults := strings.TrimSuffix(results, ".jsonl") + "-direct.jsonl"
	if summary > 0 {
		path := results
		if direct {
			path = directResults
		}
		return bench.Summarize(os.Stdout, path, cfg, direct, summary)
	}
	var prev *bench.Result
	if compare {
		if prev, err = bench.Previous(results, cfg); err != nil {
			return err
		}
	}

	// Ctrl-C cancels the run; Run stops everything it started before it
	// returns.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if cpuprof != "" {
		f, err := os.Create(cpuprof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if direct {
		res, err := bench.RunDirect(ctx, bench.DirectConfig{
			Proxies: cfg.Proxies, Envoys: cfg.Envoys, Changes: cfg.Changes, BurstChanges: cfg.BurstChanges,
			Delta: cfg.Delta, Log: os.Stderr, PhaseTimeout: cfg.PhaseTimeout,
		})
		if err != nil {
			return err
		}
		if noSave {
			return nil
		}
		return bench.AppendJSON(directResults, res)
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Println()
	if err := res.WriteTable(os.Stdout, prev); err != nil {
		return err
	}
	if noSave {
		return nil
	}
	if err := res.Append(results); err != nil {
		return err
	}
	fmt.Printf("\nappended to %s\n", results)
	return nil
}
