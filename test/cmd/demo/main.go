package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	dir := flag.String("dir", ".demo", "working directory for the demo's state")
	httpPort := flag.Int("http-port", 8080, "Envoy's HTTP port on 127.0.0.1")
	httpsPort := flag.Int("https-port", 8443, "Envoy's HTTPS port on 127.0.0.1")
	exitAfterReady := flag.Bool("exit-after-ready", false, "stop once the first request succeeded (for tests)")
	flag.Parse()

	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	d := &demo{dir: abs, httpPort: *httpPort, httpsPort: *httpsPort, started: time.Now()}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	err = d.run(ctx, *exitAfterReady)
	cleanupErr := d.cleanup(err == nil)
	if err != nil {
		var se stepError
		if errors.As(err, &se) {
			fmt.Fprintf(os.Stderr, "\nmake demo failed at step %q: %v\nLogs: %s (kept for you to read)\n", se.step, se.err, d.logDir())
		} else {
			fmt.Fprintln(os.Stderr, "\nmake demo failed:", err)
		}
		os.Exit(1)
	}
	if cleanupErr != nil {
		fmt.Fprintln(os.Stderr, "demo: cleaning up:", cleanupErr)
		os.Exit(1)
	}
	fmt.Println("Everything the demo started is stopped and", d.dir, "is removed.")
}
