package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/fedcred/fedcred/internal/store"
)

// Bounds on applications and their parts.
const (
	maxApplicationsPerTenant  = 1000
	maxAssignmentsPerResource = 5000
	maxIdentifierURIs         = 50
	maxIdentifierURILength    = 120
	maxAppRoles               = 100
	maxRoleValueLength        = 120
	maxDisplayNameLength      = 256
	maxDescriptionLength      = 1024
)

// Member types an app role may allow.
const (
	memberApplication = "Application"
	memberUser        = "User"
)

// signInAudienceMyOrg is the only sign-in audience a fedcred application has.
const signInAudienceMyOrg = "AzureADMyOrg"

// appRoleInput is an app role in a request body. Pointers tell absent from
// empty.
type appRoleInput struct {
	ID                 *string  `json:"id"`
	Value              *string  `json:"value"`
	DisplayName        *string  `json:"displayName"`
	Description        *string  `json:"description"`
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	IsEnabled          *bool    `json:"isEnabled"`
	Origin             *string  `json:"origin"`
}

// applicationInput is the body of POST and PATCH /applications.
type applicationInput struct {
	DisplayName    *string         `json:"displayName"`
	IdentifierURIs *[]string       `json:"identifierUris"`
	AppRoles       *[]appRoleInput `json:"appRoles"`
	SignInAudience *string         `json:"signInAudience"`
}

// decodeBody reads a JSON body into v, refusing unknown properties,
// trailing data and bodies over maxBodyBytes.
func decodeBody(r *http.Request, v any, supported string) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &apiError{status: http.StatusRequestEntityTooLarge, code: codeBadRequest,
				message: fmt.Sprintf("The request body is larger than %d bytes.", maxBodyBytes)}
		}
		return fmt.Errorf("read body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	if err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return badRequest("Property %s in the request body is not supported. fedcred: supported properties are %s.", clip(name), supported)
		}
		return badRequest("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
	}
	return nil
}

// applyInput validates in and applies it to app. reserved are identifier
// URIs no application may claim.
func applyInput(app *store.Application, in applicationInput, reserved []string, newUUID func() string) error {
	if in.DisplayName != nil {
		name := strings.TrimSpace(*in.DisplayName)
		switch {
		case name == "":
			return invalidProperty("displayName", "Application", "displayName must not be empty.")
		case len(*in.DisplayName) > maxDisplayNameLength:
			return invalidProperty("displayName", "Application", "displayName is longer than %d characters.", maxDisplayNameLength)
		}
		app.DisplayName = *in.DisplayName
	}
	if in.SignInAudience != nil && *in.SignInAudience != signInAudienceMyOrg {
		return invalidProperty("signInAudience", "Application", "only %s is supported.", signInAudienceMyOrg)
	}
	if in.IdentifierURIs != nil {
		uris, err := checkIdentifierURIs(*in.IdentifierURIs, app.AppID, app.TenantID, reserved)
		if err != nil {
			return err
		}
		app.IdentifierURIs = uris
	}
	if in.AppRoles != nil {
		roles, err := buildAppRoles(*in.AppRoles, newUUID)
		if err != nil {
			return err
		}
		app.AppRoles = roles
	}
	return nil
}

// normalizeURI is the form identifier URIs are compared in for uniqueness:
// lower case, without one trailing slash (the token service ignores it).
func normalizeURI(u string) string {
	return strings.ToLower(strings.TrimSuffix(u, "/"))
}

// checkIdentifierURIs validates identifier URIs as Entra does (see the
// package documentation) and returns them as given.
func checkIdentifierURIs(uris []string, appID, tenantID string, reserved []string) ([]string, error) {
	if len(uris) > maxIdentifierURIs {
		return nil, invalidProperty("identifierUris", "Application", "an application has at most %d identifier URIs.", maxIdentifierURIs)
	}
	seen := map[string]bool{}
	for _, u := range uris {
		if err := checkIdentifierURI(u, appID, tenantID); err != nil {
			return nil, err
		}
		n := normalizeURI(u)
		for _, r := range reserved {
			if normalizeURI(r) == n {
				return nil, badRequest("Values of identifierUris property must use a verified domain of the organization or its subdomain: %s. fedcred: '%s' is a built-in resource of the token service.", clip(u), clip(u))
			}
		}
		if seen[n] {
			return nil, invalidProperty("identifierUris", "Application", "'%s' is listed twice (identifier URIs are compared ignoring case and a trailing slash).", clip(u))
		}
		seen[n] = true
	}
	return append([]string{}, uris...), nil
}

