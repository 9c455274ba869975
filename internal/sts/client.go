package sts

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
)

// authResult says how a client proved itself.
type authResult struct {
	method string // "secret" or "assertion"
	fic    string // the matched federated credential's name, for assertions
}

// appidacr is the access token's appidacr: "1" for a client secret, "2" for
// a client assertion (a certificate or federated credential), as Entra sets it.
func (a authResult) appidacr() string {
	if a.method == "secret" {
		return "1"
	}
	return "2"
}

func (h *Handler) authenticate(ctx context.Context, req tokenRequest, cl client) (authResult, *Error) {
	if req.assertionGiven {
		fic, err := h.verifyAssertion(ctx, req.assertion, cl)
		if err != nil {
			return authResult{}, err
		}
		return authResult{method: "assertion", fic: fic}, nil
	}
	return authResult{method: "secret"}, h.checkSecret(req, cl)
}

// checkSecret checks a client secret against the service principal's stored
// hashes in constant time. A managed identity has no secrets: presenting one
// is refused like a wrong secret (7000215), with a hint to use a federated
// credential, since Entra's code for this case is not known.
func (h *Handler) checkSecret(req tokenRequest, cl client) *Error {
	if cl.identity != nil {
		return errBadSecret().withHint("'%s' is a managed identity, which has no client secrets; present a client_assertion matching one of its federated identity credentials.", req.clientID)
	}
	if len(req.secret) > maxSecretBytes {
		return errBadSecret()
	}
	sum := sha256.Sum256([]byte(req.secret))
	now := h.now()
	matched, expired := false, false
	for _, s := range cl.sp.Secrets {
		if subtle.ConstantTimeCompare(s.SHA256, sum[:]) != 1 {
			continue
		}
		if !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt) {
			expired = true
			continue
		}
		matched = true
	}
	switch {
	case matched:
		return nil
	case expired:
		return errSecretExpired(req.clientID)
	}
	return errBadSecret()
}
