package arm

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/trust"
)

// maxUsedProofs bounds the unexpired publishKeys proofs remembered per
// trusted issuer, and so how often its keys can be published: a proof lives
// at most 11 minutes (10 and the clock skew).
const maxUsedProofs = 32

// publishKeys serves POST .../trustedIssuers/{name}/publishKeys: an issuer
// fedcred cannot reach (a private cluster) replaces its own keys. The body
// is the new JWKS; the bearer token is a proof (trust.VerifyProof) signed by
// a key the trusted issuer trusts now, with iss and sub the issuer, aud
// properties.publishKeysAudience, a lifetime of at most 10 minutes, and a
// jti that is accepted once.
//
// It is served before authentication, outside role-based access control:
// the cluster holds no fedcred identity, only its signing key. That is safe
// because the proof shows possession of a key fedcred already trusts for
// this issuer, and whoever holds such a key can already sign any token as
// the issuer, for every identity whose federated credentials name it; the
// keys it publishes are trusted for this issuer in this tenant only, so
// publishing grants nothing the key did not grant. The proof's typ header
// (trust.ProofType) and sub = iss keep a token the issuer gave a workload
// from serving as a proof (a pod can ask its cluster for a token with any
// audience, but not with that header or that subject); aud binds the proof
// to this resource on this server; the short lifetime and the jti,
// remembered in the store until the proof expires, stop replay. A caller
// without a trusted key learns nothing from the answers: a trusted issuer
// that does not exist is refused exactly as a key it does not trust, and the
// body is read only after the proof is accepted. Proofs are checked in a
// read transaction first, so failed attempts never take the write lock.
func (h *Handler) publishKeys(r *http.Request, rt route) (response, error) {
	if r.Method != http.MethodPost {
		return response{}, errMethodNotAllowed(r.Method, []string{http.MethodPost})
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return response{}, errBadRequest("The query string is malformed.")
	}
	if queryValue(q, "api-version") == "" {
		return response{}, errMissingAPIVersion()
	}
	token, err := proofToken(r)
	if err != nil {
		return response{}, err
	}
	ctx := r.Context()
	key := store.ScopeKey(rt.trustedIssuerID())
	var verified store.TrustedIssuer
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		ti, err := store.Get[store.TrustedIssuer](ctx, tx, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read trusted issuer: %w", err)
		}
		if _, err := h.checkProof(ti, rt, token); err != nil {
			return err
		}
		verified = ti
		return nil
	})
	if err != nil {
		return response{}, err
	}

	data, err := readBody(r)
	if err != nil {
		return response{}, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return response{}, &apiError{status: http.StatusBadRequest, code: "InvalidRequestContent",
			message: "The request content must be the new JSON web key set."}
	}
	jwks, err := trust.ParseJWKS(data)
	if err != nil {
		e := errInvalidJWKS(err, "")
		e.target = strings.TrimPrefix(e.target, ".")
		return response{}, e
	}

	err = h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		ti, err := store.Get[store.TrustedIssuer](ctx, tx, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read trusted issuer: %w", err)
		}
		// The keys may have changed since the check: check again.
		proof, err := h.checkProof(ti, rt, token)
		if err != nil {
			return err
		}
		now := h.now().UTC()
		ti.UsedProofs = append(unexpired(ti.UsedProofs, now), store.UsedProof{JTI: proof.JTI, ExpiresAt: proof.NotAfter})
		ti.JWKS, ti.KeysUpdatedAt, ti.KeysPublishedBy, ti.UpdatedAt = jwks.Raw, now, proof.KeyID, now
		verified = ti
		return store.Put(ctx, tx, ti)
	})
	if err != nil {
		return response{}, err
	}
	h.log.InfoContext(ctx, "trusted issuer keys published", "trusted_issuer", verified.ResourceID(),
		"issuer", verified.Issuer, "signed_by_kid", verified.KeysPublishedBy, "keys", len(jwks.Keys))
	return response{http.StatusOK, h.renderTrustedIssuer(verified)}, nil
}

