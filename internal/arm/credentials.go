package arm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fedcred/fedcred/internal/store"
)

// Federated identity credential rules (reference §1.3).
var credentialNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$`)

const (
	maxCredentialValue  = 600
	entraMaxCredentials = 20
)

// credentialJSON is ARM's federated identity credential.
type credentialJSON struct {
	ID         string               `json:"id"`
	Name       string               `json:"name"`
	Type       string               `json:"type"`
	Properties credentialProperties `json:"properties"`
	SystemData systemData           `json:"systemData"`
}

type credentialProperties struct {
	Issuer    string   `json:"issuer"`
	Subject   string   `json:"subject"`
	Audiences []string `json:"audiences"`
}

func renderCredential(f store.FederatedCredential) credentialJSON {
	return credentialJSON{
		ID:   f.ResourceID(),
		Name: f.Name,
		Type: store.FederatedCredentialType,
		Properties: credentialProperties{
			Issuer:    f.Issuer,
			Subject:   f.Subject,
			Audiences: append([]string{}, f.Audiences...),
		},
		SystemData: systemData{CreatedAt: f.CreatedAt, LastModifiedAt: f.UpdatedAt},
	}
}

// credentialBody is what PUT accepts. Pointers tell a missing value from an
// empty one.
type credentialBody struct {
	Properties *credentialPropertiesBody `json:"properties"`
}

type credentialPropertiesBody struct {
	Issuer                   *string         `json:"issuer"`
	Subject                  *string         `json:"subject"`
	Audiences                []string        `json:"audiences"`
	ClaimsMatchingExpression json.RawMessage `json:"claimsMatchingExpression"`
}

// credentialSpec is a validated credential.
type credentialSpec struct {
	issuer, subject, audience string
}

// validateCredential applies Entra's rules for a credential named name, in
// the order Entra reports them, plus fedcred's issuer rule (see the package
// documentation).
func validateCredential(name string, body credentialBody) (credentialSpec, error) {
	if !credentialNamePattern.MatchString(name) {
		return credentialSpec{}, errBadRequest("Federated Identity Credential name '%s' is invalid.", clip(name))
	}
	p := body.Properties
	hasClaims := len(p.claimsExpression()) > 0
	if p == nil || (p.Issuer == nil && p.Subject == nil && p.Audiences == nil && !hasClaims) {
		return credentialSpec{}, errBadRequest("Federated Identity Credential from HTTP body has empty properties")
	}
	if hasClaims {
		e := errBadRequest("Federated identity credentials with 'claimsMatchingExpression' (flexible federated identity credentials) are not supported; specify 'subject' instead.")
		e.target = "properties.claimsMatchingExpression"
		return credentialSpec{}, e
	}
	if p.Issuer == nil || *p.Issuer == "" || p.Subject == nil || strings.TrimSpace(*p.Subject) == "" || p.Audiences == nil {
		return credentialSpec{}, errBadRequest("The request format was unexpected. Federated Identity Credential must specify 'issuer', 'subject' and 'audience'.")
	}
	if len(p.Audiences) != 1 {
		e := errBadRequest("Federated identity credentials must have exactly one audience.")
		e.target = "properties.audiences"
		return credentialSpec{}, e
	}
	spec := credentialSpec{issuer: *p.Issuer, subject: *p.Subject, audience: p.Audiences[0]}
	if spec.audience == "" {
		return credentialSpec{}, errBadRequest("The request format was unexpected. Federated Identity Credential must specify 'issuer', 'subject' and 'audience'.")
	}
	for _, f := range []struct{ target, value string }{
		{"properties.issuer", spec.issuer},
		{"properties.subject", spec.subject},
		{"properties.audiences", spec.audience},
	} {
		var e *apiError
		switch {
		case utf8.RuneCountInString(f.value) > maxCredentialValue:
			e = errBadRequest("The value of '%s' is too long: it can be at most %d characters.", f.target, maxCredentialValue)
		case strings.Contains(f.value, "*"):
			e = errBadRequest("Wildcard characters aren't supported in any federated identity credential property value.")
		case strings.ContainsFunc(f.value, unicode.IsControl):
			e = errBadRequest("The value of '%s' must not contain control characters.", f.target)
		}
		if e != nil {
			e.target = f.target
			return credentialSpec{}, e
		}
	}
	if err := validateIssuer(spec.issuer); err != nil {
		return credentialSpec{}, err
	}
	return spec, nil
}

// claimsExpression is the raw claimsMatchingExpression, nil when absent or null.
func (p *credentialPropertiesBody) claimsExpression() json.RawMessage {
	if p == nil || bytes.Equal(bytes.TrimSpace(p.ClaimsMatchingExpression), []byte("null")) {
		return nil
	}
	return p.ClaimsMatchingExpression
}

// validateIssuer requires an absolute https URL with a host and without
// surrounding whitespace, user info, query or fragment.
func validateIssuer(issuer string) error {
	if strings.TrimSpace(issuer) != issuer {
		e := errBadRequest("The issuer '%s' is invalid: it must not have leading or trailing whitespace.", clip(issuer))
		e.target = "properties.issuer"
		return e
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "https" || !strings.HasPrefix(issuer, "https://") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(issuer, "#") ||
		strings.ContainsFunc(issuer, unicode.IsSpace) {
		e := errBadRequest("The issuer '%s' is invalid: it must be an absolute https URL with a host and without user information, query or fragment.", clip(issuer))
		e.target = "properties.issuer"
		return e
	}
	return nil
}

// credentialsPrefix is the key prefix of an identity's credentials.
func credentialsPrefix(identityKey string) string {
	return identityKey + "/" + strings.ToLower(typeCredentials) + "/"
}

// readParentIdentity reads the identity a credential route names, answering
// ResourceGroupNotFound or "The parent user-assigned identity doesn't exist."
func readParentIdentity(ctx context.Context, tx store.Tx, rt route, sub string) (store.Identity, error) {
	if _, err := readResourceGroup(ctx, tx, sub, rt.rg); err != nil {
		return store.Identity{}, err
	}
	i, err := store.Get[store.Identity](ctx, tx, store.ScopeKey(store.IdentityID(sub, rt.rg, rt.name)))
	if errors.Is(err, store.ErrNotFound) {
		return i, errParentIdentityNotFound()
	}
	if err != nil {
		return i, fmt.Errorf("read identity: %w", err)
	}
	return i, nil
}

func (h *Handler) listCredentials(ctx context.Context, req *request) (response, error) {
	prefix := credentialsPrefix(store.ScopeKey(store.IdentityID(req.sub.ID, req.rt.rg, req.rt.name)))
	pr, err := parsePage(req.query, prefix)
	if err != nil {
		return response{}, err
	}
	var items []store.FederatedCredential
	var next string
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		if _, err := readParentIdentity(ctx, tx, req.rt, req.sub.ID); err != nil {
			return err
		}
		var err error
		items, next, err = listPage[store.FederatedCredential](ctx, tx, prefix, pr, nil)
		return err
	})
	if err != nil {
		return response{}, fmt.Errorf("list federated credentials: %w", err)
	}
	return response{http.StatusOK, pageOf(h, req, pr, items, next, renderCredential)}, nil
}

func (h *Handler) getCredential(ctx context.Context, req *request) (response, error) {
	var f store.FederatedCredential
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		i, err := readParentIdentity(ctx, tx, req.rt, req.sub.ID)
		if err != nil {
			return err
		}
		f, err = store.Get[store.FederatedCredential](ctx, tx, store.ScopeKey(req.rt.credentialID()))
		if errors.Is(err, store.ErrNotFound) {
			return errResourceNotFound(store.FederatedCredentialType, i.Name+"/"+req.rt.child, req.rt.rg)
		}
		if err != nil {
			return fmt.Errorf("read federated credential: %w", err)
		}
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return response{http.StatusOK, renderCredential(f)}, nil
}

// putCredential creates (201) or updates (200) a credential. The whole
// read-check-write runs in one store transaction, so concurrent writes to
// one identity are serialized and each sees the others' results: the
// uniqueness and cap checks never race, and no write is refused with 409.
func (h *Handler) putCredential(ctx context.Context, req *request) (response, error) {
	var body credentialBody
	if err := decodeBody(req.http, &body); err != nil {
		return response{}, err
	}
	key := store.ScopeKey(req.rt.credentialID())
	status := http.StatusOK
	var f store.FederatedCredential
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		if _, err := readResourceGroup(ctx, tx, req.sub.ID, req.rt.rg); err != nil {
			return err
		}
		spec, err := validateCredential(req.rt.child, body)
		if err != nil {
			return err
		}
		ident, err := readParentIdentity(ctx, tx, req.rt, req.sub.ID)
		if err != nil {
			return err
		}
		siblings, err := store.List[store.FederatedCredential](ctx, tx, credentialsPrefix(ident.Key()), "", 0)
		if err != nil {
			return fmt.Errorf("list federated credentials: %w", err)
		}
		var current *store.FederatedCredential
		for i := range siblings {
			s := &siblings[i]
			if s.Key() == key {
				current = s
				continue
			}
			if s.Issuer == spec.issuer && s.Subject == spec.subject {
				return errBadRequest("Issuer and subject combination already exists for this Managed Identity.")
			}
		}
		if current == nil && h.cfg.EntraLimits && len(siblings) >= entraMaxCredentials {
			return errBadRequest("The managed identity already has the maximum of %d federated identity credentials.", entraMaxCredentials)
		}
		now := h.now().UTC()
		f = store.FederatedCredential{
			SubscriptionID: ident.SubscriptionID,
			ResourceGroup:  ident.ResourceGroup,
			IdentityName:   ident.Name,
			Name:           req.rt.child,
			Issuer:         spec.issuer,
			Subject:        spec.subject,
			Audiences:      []string{spec.audience},
			CreatedAt:      now,
			UpdatedAt:      now,
		}
		if current != nil {
			f.Name, f.CreatedAt = current.Name, current.CreatedAt
		} else {
			status = http.StatusCreated
		}
		return store.Put(ctx, tx, f)
	})
	if err != nil {
		return response{}, err
	}
	return response{status, renderCredential(f)}, nil
}

// deleteCredential deletes a credential and the role assignments made on it:
// 200 when it existed, 204 when it did not.
func (h *Handler) deleteCredential(ctx context.Context, req *request) (response, error) {
	status := http.StatusOK
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		if _, err := readParentIdentity(ctx, tx, req.rt, req.sub.ID); err != nil {
			return err
		}
		key := store.ScopeKey(req.rt.credentialID())
		err := store.Delete[store.FederatedCredential](ctx, tx, key)
		if errors.Is(err, store.ErrNotFound) {
			status = http.StatusNoContent
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete federated credential: %w", err)
		}
		_, err = deleteAll[store.RoleAssignment](ctx, tx, key+"/")
		return err
	})
	if err != nil {
		return response{}, err
	}
	return response{status: status}, nil
}
