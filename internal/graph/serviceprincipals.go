package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/fedcred/fedcred/internal/store"
)

// servicePrincipalJSON is Graph's servicePrincipal for an application.
type servicePrincipalJSON struct {
	ODataContext              string        `json:"@odata.context,omitempty"`
	ID                        string        `json:"id"`
	DeletedDateTime           *string       `json:"deletedDateTime"`
	AccountEnabled            bool          `json:"accountEnabled"`
	AppDisplayName            string        `json:"appDisplayName"`
	AppID                     string        `json:"appId"`
	AppOwnerOrganizationID    string        `json:"appOwnerOrganizationId"`
	AppRoleAssignmentRequired bool          `json:"appRoleAssignmentRequired"`
	DisplayName               string        `json:"displayName"`
	ServicePrincipalNames     []string      `json:"servicePrincipalNames"`
	ServicePrincipalType      string        `json:"servicePrincipalType"`
	SignInAudience            string        `json:"signInAudience"`
	Tags                      []string      `json:"tags"`
	AppRoles                  []appRoleJSON `json:"appRoles"`
}

// servicePrincipalNames are the application ID and its identifier URIs,
// as Graph lists them.
func servicePrincipalNames(a store.Application) []string {
	return append([]string{a.AppID}, a.IdentifierURIs...)
}

func servicePrincipalView(a store.Application) servicePrincipalJSON {
	return servicePrincipalJSON{
		ID: a.ServicePrincipalID, AccountEnabled: true, AppDisplayName: a.DisplayName, AppID: a.AppID,
		AppOwnerOrganizationID: a.TenantID, DisplayName: a.DisplayName,
		ServicePrincipalNames: servicePrincipalNames(a), ServicePrincipalType: "Application",
		SignInAudience: signInAudienceMyOrg, Tags: []string{}, AppRoles: appRolesJSON(a.AppRoles),
	}
}

// servicePrincipalFields are the properties $filter may use on service
// principals.
var servicePrincipalFields = filterFields{
	resource:    "ServicePrincipal",
	scalars:     map[string]bool{"appid": true, "id": true, "displayname": true},
	collections: map[string]bool{"serviceprincipalnames": true},
}

func servicePrincipalValues(a store.Application) filterValues {
	return filterValues{
		scalars:     map[string]string{"appid": a.AppID, "id": a.ServicePrincipalID, "displayname": a.DisplayName},
		collections: map[string][]string{"serviceprincipalnames": servicePrincipalNames(a)},
	}
}

// lookupServicePrincipal finds the application whose service principal a
// route addresses (by object ID, or by the application's ID).
func lookupServicePrincipal(ctx context.Context, tx store.Tx, tenantID string, rt route) (store.Application, error) {
	if rt.appID != "" {
		return lookupApplication(ctx, tx, tenantID, rt)
	}
	id, err := checkedID(rt.id)
	if err != nil {
		return store.Application{}, err
	}
	apps, err := tenantApplications(ctx, tx, tenantID)
	if err != nil {
		return store.Application{}, err
	}
	for _, a := range apps {
		if strings.EqualFold(a.ServicePrincipalID, id) {
			return a, nil
		}
	}
	return store.Application{}, notFound(rt.id)
}

func (h *Handler) getServicePrincipal(ctx context.Context, req *request) (response, error) {
	var app store.Application
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		app, err = lookupServicePrincipal(ctx, tx, req.caller.TenantID, req.rt)
		return err
	})
	if err != nil {
		return response{}, err
	}
	v := servicePrincipalView(app)
	v.ODataContext = h.context("servicePrincipals/$entity")
	return response{http.StatusOK, v}, nil
}

func (h *Handler) listServicePrincipals(ctx context.Context, req *request) (response, error) {
	pred, err := parseFilter(req.query.Get("$filter"), servicePrincipalFields)
	if err != nil {
		return response{}, err
	}
	var apps []store.Application
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		all, err := tenantApplications(ctx, tx, req.caller.TenantID)
		for _, a := range all {
			if pred(servicePrincipalValues(a)) {
				apps = append(apps, a)
			}
		}
		return err
	})
	if err != nil {
		return response{}, fmt.Errorf("list service principals: %w", err)
	}
	pageApps, next, err := page(apps, func(a store.Application) string { return strings.ToLower(a.ServicePrincipalID) }, req.query)
	if err != nil {
		return response{}, err
	}
	out := listJSON[servicePrincipalJSON]{ODataContext: h.context("servicePrincipals"), Value: []servicePrincipalJSON{}}
	for _, a := range pageApps {
		out.Value = append(out.Value, servicePrincipalView(a))
	}
	out.ODataNextLink = h.nextLink(req, next)
	return response{http.StatusOK, out}, nil
}
