package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"

	"github.com/proxyctl/proxyctl/internal/config"
)

// fileKey ties a serve flag to the configuration file key of the same
// setting. Precedence, highest first: the flag on the command line, its
// environment variable, the file, the flag's default.
type fileKey struct {
	flag  string
	key   string
	envar string
	// given is set by kingpin when the flag is on the command line.
	given *bool
	// apply copies the file's value into the flag's variable.
	apply func(p *config.Parameters)
}

// bindFile registers that flag f and the file's key are one setting.
func (s *serveContext) bindFile(f *kingpin.FlagClause, flag, key, envar string, apply func(p *config.Parameters)) *kingpin.FlagClause {
	k := &fileKey{flag: flag, key: key, envar: envar, given: new(bool), apply: apply}
	s.fileKeys = append(s.fileKeys, k)
	return f.IsSetByUser(k.given)
}

// loadConfig reads --config-path, if given, and applies the keys whose
// flags the user did not set. A file that cannot be used is a usage error
// (exit 2) naming its line and key.
func (s *serveContext) loadConfig() error {
	if s.configPath == "" {
		s.settings = config.Defaults()
		return nil
	}
	p, err := config.Load(s.configPath)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			return usageError{fmt.Errorf("--config-path: %w", err)}
		}
		return usagef("--config-path: %v", err)
	}
	for _, k := range s.fileKeys {
		if *k.given || (k.envar != "" && os.Getenv(k.envar) != "") || !p.IsSet(k.key) {
			continue
		}
		k.apply(p)
	}
	s.settings = p
	return nil
}
