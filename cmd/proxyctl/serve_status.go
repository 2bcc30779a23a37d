package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/proxyctl/proxyctl/internal/leader"
	"github.com/proxyctl/proxyctl/internal/status"
)

// newStatusWriter builds the writer every replica runs: it computes status
// from each DAG, and writes only once the became-leader channel closes.
func newStatusWriter(c *clients, proxies status.ProxyGetter, elector *leader.Elector, reg prometheus.Registerer, log logrus.FieldLogger) (*status.Writer, error) {
	return status.NewWriter(status.Config{
		Client:  c.status,
		Proxies: proxies,
		Elected: elector.Elected(),
		// A replica that learns it lost the Lease stops writing at once,
		// in the moment before the process exits.
		StillLeading: elector.Leading,
		Registerer:   reg,
		Log:          log,
	})
}

// newExtensionStatusWriter builds the writer of ExtensionService status,
// leader only like the HTTPProxy one.
func newExtensionStatusWriter(c *clients, extensions status.ExtensionGetter, elector *leader.Elector, log logrus.FieldLogger) (*status.ExtensionWriter, error) {
	return status.NewExtensionWriter(status.ExtensionConfig{
		Client:       c.status,
		Extensions:   extensions,
		Elected:      elector.Elected(),
		StillLeading: elector.Leading,
		Log:          log,
	})
}