// checkProof verifies token as a publishKeys proof for ti (the zero value
// when the trusted issuer does not exist, which then fails as an untrusted
// key does), refusing a jti already used and a full replay memory.
func (h *Handler) checkProof(ti store.TrustedIssuer, rt route, token string) (trust.Proof, error) {
	var set jose.JSONWebKeySet
	if ti.Name != "" {
		jwks, err := trust.ParseJWKS(ti.JWKS)
		if err != nil {
			return trust.Proof{}, fmt.Errorf("parse stored keys of %s: %w", ti.ResourceID(), err)
		}
		set = jwks.Set
	}
	now := h.now()
	audience := trust.ProofAudience(h.publicURL, rt.trustedIssuerID())
	proof, err := trust.VerifyProof(token, set, ti.Issuer, audience, now)
	if err != nil {
		return trust.Proof{}, errProof(err)
	}
	used := unexpired(ti.UsedProofs, now)
	if slices.ContainsFunc(used, func(u store.UsedProof) bool { return u.JTI == proof.JTI }) {
		return trust.Proof{}, errProofReplayed()
	}
	if len(used) >= maxUsedProofs {
		hdr := http.Header{}
		hdr.Set("Retry-After", "60")
		return trust.Proof{}, &apiError{status: http.StatusTooManyRequests, code: "TooManyRequests", header: hdr,
			message: fmt.Sprintf("The keys of this trusted issuer were published %d times in the last minutes; retry later.", len(used))}
	}
	return proof, nil
}

// unexpired returns the proofs that have not expired at now.
func unexpired(used []store.UsedProof, now time.Time) []store.UsedProof {
	out := make([]store.UsedProof, 0, len(used)+1)
	for _, u := range used {
		if u.ExpiresAt.After(now) {
			out = append(out, u)
		}
	}
	return out
}

// proofToken reads the bearer token of a publishKeys call.
func proofToken(r *http.Request) (string, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", errProofUnauthorized("AuthenticationFailed",
			"Authentication failed. The 'Authorization' header is missing: publishKeys needs a bearer proof token signed by a key the trusted issuer currently trusts.", nil)
	}
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", errProofUnauthorized("AuthenticationFailed",
			"Authentication failed. The 'Authorization' header must be 'Bearer <proof token>'.", nil)
	}
	return strings.TrimSpace(token), nil
}

// errProof maps a refused proof to ARM's token errors.
func errProof(err error) error {
	var pe *trust.ProofError
	if !errors.As(err, &pe) {
		return err
	}
	code := "InvalidAuthenticationToken"
	switch {
	case errors.Is(err, trust.ErrProofAudience):
		code = "InvalidAuthenticationTokenAudience"
	case errors.Is(err, trust.ErrProofExpired):
		code = "ExpiredAuthenticationToken"
	}
	return errProofUnauthorized(code, "The proof token is refused: "+pe.Detail, err)
}

func errProofReplayed() *apiError {
	return errProofUnauthorized("InvalidAuthenticationToken",
		"The proof token is refused: its jti was already used. Sign a new proof, with a new jti, for each publication.", nil)
}

// errProofUnauthorized is a 401 with an RFC 6750 challenge.
func errProofUnauthorized(code, message string, cause error) *apiError {
	hdr := http.Header{}
	hdr.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	return &apiError{status: http.StatusUnauthorized, code: code, message: message, header: hdr, cause: cause}
}

// publishKeysAllowed is accessFor's entry for the publishKeys route: the
// action names it for the Allow header only, since the route is served
// before authentication and never authorized by role.
func publishKeysAllowed(method string, rt route) (access, bool) {
	if method != http.MethodPost {
		return access{}, false
	}
	return access{trustedIssuerAction + segPublishKeys + "/action", rt.trustedIssuerID()}, true
}
