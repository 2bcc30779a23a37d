package main

import (
	"errors"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/proxyctl/proxyctl/internal/shutdown"
)

// TestEnvoyShutdownDefaults checks the flags default to Contour's values,
// with the admin address where `proxyctl bootstrap` puts it.
func TestEnvoyShutdownDefaults(t *testing.T) {
	app := kingpin.New("proxyctl", "")
	mgrCmd, sdCmd, mgr, sd := registerEnvoy(app)
	if cmd, err := app.Parse([]string{"envoy", "shutdown"}); err != nil || cmd != sdCmd.FullCommand() {
		t.Fatalf("parse: %q, %v", cmd, err)
	}
	want := shutdown.Config{AdminAddress: "127.0.0.1:9001", CheckInterval: 5 * time.Second, ReadyFile: "/admin/ok"}
	if sd.cfg != want {
		t.Errorf("shutdown flags %+v, want %+v", sd.cfg, want)
	}
	if cmd, err := app.Parse([]string{"envoy", "shutdown-manager"}); err != nil || cmd != mgrCmd.FullCommand() {
		t.Fatalf("parse: %q, %v", cmd, err)
	}
	if *mgr != (shutdownManagerContext{servePort: 8090, readyFile: "/admin/ok", readyCheckInterval: time.Second}) {
		t.Errorf("shutdown-manager flags %+v", *mgr)
	}
}

func TestEnvoyShutdownUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"zero interval":    {"envoy", "shutdown", "--check-interval=0s"},
		"negative minimum": {"envoy", "shutdown", "--min-open-connections=-1"},
	} {
		t.Run(name, func(t *testing.T) {
			app := kingpin.New("proxyctl", "")
			_, _, _, sd := registerEnvoy(app)
			if _, err := app.Parse(args); err != nil {
				t.Fatal(err)
			}
			if err := sd.run(); !errors.As(err, new(usageError)) {
				t.Fatalf("err %v, want a usage error", err)
			}
		})
	}
}
