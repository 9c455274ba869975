package arm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fedcred/fedcred/internal/issuer"
)

// TokenRequest identification, as kube-apiserver serves it.
const (
	tokenRequestKind       = "TokenRequest"
	tokenRequestAPIVersion = "authentication.k8s.io/v1"
)

// serviceAccountToken answers POST {cluster}/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token
// the way kube-apiserver does: the TokenRequest echoed with its status, or a
// Status object. The cluster's OIDC issuer must be enabled, since nothing
// could verify a token of a disabled issuer.
func (h *Handler) serviceAccountToken(ctx context.Context, req *request) (response, error) {
	c, err := h.viewCluster(ctx, req)
	if err != nil {
		return response{}, err
	}
	if !c.OIDCIssuerEnabled {
		return response{}, errIssuerNotEnabled(c.Name)
	}
	ns, sa := req.rt.namespace, req.rt.account
	if err := issuer.ValidateServiceAccount(ns, sa); err != nil {
		return response{}, kubeInvalid(sa, err)
	}
	tr, err := decodeTokenRequest(req.http)
	if err != nil {
		return response{}, err
	}
	if _, err := tr.Spec.Validate(); err != nil {
		return response{}, kubeInvalid(sa, err)
	}
	spec := tr.Spec
	if len(spec.Audiences) == 0 {
		// kube-apiserver's default audience is its own issuer.
		spec.Audiences = []string{h.cfg.Issuers.IssuerURL(c)}
	}
	if spec.ExpirationSeconds == nil {
		seconds := int64(issuer.DefaultTokenExpiration / time.Second)
		spec.ExpirationSeconds = &seconds
	}
	token, expires, err := h.cfg.Issuers.MintToken(ctx, c, ns, sa, spec)
	if err != nil {
		return response{}, fmt.Errorf("mint service account token for %s/%s in %s: %w", ns, sa, c.ResourceID(), err)
	}
	return response{http.StatusCreated, issuer.TokenRequest{
		APIVersion: tokenRequestAPIVersion,
		Kind:       tokenRequestKind,
		Metadata: issuer.TokenRequestMeta{
			Name:              sa,
			Namespace:         ns,
			CreationTimestamp: h.now().UTC().Format(time.RFC3339),
		},
		Spec: spec,
		Status: issuer.TokenRequestStatus{
			Token:               token,
			ExpirationTimestamp: expires.UTC().Format(time.RFC3339),
		},
	}}, nil
}

// decodeTokenRequest reads the body as a TokenRequest; an empty body is an
// empty request.
func decodeTokenRequest(r *http.Request) (issuer.TokenRequest, error) {
	var tr issuer.TokenRequest
	data, err := readBody(r)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusRequestEntityTooLarge {
			return tr, &kubeStatusError{code: http.StatusRequestEntityTooLarge, reason: "RequestEntityTooLarge", message: ae.message}
		}
		return tr, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return tr, nil
	}
	if err := decodeJSON(data, &tr); err != nil {
		var ae *apiError
		msg := "the request body is not a valid TokenRequest"
		if errors.As(err, &ae) {
			msg = ae.message
		}
		return tr, &kubeStatusError{code: http.StatusBadRequest, reason: "BadRequest", message: msg}
	}
	if (tr.Kind != "" && tr.Kind != tokenRequestKind) || (tr.APIVersion != "" && tr.APIVersion != tokenRequestAPIVersion) {
		return tr, &kubeStatusError{code: http.StatusBadRequest, reason: "BadRequest",
			message: fmt.Sprintf("the object provided is unrecognized (must be of type %s, apiVersion %s)", tokenRequestKind, tokenRequestAPIVersion)}
	}
	return tr, nil
}

// kubeInvalid is kube-apiserver's 422 for a TokenRequest that fails
// validation.
func kubeInvalid(name string, err error) *kubeStatusError {
	return &kubeStatusError{
		code:    http.StatusUnprocessableEntity,
		reason:  "Invalid",
		message: fmt.Sprintf("%s.authentication.k8s.io %q is invalid: %v", tokenRequestKind, clip(name), err),
	}
}
