package remoteissuer

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// The errors Keys and Check return wrap one of these sentinels with detail;
// branch with errors.Is. The token service maps them to Entra's codes.
var (
	// ErrUnreachable means the discovery document or the JWKS could not be
	// fetched: the issuer URL is not usable (not https, has user info), DNS
	// failed, the connection was refused or timed out, the answer was not
	// 200, an address was refused by the guard (also after a redirect), or a
	// redirect was refused. Entra: AADSTS90061 "Request to External OIDC
	// endpoint failed.".
	ErrUnreachable = errors.New("issuer unreachable")

	// ErrBadDiscovery means the discovery document was fetched but cannot be
	// used: not JSON, too large, an issuer that differs from the configured
	// one, a missing or non-https jwks_uri. The detail names the field.
	// Entra answers these with AADSTS90061 too.
	ErrBadDiscovery = errors.New("bad discovery document")

	// ErrBadKeys means the JWKS was fetched but yields no usable key: not a
	// JSON key set, too large, or every key refused. Entra: AADSTS900612
	// "Failed to parse provider signing keys.".
	ErrBadKeys = errors.New("bad signing keys")
)

// addressError is the guard's refusal of every address a host resolved to.
// It is wrapped in ErrUnreachable by the fetch that met it.
type addressError struct {
	host    string
	refused []refusedAddr
}

type refusedAddr struct {
	addr   netip.Addr
	reason string
}

func (e *addressError) Error() string {
	var b strings.Builder
	for i, r := range e.refused {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%s)", r.addr, r.reason)
	}
	if len(e.refused) == 1 && e.refused[0].addr.String() == e.host {
		return fmt.Sprintf("address %s is refused: not in the allowed networks", b.String())
	}
	return fmt.Sprintf("host %s resolves only to refused addresses %s: not in the allowed networks", e.host, b.String())
}
