package arm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/trust"
)

// Trusted issuers are fedcred's own resource type, so they live in its own
// provider namespace: /subscriptions/{sub}/providers/Fedcred/trustedIssuers/{name}.
const (
	nsFedcred           = "Fedcred"
	typeTrustedIssuers  = "trustedIssuers"
	segPublishKeys      = "publishKeys"
	trustedIssuerAction = store.TrustedIssuerType + "/"
)

// trustedIssuerNamePattern: 1 to 63 letters, digits, '-' and '_', starting
// and ending with a letter or digit (a cluster name fits).
var trustedIssuerNamePattern = regexp.MustCompile(`^[a-zA-Z0-9]$|^[a-zA-Z0-9][a-zA-Z0-9_-]{0,61}[a-zA-Z0-9]$`)

// matchTrustedIssuer matches what follows
// /subscriptions/{sub}/providers/Fedcred/trustedIssuers. Trusted issuers
// belong to a subscription, never to a resource group.
func matchTrustedIssuer(rt route, rest []string) (route, bool) {
	switch {
	case rt.rg != "":
		return rt, false
	case len(rest) == 0:
		rt.kind = routeTrustedIssuers
		return rt, true
	case len(rest) == 1:
		rt.kind, rt.name = routeTrustedIssuer, rest[0]
		return rt, true
	case len(rest) == 2 && strings.EqualFold(rest[1], segPublishKeys):
		rt.kind, rt.name = routeTrustedIssuerPublish, rest[0]
		return rt, true
	}
	return rt, false
}

func (rt route) trustedIssuerID() string { return store.TrustedIssuerID(rt.sub, rt.name) }

// trustedIssuerJSON is a trusted issuer as the management API shows it.
type trustedIssuerJSON struct {
	ID         string                  `json:"id"`
	Name       string                  `json:"name"`
	Type       string                  `json:"type"`
	Properties trustedIssuerProperties `json:"properties"`
	SystemData systemData              `json:"systemData"`
}

type trustedIssuerProperties struct {
	Issuer string          `json:"issuer"`
	JWKS   json.RawMessage `json:"jwks"`
	// Keys lists each key of JWKS.
	Keys          []trust.KeyInfo `json:"keys"`
	KeysUpdatedAt time.Time       `json:"keysUpdatedAt"`
	// KeysPublishedBy is the kid whose proof published the keys through
	// publishKeys; absent when they were uploaded with PUT.
	KeysPublishedBy string `json:"keysPublishedBy,omitempty"`
	// PublishKeysAudience is the aud a publishKeys proof must carry.
	PublishKeysAudience string `json:"publishKeysAudience"`
	ProvisioningState   string `json:"provisioningState"`
}

func (h *Handler) renderTrustedIssuer(ti store.TrustedIssuer) trustedIssuerJSON {
	keys := []trust.KeyInfo{}
	if jwks, err := trust.ParseJWKS(ti.JWKS); err == nil {
		keys = jwks.Keys
	}
	return trustedIssuerJSON{
		ID:   ti.ResourceID(),
		Name: ti.Name,
		Type: store.TrustedIssuerType,
		Properties: trustedIssuerProperties{
			Issuer:              ti.Issuer,
			JWKS:                ti.JWKS,
			Keys:                keys,
			KeysUpdatedAt:       ti.KeysUpdatedAt,
			KeysPublishedBy:     ti.KeysPublishedBy,
			PublishKeysAudience: trust.ProofAudience(h.publicURL, ti.ResourceID()),
			ProvisioningState:   stateSucceeded,
		},
		SystemData: systemData{CreatedAt: ti.CreatedAt, LastModifiedAt: ti.UpdatedAt},
	}
}

// trustedIssuerBody is what PUT accepts.
type trustedIssuerBody struct {
	Properties *struct {
		Issuer *string         `json:"issuer"`
		JWKS   json.RawMessage `json:"jwks"`
	} `json:"properties"`
}

// trustedIssuerSpec is a validated PUT body.
type trustedIssuerSpec struct {
	issuer string
	jwks   trust.JWKS
}

func validateTrustedIssuerName(name string) error {
	if trustedIssuerNamePattern.MatchString(name) {
		return nil
	}
	return errInvalidName("InvalidResourceName", fmt.Sprintf(
		"Resource name '%s' is invalid. The name can contain only letters, numbers, underscores and hyphens, "+
			"must start and end with a letter or number, and must be 1 to 63 characters long.", clip(name)))
}

