package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/proxyctl/proxyctl/test/cluster"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "kubeconfig", "where to write the kubeconfig")
	audit := flag.Bool("audit", false, "write the API server's audit log")
	flag.Parse()
	if err := run(*kubeconfig, *audit); err != nil {
		fmt.Fprintln(os.Stderr, "kube-up:", err)
		os.Exit(1)
	}
}

func run(kubeconfig string, audit bool) error {
	c, err := cluster.New(cluster.Options{AuditLog: audit})
	if err != nil {
		return err
	}
	defer c.Stop()
	data, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		return err
	}
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		return err
	}
	fmt.Printf("API server %s ready in %s\nkubeconfig: %s\n", c.Host, c.StartupTime, kubeconfig)
	if audit {
		fmt.Printf("audit log: %s\n", c.AuditLogPath)
	}
	fmt.Println("Ctrl-C stops it.")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return nil
}
