package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/alecthomas/kingpin/v2"

	"github.com/proxyctl/proxyctl/internal/bootstrap"
)

// bootstrapContext holds the arguments of `proxyctl bootstrap`.
type bootstrapContext struct {
	path string
	opts bootstrap.Options
	// stdout is where "-" writes; os.Stdout unless a test replaces it.
	stdout io.Writer
}

func registerBootstrap(app *kingpin.Application) (*kingpin.CmdClause, *bootstrapContext) {
	ctx := &bootstrapContext{stdout: os.Stdout}
	o := &ctx.opts
	cmd := app.Command("bootstrap", "Write an Envoy bootstrap (JSON) that points Envoy at the xDS server over ADS.")
	cmd.Arg("path", "File to write the bootstrap to, or - for standard output.").Required().StringVar(&ctx.path)

	cmd.Flag("xds-address", "Address (IP or DNS name) of the xDS server.").Default(bootstrap.DefaultXDSAddress).StringVar(&o.XDSAddress)
	cmd.Flag("xds-port", "Port of the xDS server.").Default(fmt.Sprint(bootstrap.DefaultXDSPort)).IntVar(&o.XDSPort)
	cmd.Flag("xds-delta", "Use the incremental (delta) xDS protocol.").BoolVar(&o.Delta)
	cmd.Flag("admin-address", "IP address of Envoy's admin interface. Keep it on loopback.").Default(bootstrap.DefaultAdminAddress).StringVar(&o.AdminAddress)
	cmd.Flag("admin-port", "Port of Envoy's admin interface.").Default(fmt.Sprint(bootstrap.DefaultAdminPort)).IntVar(&o.AdminPort)
	cmd.Flag("xds-ca-file", "CA certificate that verifies the xDS server (mutual TLS).").StringVar(&o.CAFile)
	cmd.Flag("xds-cert-file", "Client certificate Envoy presents to the xDS server (mutual TLS).").StringVar(&o.CertFile)
	cmd.Flag("xds-key-file", "Key of the client certificate (mutual TLS).").StringVar(&o.KeyFile)
	cmd.Flag("node-id", "Node id Envoy sends to the xDS server; the hostname by default.").StringVar(&o.NodeID)
	return cmd, ctx
}

// run writes the bootstrap. Option values that cannot give a bootstrap are
// usage errors; nothing is written then.
func (b *bootstrapContext) run() error {
	opts, err := b.opts.Defaults()
	if err != nil {
		return err
	}
	// The flags have defaults of their own, so an empty address or a zero
	// port was asked for and is an error, not "use the default".
	opts.XDSAddress, opts.XDSPort = b.opts.XDSAddress, b.opts.XDSPort
	opts.AdminAddress, opts.AdminPort = b.opts.AdminAddress, b.opts.AdminPort
	if err := opts.Validate(); err != nil {
		return usagef("%v", err)
	}
	built, err := bootstrap.Build(opts)
	if err != nil {
		return err
	}
	data, err := bootstrap.Marshal(built)
	if err != nil {
		return err
	}
	// kingpin hands a lone "-" argument over as "" (it lexes it as an
	// empty short flag), so both mean standard output.
	if b.path == "-" || b.path == "" {
		_, err := b.stdout.Write(data)
		return err
	}
	return writeFileAtomic(b.path, data)
}

// writeFileAtomic writes data to a temporary file next to path and renames it
// over path, so an Envoy starting at the same time never reads half a file.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