// validateTrustedIssuer checks a PUT body: the issuer follows the rules of
// federated credentials' issuers and does not lie under this server's URL,
// and the JWKS passes trust.ParseJWKS.
func (h *Handler) validateTrustedIssuer(body trustedIssuerBody) (trustedIssuerSpec, error) {
	p := body.Properties
	if p == nil {
		return trustedIssuerSpec{}, errMissingProperty("properties")
	}
	if p.Issuer == nil || *p.Issuer == "" {
		return trustedIssuerSpec{}, errMissingProperty("properties.issuer")
	}
	iss := *p.Issuer
	var e *apiError
	switch {
	case utf8.RuneCountInString(iss) > maxCredentialValue:
		e = errBadRequest("The value of 'properties.issuer' is too long: it can be at most %d characters.", maxCredentialValue)
	case strings.ContainsFunc(iss, unicode.IsControl):
		e = errBadRequest("The value of 'properties.issuer' must not contain control characters.")
	case strings.Contains(iss, "*"):
		e = errBadRequest("Wildcard characters aren't supported in an issuer.")
	}
	if e != nil {
		e.target = "properties.issuer"
		return trustedIssuerSpec{}, e
	}
	if err := validateIssuer(iss); err != nil {
		return trustedIssuerSpec{}, err
	}
	if trust.Own(h.publicURL, iss) {
		e := errBadRequest("The issuer '%s' lies under this server's URL, where only the cluster issuers it hosts live: their keys cannot be uploaded.", clip(iss))
		e.target = "properties.issuer"
		return trustedIssuerSpec{}, e
	}
	if len(bytes.TrimSpace(p.JWKS)) == 0 || bytes.Equal(bytes.TrimSpace(p.JWKS), []byte("null")) {
		return trustedIssuerSpec{}, errMissingProperty("properties.jwks")
	}
	jwks, err := trust.ParseJWKS(p.JWKS)
	if err != nil {
		return trustedIssuerSpec{}, errInvalidJWKS(err, "properties.jwks")
	}
	return trustedIssuerSpec{issuer: iss, jwks: jwks}, nil
}

// errInvalidJWKS is the 400 for a refused JSON web key set; target names
// the set.
func errInvalidJWKS(err error, target string) *apiError {
	var je *trust.JWKSError
	if !errors.As(err, &je) {
		return &apiError{status: http.StatusBadRequest, code: "InvalidJwks", target: target,
			message: "The JSON web key set is invalid.", cause: err}
	}
	e := &apiError{status: http.StatusBadRequest, code: "InvalidJwks", target: target,
		message: fmt.Sprintf("The JSON web key set is invalid: %s.", je.Reason)}
	if je.Key >= 0 {
		e.target = fmt.Sprintf("%s.keys[%d]", target, je.Key)
		e.message = fmt.Sprintf("The JSON web key set is invalid: keys[%d]: %s.", je.Key, je.Reason)
	}
	return e
}

func errTrustedIssuerNotFound(sub, name string) *apiError {
	return &apiError{
		status:  http.StatusNotFound,
		code:    "ResourceNotFound",
		message: fmt.Sprintf("The Resource '%s/%s' under subscription '%s' was not found.", store.TrustedIssuerType, clip(name), clip(sub)),
	}
}

// errIssuerAlreadyTrusted is the 409 for a second trusted issuer of one
// issuer URL in a tenant. The other one is named only when it is in the
// same subscription, which the caller may read.
func errIssuerAlreadyTrusted(issuer string, other store.TrustedIssuer, sub string) *apiError {
	where := "by a trusted issuer in another subscription of the tenant"
	if strings.EqualFold(other.SubscriptionID, sub) {
		where = fmt.Sprintf("by trusted issuer '%s'", other.Name)
	}
	return &apiError{
		status:  http.StatusConflict,
		code:    "IssuerAlreadyTrusted",
		message: fmt.Sprintf("The issuer '%s' is already trusted %s: an issuer can be trusted once per tenant.", clip(issuer), where),
		target:  "properties.issuer",
	}
}

// readTrustedIssuer reads a trusted issuer in tx, answering ResourceNotFound.
func readTrustedIssuer(ctx context.Context, tx store.Tx, rt route) (store.TrustedIssuer, error) {
	ti, err := store.Get[store.TrustedIssuer](ctx, tx, store.ScopeKey(rt.trustedIssuerID()))
	if errors.Is(err, store.ErrNotFound) {
		return ti, errTrustedIssuerNotFound(rt.sub, rt.name)
	}
	if err != nil {
		return ti, fmt.Errorf("read trusted issuer: %w", err)
	}
	return ti, nil
}

