// Command issuerd is the remote OIDC issuer the remoteissuer tests fetch
// from: a separate process serving discovery documents and JWKS over HTTPS
// on 127.0.0.1 with its own self-signed certificate and its own keys.
//
// Every path prefix is an independent issuer, created on first use with a
// fresh RSA key: "{prefix}/.well-known/openid-configuration" serves its
// discovery document and "{prefix}/openid/v1/jwks" its JWKS. The issuer in
// the document is "https://{Host}{prefix}/" (the AKS form) or, with form
// "noslash", "https://{Host}{prefix}". A prefix containing "//" is a 404,
// so a client that joins URLs wrongly fails.
//
// A plain-HTTP admin endpoint on 127.0.0.1 controls it:
//
//	POST /config?issuer={prefix}   body: issuerConfig JSON (replaces the prefix's config)
//	POST /rotate?issuer={prefix}&keep=1&kty=EC   add a key; drop the old ones unless keep
//	GET  /stats?issuer={prefix}    {"discovery":n,"jwks":n,"kids":[...]}
//	POST /down, POST /up           close every issuer connection and the listener / listen again
//
// On start it prints one JSON line to stdout: {"addr","admin","caPem"}. It
// exits when its stdin reaches EOF, so it never outlives the test process.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	wellKnown = "/.well-known/openid-configuration"
	jwksPath  = "/openid/v1/jwks"
)

// docConfig shapes how one document (discovery or JWKS) is answered.
type docConfig struct {
	Status       int    `json:"status"`       // answer with this status instead of 200
	Body         string `json:"body"`         // send this body instead of the rendered document
	ContentType  string `json:"contentType"`  // override the media type; "none" sends no Content-Type
	Pad          int    `json:"pad"`          // grow the rendered document by an "x_pad" member of this many bytes
	Chunked      bool   `json:"chunked"`      // send without Content-Length
	DelayMS      int    `json:"delayMs"`      // wait this long first
	Redirect     string `json:"redirect"`     // answer 302 to this URL
	Hops         int    `json:"hops"`         // first redirect to itself this many times
	CacheControl string `json:"cacheControl"` // Cache-Control header value
}

// issuerConfig shapes one issuer (prefix).
type issuerConfig struct {
	Form      string    `json:"form"`    // "slash" (default) or "noslash"
	Issuer    string    `json:"issuer"`  // override the derived issuer
	JWKSURI   string    `json:"jwksUri"` // override the derived jwks_uri
	Discovery docConfig `json:"discovery"`
	JWKS      docConfig `json:"jwks"`
}

type signingKey struct {
	kid string
	pub crypto.PublicKey
	alg string
}

type issuer struct {
	cfg             issuerConfig
	keys            []signingKey
	discovery, jwks int
}

type server struct {
	cert tls.Certificate
	addr string

	mu      sync.Mutex
	issuers map[string]*issuer
	srv     *http.Server // nil while down
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "issuerd:", err)
		os.Exit(1)
	}
}