func checkIdentifierURI(u, appID, tenantID string) error {
	bad := func(why string) error {
		return invalidProperty("identifierUris", "Application", "'%s' %s", clip(u), why)
	}
	switch {
	case u == "":
		return bad("is empty.")
	case len(u) > maxIdentifierURILength:
		return invalidProperty("identifierUris", "Application", "an identifier URI has at most %d characters.", maxIdentifierURILength)
	case strings.ContainsFunc(u, isControlOrSpace):
		return bad("contains a space or a control character.")
	case strings.Contains(u, "*"):
		return bad("contains a wildcard.")
	}
	scheme, rest, ok := strings.Cut(u, ":")
	if !ok || (scheme != "api" && scheme != "https" && scheme != "urn") {
		return bad("is not an absolute URI with scheme api, https or urn (in lower case).")
	}
	if scheme == "urn" {
		nid, nss, ok := strings.Cut(rest, ":")
		if !ok || nid == "" || nss == "" {
			return bad("is not a URN of the form urn:<namespace>:<name>.")
		}
		return nil
	}
	parsed, err := url.Parse(u)
	if err != nil || !strings.HasPrefix(rest, "//") || parsed.Host == "" {
		return bad("is not an absolute URI with a host.")
	}
	switch {
	case parsed.User != nil:
		return bad("contains user information.")
	case parsed.RawQuery != "" || strings.Contains(u, "?"):
		return bad("contains a query string.")
	case parsed.Fragment != "" || strings.Contains(u, "#"):
		return bad("contains a fragment.")
	}
	if scheme == "api" && isGUID(parsed.Host) && !strings.EqualFold(parsed.Host, appID) && !strings.EqualFold(parsed.Host, tenantID) {
		return bad("names a GUID that is neither this application's appId nor the tenant ID.")
	}
	return nil
}

// roleValueAllowed reports whether c may appear in an app role value:
// Graph's set (letters, digits and ! # $ % & ' ( ) * + , - . / : ; = ? @ [ ] ^ _ ` { | } ~).
func roleValueAllowed(c rune) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
		strings.ContainsRune("!#$%&'()*+,-./:;=?@[]^_`{|}~", c)
}

// buildAppRoles validates app roles and returns them with generated IDs
// where none were given.
func buildAppRoles(in []appRoleInput, newUUID func() string) ([]store.AppRole, error) {
	if len(in) > maxAppRoles {
		return nil, invalidProperty("appRoles", "Application", "an application has at most %d app roles.", maxAppRoles)
	}
	roles := make([]store.AppRole, 0, len(in))
	ids, values := map[string]bool{}, map[string]bool{}
	for _, r := range in {
		role := store.AppRole{IsEnabled: true}
		if r.ID != nil && *r.ID != "" {
			if !isGUID(*r.ID) {
				return nil, invalidProperty("id", "AppRole", "'%s' is not a GUID.", clip(*r.ID))
			}
			role.ID = strings.ToLower(*r.ID)
		} else {
			role.ID = newUUID()
		}
		if ids[role.ID] {
			return nil, invalidProperty("id", "AppRole", "app role id '%s' is used twice.", role.ID)
		}
		ids[role.ID] = true

		if r.Value == nil || *r.Value == "" {
			return nil, invalidProperty("value", "AppRole", "every app role needs a value (the text the roles claim carries).")
		}
		v := *r.Value
		switch {
		case len(v) > maxRoleValueLength:
			return nil, invalidProperty("value", "AppRole", "an app role value has at most %d characters.", maxRoleValueLength)
		case strings.ContainsFunc(v, func(c rune) bool { return !roleValueAllowed(c) }):
			return nil, invalidProperty("value", "AppRole", "'%s' contains a space or a character outside Graph's allowed set.", clip(v))
		case strings.HasPrefix(v, "."):
			return nil, invalidProperty("value", "AppRole", "'%s' begins with a dot.", clip(v))
		case values[strings.ToLower(v)]:
			return nil, badRequest("The value '%s' is already used by another app role of the application. fedcred: app role values are unique ignoring case.", clip(v))
		}
		values[strings.ToLower(v)] = true
		role.Value = v

		if r.DisplayName != nil {
			if len(*r.DisplayName) > maxDisplayNameLength {
				return nil, invalidProperty("displayName", "AppRole", "displayName is longer than %d characters.", maxDisplayNameLength)
			}
			role.DisplayName = *r.DisplayName
		}
		if r.Description != nil {
			if len(*r.Description) > maxDescriptionLength {
				return nil, invalidProperty("description", "AppRole", "description is longer than %d characters.", maxDescriptionLength)
			}
			role.Description = *r.Description
		}
		if len(r.AllowedMemberTypes) == 0 {
			return nil, invalidProperty("allowedMemberTypes", "AppRole", "name at least one of Application and User.")
		}
		seen := map[string]bool{}
		for _, m := range r.AllowedMemberTypes {
			if (m != memberApplication && m != memberUser) || seen[m] {
				return nil, invalidProperty("allowedMemberTypes", "AppRole", "'%s' is not Application or User, or is listed twice.", clip(m))
			}
			seen[m] = true
		}
		role.AllowedMemberTypes = append([]string{}, r.AllowedMemberTypes...)
		if r.IsEnabled != nil {
			role.IsEnabled = *r.IsEnabled
		}
		if r.Origin != nil && *r.Origin != "Application" {
			return nil, invalidProperty("origin", "AppRole", "origin is read-only and always Application.")
		}
		roles = append(roles, role)
	}
	return roles, nil
}

// allowsApplications reports whether principals that are applications
// (managed identities and service principals) may be assigned the role.
func allowsApplications(r store.AppRole) bool {
	for _, m := range r.AllowedMemberTypes {
		if m == memberApplication {
			return true
		}
	}
	return false
}