// dispatchTrustedIssuer runs the handler of a trusted issuer route other
// than publishKeys, which is served before authentication (publishKeys).
func (h *Handler) dispatchTrustedIssuer(ctx context.Context, req *request) (response, error) {
	if req.rt.kind == routeTrustedIssuers {
		return h.listTrustedIssuers(ctx, req)
	}
	switch req.http.Method {
	case http.MethodGet:
		return h.getTrustedIssuer(ctx, req)
	case http.MethodPut:
		return h.putTrustedIssuer(ctx, req)
	case http.MethodDelete:
		return h.deleteTrustedIssuer(ctx, req)
	}
	return response{}, errMethodNotAllowed(req.http.Method, allowedMethods(req.rt))
}

// listTrustedIssuers lists the trusted issuers of a subscription.
func (h *Handler) listTrustedIssuers(ctx context.Context, req *request) (response, error) {
	prefix := store.TrustedIssuersPrefix(req.sub.ID)
	pr, err := parsePage(req.query, prefix)
	if err != nil {
		return response{}, err
	}
	var items []store.TrustedIssuer
	var next string
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		items, next, err = listPage[store.TrustedIssuer](ctx, tx, prefix, pr, nil)
		return err
	})
	if err != nil {
		return response{}, fmt.Errorf("list trusted issuers: %w", err)
	}
	return response{http.StatusOK, pageOf(h, req, pr, items, next, h.renderTrustedIssuer)}, nil
}

func (h *Handler) getTrustedIssuer(ctx context.Context, req *request) (response, error) {
	var ti store.TrustedIssuer
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		ti, err = readTrustedIssuer(ctx, tx, req.rt)
		return err
	})
	if err != nil {
		return response{}, err
	}
	return response{http.StatusOK, h.renderTrustedIssuer(ti)}, nil
}

// putTrustedIssuer creates (201) or replaces (200) a trusted issuer. The
// issuer URL must not be trusted by another trusted issuer of the tenant
// (409). Replacing the keys through PUT clears keysPublishedBy.
func (h *Handler) putTrustedIssuer(ctx context.Context, req *request) (response, error) {
	if err := validateTrustedIssuerName(req.rt.name); err != nil {
		return response{}, err
	}
	var body trustedIssuerBody
	if err := decodeBody(req.http, &body); err != nil {
		return response{}, err
	}
	spec, err := h.validateTrustedIssuer(body)
	if err != nil {
		return response{}, err
	}
	status := http.StatusOK
	var ti store.TrustedIssuer
	err = h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		status = http.StatusOK
		now := h.now().UTC()
		var err error
		ti, err = store.Get[store.TrustedIssuer](ctx, tx, store.ScopeKey(req.rt.trustedIssuerID()))
		switch {
		case errors.Is(err, store.ErrNotFound):
			status = http.StatusCreated
			ti = store.TrustedIssuer{
				TenantID: req.sub.TenantID, SubscriptionID: req.sub.ID, Name: req.rt.name,
				CreatedAt: now,
			}
		case err != nil:
			return fmt.Errorf("read trusted issuer: %w", err)
		}
		if other, err := store.GetByAlt[store.TrustedIssuer](ctx, tx, store.TrustedIssuerAltKey(ti.TenantID, spec.issuer)); err == nil {
			if other.Key() != ti.Key() {
				return errIssuerAlreadyTrusted(spec.issuer, other, req.sub.ID)
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read trusted issuer by issuer: %w", err)
		}
		if !bytes.Equal(ti.JWKS, spec.jwks.Raw) {
			ti.JWKS, ti.KeysUpdatedAt, ti.KeysPublishedBy = spec.jwks.Raw, now, ""
		}
		ti.Issuer, ti.UpdatedAt = spec.issuer, now
		if err := store.Put(ctx, tx, ti); err != nil {
			return fmt.Errorf("write trusted issuer: %w", err)
		}
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return response{status, h.renderTrustedIssuer(ti)}, nil
}

// deleteTrustedIssuer deletes a trusted issuer: 200 when it existed, 204
// when it did not. Tokens of its issuer are no longer verified with its
// keys from the next request on.
func (h *Handler) deleteTrustedIssuer(ctx context.Context, req *request) (response, error) {
	status := http.StatusOK
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		status = http.StatusOK
		err := store.Delete[store.TrustedIssuer](ctx, tx, store.ScopeKey(req.rt.trustedIssuerID()))
		if errors.Is(err, store.ErrNotFound) {
			status = http.StatusNoContent
			return nil
		}
		return err
	})
	if err != nil {
		return response{}, fmt.Errorf("delete trusted issuer: %w", err)
	}
	return response{status: status}, nil
}
