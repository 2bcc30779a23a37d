package main

import (
	"github.com/sirupsen/logrus"

	"github.com/proxyctl/proxyctl/internal/leader"
)

func newElector(f electionFlags, c *clients, identity string, log logrus.FieldLogger) (*leader.Elector, error) {
	if f.disabled {
		log.WithField("identity", identity).Warn("leader election disabled: this replica writes status unconditionally; run only one")
		return leader.Disabled(identity), nil
	}
	log.WithFields(logrus.Fields{
		"identity": identity, "lease": f.namespace + "/" + f.name,
		"leaseDuration": f.leaseDuration, "renewDeadline": f.renewDeadline, "retryPeriod": f.retryPeriod,
	}).Info("joining leader election")
	return leader.New(leader.Config{
		Client:        c.election.CoordinationV1(),
		Namespace:     f.namespace,
		Name:          f.name,
		Identity:      identity,
		LeaseDuration: f.leaseDuration,
		RenewDeadline: f.renewDeadline,
		RetryPeriod:   f.retryPeriod,
		Log:           log,
	})
}
