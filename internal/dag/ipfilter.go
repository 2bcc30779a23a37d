package dag

import (
	"fmt"
	"net/netip"
	"strings"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// ipFilter converts an allow or deny list (at most one of them may be
// set) into the model. As in Contour, a bare address is a range of one,
// and both lists at once are an error.
func ipFilter(allow, deny []contourv1.IPFilterPolicy) (*IPFilter, *policyError) {
	bad := func(reason, format string, args ...any) (*IPFilter, *policyError) {
		return nil, &policyError{contourv1.ConditionTypeIPFilterError, reason, fmt.Sprintf(format, args...)}
	}
	f := &IPFilter{Allow: len(allow) > 0}
	policies, field := allow, "ipAllowPolicy"
	switch {
	case len(allow) > 0 && len(deny) > 0:
		return bad(reasonIncompatibleIPAddressFilters, "ipAllowPolicy and ipDenyPolicy cannot both be set")
	case len(allow) == 0 && len(deny) == 0:
		return nil, nil
	case len(deny) > 0:
		policies, field = deny, "ipDenyPolicy"
	}
	for i, p := range policies {
		cidr := strings.TrimSpace(p.CIDR)
		if !strings.Contains(cidr, "/") {
			if a, err := netip.ParseAddr(cidr); err == nil {
				cidr = netip.PrefixFrom(a, a.BitLen()).String()
			}
		}
		prefix, err := netip.ParsePrefix(cidr)
		if err != nil {
			return bad(reasonInvalidCIDR, "%s[%d].cidr %q is not an address or a CIDR range", field, i, p.CIDR)
		}
		var remote bool
		switch p.Source {
		case contourv1.IPFilterSourcePeer:
		case contourv1.IPFilterSourceRemote:
			remote = true
		default:
			return bad(reasonIPFilterPolicyNotValid, "%s[%d].source %q must be Peer or Remote", field, i, p.Source)
		}
		prefix = prefix.Masked()
		f.Rules = append(f.Rules, IPFilterRule{Remote: remote, Address: prefix.Addr().String(), PrefixLen: uint32(prefix.Bits())})
	}
	return f, nil
}

// Reasons of IP filter errors, as Contour has them.
const (
	reasonIncompatibleIPAddressFilters = "IncompatibleIPAddressFilters"
	reasonInvalidCIDR                  = "InvalidCIDR"
	reasonIPFilterPolicyNotValid       = "IPFilterPolicyNotValid"
)
