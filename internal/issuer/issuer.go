// Package issuer runs the OIDC issuers of the Kubernetes clusters fedcred
// hosts: per cluster, the discovery document and JWKS at
// <public URL>/oidc/<tenant>/<cluster uid>/ (served only once the cluster's
// issuer is enabled, like AKS), service-account token minting in the shape
// kube-apiserver writes, and the cluster's signing-key ring.
package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/store"
)

// Paths under an issuer URL, and the media types kube-apiserver serves them with.
const (
	DiscoveryPath = ".well-known/openid-configuration"
	JWKSPath      = "openid/v1/jwks"
	mimeJSON      = "application/json"
	mimeJWKS      = "application/jwk-set+json"
	cacheControl  = "public, max-age=3600"
)

// ErrUnknownIssuer is returned for an issuer URL this server does not host, or
// whose cluster has not enabled its OIDC issuer.
var ErrUnknownIssuer = errors.New("issuer is not hosted here or not enabled")

// saNamespace seeds the deterministic service-account UIDs.
var saNamespace = uuid.MustParse("6f1a3c1e-3f59-4b43-9d5c-2f0b7c1d9a11")

// Config configures a Service.
type Config struct {
	Store     store.Store
	Keys      *keys.Manager
	PublicURL string           // the server's public URL, without a trailing slash
	Now       func() time.Time // defaults to time.Now
	NewUUID   func() string    // defaults to uuid.NewString
}

// Service serves and mints for every hosted cluster issuer.
type Service struct {
	store     store.Store
	keys      *keys.Manager
	publicURL string
	now       func() time.Time
	newUUID   func() string
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Keys == nil {
		return nil, errors.New("issuer: store and keys are required")
	}
	if !strings.HasPrefix(cfg.PublicURL, "https://") || strings.ContainsAny(cfg.PublicURL, "?#") {
		return nil, fmt.Errorf("issuer: public URL %q must be https without query or fragment", cfg.PublicURL)
	}
	s := &Service{store: cfg.Store, keys: cfg.Keys, publicURL: strings.TrimSuffix(cfg.PublicURL, "/"), now: cfg.Now, newUUID: cfg.NewUUID}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newUUID == nil {
		s.newUUID = uuid.NewString
	}
	return s, nil
}

// IssuerURL is a cluster's issuer URL; the trailing slash is part of it.
func (s *Service) IssuerURL(c store.Cluster) string {
	return s.publicURL + "/oidc/" + strings.ToLower(c.TenantID) + "/" + strings.ToLower(c.UID) + "/"
}

// PrepareKeys creates the cluster's signing-key ring.
func (s *Service) PrepareKeys(ctx context.Context, c store.Cluster) error {
	if err := s.keys.Ensure(ctx, keys.ClusterOwner(c.UID), keys.RingOptions{}); err != nil {
		return fmt.Errorf("prepare keys of cluster %s: %w", c.Name, err)
	}
	return nil
}

// RotateKeys rotates the cluster's signing keys: the next key (already
// published) signs from now on, and the old one stays published for 24 h.
func (s *Service) RotateKeys(ctx context.Context, c store.Cluster) error {
	if err := s.keys.Rotate(ctx, keys.ClusterOwner(c.UID), keys.RingOptions{}); err != nil {
		return fmt.Errorf("rotate keys of cluster %s: %w", c.Name, err)
	}
	return nil
}

// DeleteKeys removes the cluster's key ring.
func (s *Service) DeleteKeys(ctx context.Context, c store.Cluster) error {
	return s.keys.DeleteRing(ctx, keys.ClusterOwner(c.UID))
}

// ServiceAccountClaims are the claims kube-apiserver writes into a
// service-account token.
type ServiceAccountClaims struct {
	Issuer     string         `json:"iss"`
	Subject    string         `json:"sub"`
	Audience   []string       `json:"aud"`
	IssuedAt   int64          `json:"iat"`
	NotBefore  int64          `json:"nbf"`
	Expiry     int64          `json:"exp"`
	ID         string         `json:"jti"`
	Kubernetes KubernetesInfo `json:"kubernetes.io"`
}

// KubernetesInfo is the private "kubernetes.io" claim.
type KubernetesInfo struct {
	Namespace      string   `json:"namespace"`
	ServiceAccount Ref      `json:"serviceaccount"`
	Pod            *Ref     `json:"pod,omitempty"`
	Secret         *Ref     `json:"secret,omitempty"`
	Node           *Ref     `json:"node,omitempty"`
	WarnAfter      *float64 `json:"warnafter,omitempty"`
}

// Ref names an object by name and UID.
type Ref struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// Subject is the token subject of a service account.
func Subject(namespace, serviceAccount string) string {
	return "system:serviceaccount:" + namespace + ":" + serviceAccount
}