func run() error {
	cert, caPEM, err := selfSigned()
	if err != nil {
		return err
	}
	s := &server{cert: cert, issuers: map[string]*issuer{}}
	if err := s.up("127.0.0.1:0"); err != nil {
		return err
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	admin := &http.Server{Handler: s.adminMux(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = admin.Serve(adminLn) }()

	if err := json.NewEncoder(os.Stdout).Encode(map[string]string{
		"addr": s.addr, "admin": adminLn.Addr().String(), "caPem": string(caPEM),
	}); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "issuerd"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost", "issuer.test", "*.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// up starts the issuer listener on addr, or when addr is "" on the address
// it had before.
func (s *server) up(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	if addr == "" {
		addr = s.addr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.addr = ln.Addr().String()
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.serveIssuer),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12},
	}
	s.srv = srv
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	return nil
}

func (s *server) down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

// issuer returns prefix's issuer, creating it with a fresh key.
func (s *server) issuer(prefix string) (*issuer, error) {
	s.mu.Lock()
	iss, ok := s.issuers[prefix]
	s.mu.Unlock()
	if ok {
		return iss, nil
	}
	k, err := newKey("RSA")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if iss, ok := s.issuers[prefix]; ok {
		return iss, nil
	}
	iss = &issuer{keys: []signingKey{k}}
	s.issuers[prefix] = iss
	return iss, nil
}

func newKey(kty string) (signingKey, error) {
	var priv crypto.Signer
	var alg string
	var err error
	switch kty {
	case "EC":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		alg = "ES256"
	default:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
		alg = "RS256"
	}
	if err != nil {
		return signingKey{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return signingKey{}, err
	}
	sum := sha256.Sum256(der)
	return signingKey{kid: base64.RawURLEncoding.EncodeToString(sum[:]), pub: priv.Public(), alg: alg}, nil
}

func (s *server) serveIssuer(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	var prefix string
	var jwks bool
	switch {
	case strings.HasSuffix(p, wellKnown):
		prefix = strings.TrimSuffix(p, wellKnown)
	case strings.HasSuffix(p, jwksPath):
		prefix, jwks = strings.TrimSuffix(p, jwksPath), true
	default:
		http.NotFound(w, r)
		return
	}
	if strings.Contains(prefix, "//") || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	iss, err := s.issuer(prefix)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}

	s.mu.Lock()
	cfg := iss.cfg
	dc, media := cfg.Discovery, "application/json"
	var doc map[string]any
	if jwks {
		iss.jwks++
		dc, media = cfg.JWKS, "application/jwk-set+json"
		var keys []jose.JSONWebKey
		for _, k := range iss.keys {
			keys = append(keys, jose.JSONWebKey{Key: k.pub, KeyID: k.kid, Algorithm: k.alg, Use: "sig"})
		}
		doc = map[string]any{"keys": keys}
	} else {
		iss.discovery++
		base := "https://" + r.Host
		issuerURL := base + prefix + "/"
		if cfg.Form == "noslash" {
			issuerURL = base + prefix
		}
		if cfg.Issuer != "" {
			issuerURL = cfg.Issuer
		}
		jwksURI := base + prefix + jwksPath
		if cfg.JWKSURI != "" {
			jwksURI = cfg.JWKSURI
		}
		doc = map[string]any{
			"issuer": issuerURL, "jwks_uri": jwksURI,
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		}
	}
	s.mu.Unlock()

	if dc.DelayMS > 0 {
		select {
		case <-time.After(time.Duration(dc.DelayMS) * time.Millisecond):
		case <-r.Context().Done():
			panic(http.ErrAbortHandler) // the client left: answer nothing, like a hung server
		}
	}
	if hop, _ := strconv.Atoi(r.URL.Query().Get("hop")); hop < dc.Hops {
		http.Redirect(w, r, fmt.Sprintf("%s?hop=%d", p, hop+1), http.StatusFound)
		return
	}
	if dc.Redirect != "" {
		http.Redirect(w, r, dc.Redirect, http.StatusFound)
		return
	}
	if dc.CacheControl != "" {
		w.Header().Set("Cache-Control", dc.CacheControl)
	}
	if dc.Status != 0 && dc.Status != http.StatusOK {
		http.Error(w, "unavailable", dc.Status)
		return
	}
	body := []byte(dc.Body)
	if dc.Body == "" {
		if dc.Pad > 0 {
			doc["x_pad"] = strings.Repeat("a", dc.Pad)
		}
		if body, err = json.Marshal(doc); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	switch dc.ContentType {
	case "":
		w.Header().Set("Content-Type", media)
	case "none":
		w.Header()["Content-Type"] = nil
	default:
		w.Header().Set("Content-Type", dc.ContentType)
	}
	if dc.Chunked {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	_, _ = w.Write(body)
}

func (s *server) adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /config", func(w http.ResponseWriter, r *http.Request) {
		var cfg issuerConfig
		if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&cfg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		iss, err := s.issuer(r.URL.Query().Get("issuer"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.mu.Lock()
		iss.cfg = cfg
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /rotate", func(w http.ResponseWriter, r *http.Request) {
		iss, err := s.issuer(r.URL.Query().Get("issuer"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		k, err := newKey(r.URL.Query().Get("kty"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.mu.Lock()
		if r.URL.Query().Get("keep") == "" {
			iss.keys = nil
		}
		iss.keys = append(iss.keys, k)
		s.mu.Unlock()
		s.writeStats(w, iss)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		iss, err := s.issuer(r.URL.Query().Get("issuer"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.writeStats(w, iss)
	})
	mux.HandleFunc("POST /down", func(w http.ResponseWriter, r *http.Request) {
		s.down()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /up", func(w http.ResponseWriter, r *http.Request) {
		if err := s.up(""); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func (s *server) writeStats(w http.ResponseWriter, iss *issuer) {
	s.mu.Lock()
	st := struct {
		Discovery int      `json:"discovery"`
		JWKS      int      `json:"jwks"`
		Kids      []string `json:"kids"`
	}{Discovery: iss.discovery, JWKS: iss.jwks}
	for _, k := range iss.keys {
		st.Kids = append(st.Kids, k.kid)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}
