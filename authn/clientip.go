package authn

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr returns the address a request came from, for throttling and the
// audit log: the peer's address (RemoteAddr), unless that peer is one of
// [Config].TrustedProxies, in which case X-Forwarded-For is read from the
// right, skipping trusted proxies, and the first address that is not one is
// the client. A header a client sets itself is never believed: only a
// trusted proxy's additions count. A peer on a unix socket (no IP address)
// is a local proxy and trusted the same way. The zero Addr means the
// address could not be read.
func (a *Authenticator) clientAddr(r *http.Request) netip.Addr {
	if r == nil {
		return netip.Addr{}
	}
	return a.clientIPFrom(r.RemoteAddr, r.Header["X-Forwarded-For"])
}

// clientIPFrom is clientAddr of a peer address and X-Forwarded-For values.
func (a *Authenticator) clientIPFrom(remote string, hops []string) netip.Addr {
	peer := remoteAddr(remote)
	// A peer that is not an IP address came over a unix socket: only a
	// process on this machine (a proxy) can be it, so it is trusted.
	if peer.IsValid() && !a.trusted(peer) {
		return peer
	}
	for i := len(hops) - 1; i >= 0; i-- {
		fields := strings.Split(hops[i], ",")
		for j := len(fields) - 1; j >= 0; j-- {
			ip, err := netip.ParseAddr(strings.TrimSpace(fields[j]))
			if err != nil {
				// A broken entry ends the chain: what is left of it
				// cannot be trusted to be anything. Use the last proxy.
				return peer
			}
			ip = ip.Unmap()
			if !a.trusted(ip) {
				return ip
			}
			peer = ip
		}
	}
	return peer
}

// trusted reports whether ip is one of the configured proxies.
func (a *Authenticator) trusted(ip netip.Addr) bool {
	if a == nil { // a Request a host made: no proxy is known
		return false
	}
	for _, p := range a.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// remoteAddr parses a RemoteAddr ("1.2.3.4:5678", "[::1]:5678").
func remoteAddr(s string) netip.Addr {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// ipKey is how throttling counts an address: IPv4 as it is, IPv6 by its
// /64, since one client usually holds a whole /64 and could otherwise get
// a fresh counter per address.
func ipKey(ip netip.Addr) string {
	if !ip.IsValid() {
		return "unknown"
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
