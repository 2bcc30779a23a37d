package main

import (
	"encoding/json"
	"io"

	"github.com/alecthomas/kingpin/v2"

	"github.com/proxyctl/proxyctl/internal/build"
)

func registerVersion(app *kingpin.Application) *kingpin.CmdClause {
	return app.Command("version", "Print the version of proxyctl as JSON.")
}

func printVersion(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(build.Get())
}
