package attack

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// fetchAttack is a federated credential whose issuer leads into the
// operator's network. Presenting an assertion from that issuer must not
// open a connection there.
type fetchAttack struct {
	name string
	// issuer is the credential's issuer, given the port of a listener in
	// the operator's network that must see no connection.
	issuer func(port string) string
	// lookup is a host name the guard must have resolved, and refused the
	// answer of (rather than failing to resolve it).
	lookup string
	// logged is what the server's log must say about the refusal.
	logged []string
	// fetched is the remote issuer whose discovery document must have been
	// fetched, its key set then refused.
	fetched string
}

func testIssuerFetching(t *testing.T, e *env, sc scenario) {
	remote := e.s.remoteIss
	literal := func(format string) func(string) string {
		return func(port string) string { return strings.ReplaceAll(format, "PORT", port) }
	}
	remoteDoc := func(kind string) func(string) string {
		return func(port string) string { return remote.issuer(kind + "-" + port) }
	}
	attacks := []fetchAttack{
		{name: "loopback address", issuer: literal("https://127.0.0.1:PORT/"), logged: []string{"127.0.0.1", "loopback"}},
		{name: "localhost", issuer: literal("https://localhost:PORT/"), lookup: "localhost", logged: []string{"localhost", "loopback"}},
		{name: "name resolving to loopback", issuer: literal("https://loopback.attack.test:PORT/issuer"), lookup: "loopback.attack.test", logged: []string{"loopback.attack.test", "loopback"}},
		{name: "metadata service address", issuer: literal("https://169.254.169.254/metadata/identity"), logged: []string{"169.254.169.254", "cloud metadata service"}},
		{name: "name resolving to the metadata service", issuer: literal("https://metadata.attack.test/"), lookup: "metadata.attack.test", logged: []string{"metadata.attack.test", "cloud metadata service"}},
		{name: "IPv4-mapped IPv6 loopback", issuer: literal("https://[::ffff:127.0.0.1]:PORT/"), logged: []string{"loopback"}},
		{name: "IPv4-mapped IPv6 metadata service", issuer: literal("https://[::ffff:169.254.169.254]/"), logged: []string{"cloud metadata service"}},
		{name: "decimal loopback host", issuer: literal("https://2130706433:PORT/"), lookup: "2130706433", logged: []string{"2130706433", "loopback"}},
		{name: "name resolving to private networks", issuer: literal("https://private.attack.test/"), lookup: "private.attack.test", logged: []string{"private.attack.test", "private"}},
		{name: "name resolving to mapped addresses", issuer: literal("https://mapped.attack.test/"), lookup: "mapped.attack.test", logged: []string{"mapped.attack.test", "cloud metadata service"}},
		{name: "key set in the operator's network", issuer: remoteDoc("inward"), fetched: "inward", logged: []string{"127.0.0.1", "loopback"}},
		{name: "key set at the metadata service", issuer: remoteDoc("metadata"), fetched: "metadata", logged: []string{"169.254.169.254", "cloud metadata service"}},
		{name: "key set by a name resolving to loopback", issuer: remoteDoc("byname"), fetched: "byname", lookup: "loopback.attack.test", logged: []string{"loopback.attack.test", "loopback"}},
		{name: "discovery redirected into the operator's network", issuer: remoteDoc("redirect"), fetched: "redirect", logged: []string{"redirect to", "loopback"}},
		{name: "issuer under the server's own URL", issuer: literal(e.srv.URL + "/oidc/" + e.admin.TenantID + "/" + uuid.NewString() + "/")},
	}
	// One identity trusts every hostile issuer, as a careless or hostile
	// owner of an identity could arrange.
	idPath := sc.rgPath + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/fetch-target"
	id := e.call(t, "PUT", idPath+apiVersion, map[string]any{"location": "eastus"}, http.StatusCreated)
	client := id["properties"].(map[string]any)["clientId"].(string)
	listeners := make([]*countingListener, len(attacks))
	for i, a := range attacks {
		listeners[i] = listenCounting(t)
		e.call(t, "PUT", idPath+"/federatedIdentityCredentials/"+fmt.Sprintf("hostile-%d", i)+apiVersion, map[string]any{"properties": map[string]any{
			"issuer": a.issuer(listeners[i].port()), "subject": "attacker", "audiences": []string{exchangeAudience},
		}}, http.StatusCreated)
	}
	attacker := newRSA(t)
	for i, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			port := listeners[i].port()
			assertion := craft(t, map[string]any{"alg": "RS256", "kid": "k1"}, claims(a.issuer(port), "attacker"), rs256(attacker))
			res := e.exchangeAssertion(t, client, assertion)
			wantRefused(t, res, http.StatusBadRequest, "invalid_request", 90061, "Request to External OIDC endpoint failed.")
			listeners[i].wantNone(t)
			if a.lookup != "" && e.s.resolver.lookupCount(a.lookup) == 0 {
				t.Errorf("%s was never resolved: the refusal was not the guard's", a.lookup)
			}
			if a.fetched != "" && remote.hitCount("/"+a.fetched+"-"+port+"/.well-known/openid-configuration") == 0 {
				t.Errorf("the %s issuer's discovery document was never fetched: the refusal was not about what it points to", a.fetched)
			}
			if len(a.logged) > 0 && !e.logged(append([]string{"remote issuer keys fetch failed"}, a.logged...)...) {
				t.Errorf("no log line says the fetch was refused with %q", a.logged)
			}
		})
	}
}

// logged reports whether one line of the server's log holds every part.
func (e *env) logged(parts ...string) bool {
	for line := range strings.SplitSeq(e.logs.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}