// MintToken issues a service-account token for namespace/serviceAccount of
// cluster c, as a TokenRequest would. Empty audiences default to the issuer.
func (s *Service) MintToken(ctx context.Context, c store.Cluster, namespace, serviceAccount string, spec TokenRequestSpec) (string, time.Time, error) {
	if err := ValidateServiceAccount(namespace, serviceAccount); err != nil {
		return "", time.Time{}, err
	}
	lifetime, err := spec.Validate()
	if err != nil {
		return "", time.Time{}, err
	}
	iss := s.IssuerURL(c)
	aud := spec.Audiences
	if len(aud) == 0 {
		aud = []string{iss}
	}
	now := s.now().UTC().Truncate(time.Second)
	exp := now.Add(lifetime)
	claims := ServiceAccountClaims{
		Issuer: iss, Subject: Subject(namespace, serviceAccount), Audience: aud,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: exp.Unix(), ID: s.newUUID(),
		Kubernetes: KubernetesInfo{
			Namespace:      namespace,
			ServiceAccount: Ref{Name: serviceAccount, UID: ServiceAccountUID(c.UID, namespace, serviceAccount)},
		},
	}
	if ref := spec.BoundObjectRef; ref != nil {
		r := &Ref{Name: ref.Name, UID: ref.UID}
		switch ref.Kind {
		case "Pod":
			claims.Kubernetes.Pod = r
		case "Secret":
			claims.Kubernetes.Secret = r
		case "Node":
			claims.Kubernetes.Node = r
		}
	}
	tok, err := s.keys.SignJWT(ctx, keys.ClusterOwner(c.UID), claims, nil)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("mint service-account token: %w", err)
	}
	return tok, exp, nil
}

// ServiceAccountUID is the stable UID fedcred gives a service account of a
// hosted cluster.
func ServiceAccountUID(clusterUID, namespace, name string) string {
	return uuid.NewSHA1(saNamespace, []byte(strings.ToLower(clusterUID)+"/"+namespace+"/"+name)).String()
}

// KeysFor returns the published keys of a hosted, enabled cluster issuer.
// The issuer URL must be exactly the one the cluster's tokens carry.
func (s *Service) KeysFor(ctx context.Context, issuerURL string) (jose.JSONWebKeySet, error) {
	c, err := s.clusterByIssuer(ctx, issuerURL)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	return s.keys.PublicKeys(ctx, keys.ClusterOwner(c.UID))
}

func (s *Service) clusterByIssuer(ctx context.Context, issuerURL string) (store.Cluster, error) {
	rest, ok := strings.CutPrefix(issuerURL, s.publicURL+"/oidc/")
	if !ok {
		return store.Cluster{}, ErrUnknownIssuer
	}
	tenant, uid, ok := strings.Cut(strings.TrimSuffix(rest, "/"), "/")
	if !ok || !strings.HasSuffix(rest, "/") {
		return store.Cluster{}, ErrUnknownIssuer
	}
	c, err := s.cluster(ctx, tenant, uid)
	if err != nil {
		return store.Cluster{}, err
	}
	if s.IssuerURL(c) != issuerURL {
		return store.Cluster{}, ErrUnknownIssuer
	}
	return c, nil
}

// cluster finds an enabled cluster by tenant and UID.
func (s *Service) cluster(ctx context.Context, tenant, uid string) (store.Cluster, error) {
	if _, err := uuid.Parse(uid); err != nil {
		return store.Cluster{}, ErrUnknownIssuer
	}
	var c store.Cluster
	err := s.store.View(ctx, func(tx store.Tx) error {
		var err error
		c, err = store.GetByAlt[store.Cluster](ctx, tx, strings.ToLower(uid))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Cluster{}, ErrUnknownIssuer
	}
	if err != nil {
		return store.Cluster{}, fmt.Errorf("look up cluster %s: %w", uid, err)
	}
	if !c.OIDCIssuerEnabled || !strings.EqualFold(c.TenantID, tenant) {
		return store.Cluster{}, ErrUnknownIssuer
	}
	return c, nil
}

// Discovery is the OpenID provider metadata kube-apiserver serves.
type Discovery struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
}

// Mount registers the issuer endpoints on mux.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /oidc/{tenant}/{uid}/"+DiscoveryPath, s.serveDiscovery)
	mux.HandleFunc("GET /oidc/{tenant}/{uid}/"+JWKSPath, s.serveJWKS)
}

func (s *Service) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r)
	if !ok {
		return
	}
	iss := s.IssuerURL(c)
	writeJSON(w, mimeJSON, Discovery{
		Issuer:                           iss,
		JWKSURI:                          iss + JWKSPath,
		ResponseTypesSupported:           []string{"id_token"},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
	})
}

func (s *Service) serveJWKS(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r)
	if !ok {
		return
	}
	set, err := s.keys.PublicKeys(r.Context(), keys.ClusterOwner(c.UID))
	if err != nil {
		http.Error(w, "keys unavailable", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, mimeJWKS, set)
}

func (s *Service) lookup(w http.ResponseWriter, r *http.Request) (store.Cluster, bool) {
	c, err := s.cluster(r.Context(), r.PathValue("tenant"), r.PathValue("uid"))
	switch {
	case errors.Is(err, ErrUnknownIssuer):
		http.NotFound(w, r)
		return c, false
	case err != nil:
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return c, false
	}
	return c, true
}

func writeJSON(w http.ResponseWriter, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", cacheControl)
	w.Write(body)
}
