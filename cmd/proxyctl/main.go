package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"

	"github.com/proxyctl/proxyctl/internal/config"
)

// Exit codes: 1 for a failure while running, 2 for a command line that
// cannot be run (the convention of most Unix tools).
const (
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks an error in the command line or flag values.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	app := kingpin.New("proxyctl", "A Kubernetes ingress controller for Envoy, compatible with Contour's HTTPProxy.")
	app.HelpFlag.Short('h')
	app.Terminate(func(code int) { os.Exit(code) })

	serveCmd, serve := registerServe(app)
	versionCmd := registerVersion(app)
	bootstrapCmd, bootstrapCtx := registerBootstrap(app)
	certgenCmd, certgenCtx := registerCertgen(app)
	cliCmd, cliCtx := registerCLI(app)
	shutdownManagerCmd, shutdownShutdownCmd, shutdownManagerCtx, shutdownCtx := registerEnvoy(app)

	cmd, err := app.Parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "proxyctl: error: %v, try --help\n", err)
		os.Exit(exitUsage)
	}

	switch cmd {
	case serveCmd.FullCommand():
		err = serve.run()
	case versionCmd.FullCommand():
		err = printVersion(os.Stdout)
	case bootstrapCmd.FullCommand():
		err = bootstrapCtx.run()
	case certgenCmd.FullCommand():
		err = certgenCtx.run()
	case shutdownManagerCmd.FullCommand():
		err = shutdownManagerCtx.run()
	case shutdownShutdownCmd.FullCommand():
		err = shutdownCtx.run()
	default:
		// `cli lds`, `cli rds`, ...: the subcommand names the type.
		if kind, ok := strings.CutPrefix(cmd, cliCmd.FullCommand()+" "); ok {
			err = cliCtx.run(kind)
		}
	}
	if err == nil {
		return
	}
	// A bad configuration file: the message names the line and the key,
	// and --help would not help.
	if ce := new(config.Error); errors.As(err, &ce) {
		fmt.Fprintf(os.Stderr, "proxyctl: error: %v\n", err)
		os.Exit(exitUsage)
	}
	if errors.As(err, new(usageError)) {
		fmt.Fprintf(os.Stderr, "proxyctl: error: %v, try --help\n", err)
		os.Exit(exitUsage)
	}
	logrus.WithField("command", cmd).WithError(err).Error("proxyctl exited with an error")
	os.Exit(exitFailure)
}
