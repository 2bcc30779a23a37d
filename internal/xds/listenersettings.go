package xds

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
)

// ConnectionBalancerExact is Contour's listener.connection-balancer
// "exact": Envoy hands each new connection to the worker thread with the
// fewest, instead of leaving the choice to the kernel.
const ConnectionBalancerExact = "exact"

// Linux's socket option numbers, which Envoy takes as they are: the
// values of the platform Envoy runs on, not of the one proxyctl runs on.
const (
	ipprotoIP   = 0
	ipTOS       = 1
	ipprotoIPv6 = 41
	ipv6TClass  = 67
)

// applyListenerSettings sets cfg's settings of the listener sockets on l,
// as Contour sets them on its HTTP and HTTPS listeners.
func applyListenerSettings(l *listener.Listener, cfg ListenerConfig) {
	if cfg.ConnectionBalancer == ConnectionBalancerExact {
		l.ConnectionBalanceConfig = &listener.Listener_ConnectionBalanceConfig{
			BalanceType: &listener.Listener_ConnectionBalanceConfig_ExactBalance_{
				ExactBalance: &listener.Listener_ConnectionBalanceConfig_ExactBalance{},
			},
		}
	}
	// Set on the listening socket, whose accepted connections inherit
	// them.
	if cfg.TOS != 0 {
		l.SocketOptions = append(l.SocketOptions, &core.SocketOption{
			Description: "IPv4 TOS",
			Level:       ipprotoIP,
			Name:        ipTOS,
			Value:       &core.SocketOption_IntValue{IntValue: int64(cfg.TOS)},
			State:       core.SocketOption_STATE_LISTENING,
		})
	}
	if cfg.TrafficClass != 0 {
		l.SocketOptions = append(l.SocketOptions, &core.SocketOption{
			Description: "IPv6 traffic class",
			Level:       ipprotoIPv6,
			Name:        ipv6TClass,
			Value:       &core.SocketOption_IntValue{IntValue: int64(cfg.TrafficClass)},
			State:       core.SocketOption_STATE_LISTENING,
		})
	}
}
