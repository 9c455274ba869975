package attack

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// remoteIssuer is an OIDC issuer fedcred reaches over the network, whose
// signing keys the suite holds: with it the suite signs hostile claims
// validly, so that the claim checks themselves are what refuses them. It
// listens on 127.0.0.2, which the suite's servers allow, behind a
// certificate they trust. It also serves issuers whose documents point
// back into the operator's network.
type remoteIssuer struct {
	base    string // https://127.0.0.2:port
	caFile  string
	allowed []netip.Prefix
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey

	mu   sync.Mutex
	hits map[string]int
}

// Key IDs of the remote issuer's keys.
const (
	remoteRSAKid = "remote-rsa"
	remoteECKid  = "remote-ec"
)

func startRemoteIssuer(t *testing.T) *remoteIssuer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.2 (the remote issuer's address): %v", err)
	}
	r := &remoteIssuer{
		base:    "https://" + ln.Addr().String(),
		allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		rsa:     newRSA(t),
		ec:      newEC(t),
		hits:    map[string]int{},
	}
	tlsKey := newEC(t)
	cert := selfSigned(t, tlsKey, "remote issuer", []byte{127, 0, 0, 2})
	r.caFile = filepath.Join(t.TempDir(), "remote-issuer-ca.pem")
	if err := os.WriteFile(r.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.hits[req.URL.Path]++
		r.mu.Unlock()
		name, rest, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
		// Issuers named kind-port point into the operator's network at port.
		kind, port, _ := strings.Cut(name, "-")
		inward := "https://127.0.0.1:" + port
		doc := map[string]string{"issuer": r.base + "/" + name}
		switch kind {
		case "remote": // a well-behaved issuer
			doc["jwks_uri"] = r.base + "/remote/jwks"
		case "inward": // its key set lies in the operator's network
			doc["jwks_uri"] = inward + "/jwks"
		case "metadata": // its key set is the cloud metadata service
			doc["jwks_uri"] = "https://169.254.169.254/metadata/identity/oauth2/token?resource=https://management.azure.com/"
		case "byname": // its key set is at a name resolving to loopback
			doc["jwks_uri"] = "https://loopback.attack.test:" + port + "/jwks"
		}
		switch {
		case kind == "redirect" && rest == ".well-known/openid-configuration":
			// Its discovery document redirects into the operator's network.
			http.Redirect(w, req, inward+"/.well-known/openid-configuration", http.StatusFound)
		case rest == ".well-known/openid-configuration" && doc["jwks_uri"] != "":
			writeJSON(w, doc)
		case name == "remote" && rest == "jwks":
			writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
				{Key: &r.rsa.PublicKey, KeyID: remoteRSAKid, Use: "sig"},
				{Key: &r.ec.PublicKey, KeyID: remoteECKid, Use: "sig", Algorithm: string(jose.ES256)},
			}})
		default:
			http.NotFound(w, req)
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: tlsKey}}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return r
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// issuer is the URL of one of the remote issuers: "remote", or
// "inward-PORT", "byname-PORT", "redirect-PORT" or "metadata-0", which lead
// into the operator's network.
func (r *remoteIssuer) issuer(name string) string { return r.base + "/" + name }

func (r *remoteIssuer) hitCount(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[path]
}

// resolver answers the servers' DNS questions from a fixed table, as an
// attacker's DNS would: names that lead to the cloud metadata service and
// to the operator's own network.
type resolver struct {
	hosts map[string][]netip.Addr

	mu      sync.Mutex
	lookups map[string]int
}

func newResolver() *resolver {
	a := netip.MustParseAddr
	return &resolver{
		hosts: map[string][]netip.Addr{
			"metadata.attack.test": {a("169.254.169.254")},
			"loopback.attack.test": {a("127.0.0.1")},
			"private.attack.test":  {a("10.0.0.1"), a("192.168.1.1"), a("fd00::1"), a("100.64.0.1")},
			"mapped.attack.test":   {a("::ffff:169.254.169.254"), a("::ffff:127.0.0.1")},
			"localhost":            {a("127.0.0.1"), a("::1")},
			"2130706433":           {a("127.0.0.1")}, // how a libc resolver reads a decimal host
		},
		lookups: map[string]int{},
	}
}

// LookupNetIP implements remoteissuer.Resolver.
func (r *resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	r.lookups[host]++
	r.mu.Unlock()
	if addrs, ok := r.hosts[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (r *resolver) lookupCount(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookups[host]
}
