package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// GraphScope is the scope of tokens for the Graph-shaped application API.
const GraphScope = "https://graph.microsoft.com/.default"

// graphVersion is the path prefix of the Graph API.
const graphVersion = "/v1.0"

// AllowedMemberApplication is the member type of app roles that service
// principals and managed identities are assigned.
const AllowedMemberApplication = "Application"

// Application is an application object: a user's own API, named by its
// identifier URIs, with the app roles it defines.
type Application struct {
	ID              string    `json:"id,omitempty"`
	AppID           string    `json:"appId,omitempty"`
	DisplayName     string    `json:"displayName"`
	IdentifierURIs  []string  `json:"identifierUris"`
	AppRoles        []AppRole `json:"appRoles"`
	SignInAudience  string    `json:"signInAudience,omitempty"`
	PublisherDomain string    `json:"publisherDomain,omitempty"`
	CreatedDateTime string    `json:"createdDateTime,omitempty"`
}

// AppRole is a role an application defines; tokens for the application
// carry the values of the roles their principal was assigned.
type AppRole struct {
	ID                 string   `json:"id"`
	Value              string   `json:"value"`
	DisplayName        string   `json:"displayName"`
	Description        string   `json:"description"`
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	IsEnabled          bool     `json:"isEnabled"`
}

// applicationBody is what creating an application sends.
type applicationBody struct {
	DisplayName    string    `json:"displayName"`
	IdentifierURIs []string  `json:"identifierUris"`
	AppRoles       []AppRole `json:"appRoles"`
}

// ServicePrincipal is an application's service principal in the tenant.
type ServicePrincipal struct {
	ID          string    `json:"id"`
	AppID       string    `json:"appId,omitempty"`
	DisplayName string    `json:"displayName,omitempty"`
	AppRoles    []AppRole `json:"appRoles,omitempty"`
}

// AppRoleAssignment grants a principal an app role of a resource
// application's service principal.
type AppRoleAssignment struct {
	ID                   string `json:"id,omitempty"`
	PrincipalID          string `json:"principalId"`
	PrincipalType        string `json:"principalType,omitempty"`
	PrincipalDisplayName string `json:"principalDisplayName,omitempty"`
	ResourceID           string `json:"resourceId"`
	ResourceDisplayName  string `json:"resourceDisplayName,omitempty"`
	AppRoleID            string `json:"appRoleId"`
	CreatedDateTime      string `json:"createdDateTime,omitempty"`
}

// appRoleAssignmentBody is what assigning an app role sends.
type appRoleAssignmentBody struct {
	PrincipalID string `json:"principalId"`
	ResourceID  string `json:"resourceId"`
	AppRoleID   string `json:"appRoleId"`
}

// graphURL is the absolute URL of a Graph path (already escaped).
func (c *Client) graphURL(path string) string { return c.server + graphVersion + path }

// graphKey is an alternate-key segment such as applications(appId='...'):
// the parentheses and quotes literal, as Graph clients send them, the value
// escaped.
func graphKey(collection, key, value string) string {
	return collection + "(" + key + "='" + url.PathEscape(strings.ReplaceAll(value, "'", "''")) + "')"
}

func (c *Client) graph(ctx context.Context, op, method, path string, body, out any) error {
	_, err := c.do(ctx, call{api: graphAPI, method: method, url: c.graphURL(path), body: body, out: out})
	return wrap(op, err)
}

// CreateApplication creates an application with its display name,
// identifier URIs and app roles.
func (c *Client) CreateApplication(ctx context.Context, app Application) (*Application, error) {
	if strings.TrimSpace(app.DisplayName) == "" {
		return nil, wrap("create application", errors.New("display name is required"))
	}
	body := applicationBody{DisplayName: app.DisplayName, IdentifierURIs: app.IdentifierURIs, AppRoles: app.AppRoles}
	if body.IdentifierURIs == nil {
		body.IdentifierURIs = []string{}
	}
	if body.AppRoles == nil {
		body.AppRoles = []AppRole{}
	}
	var out Application
	if err := c.graph(ctx, "create application", http.MethodPost, "/applications", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetApplication gets an application by its object ID.
func (c *Client) GetApplication(ctx context.Context, objectID string) (*Application, error) {
	e, err := escape("application object ID", objectID)
	if err != nil {
		return nil, wrap("get application", err)
	}
	var out Application
	if err := c.graph(ctx, "get application", http.MethodGet, "/applications/"+e[0], nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetApplicationByAppID gets an application by its application (client)
// ID: GET /v1.0/applications(appId='...').
func (c *Client) GetApplicationByAppID(ctx context.Context, appID string) (*Application, error) {
	if strings.TrimSpace(appID) == "" {
		return nil, wrap("get application", errors.New("application ID is required"))
	}
	var out Application
	if err := c.graph(ctx, "get application", http.MethodGet, "/"+graphKey("applications", "appId", appID), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListApplications lists the applications of the tenant, following
// @odata.nextLink on the client's server.
func (c *Client) ListApplications(ctx context.Context) ([]Application, error) {
	apps, err := pages[Application](ctx, c, graphAPI, c.graphURL("/applications"))
	return apps, wrap("list applications", err)
}

// FindApplication finds an application the way az ad app show --id does:
// a GUID is an application ID or else an object ID; anything else is an
// identifier URI. One that does not exist is a 404 *GraphError.
func (c *Client) FindApplication(ctx context.Context, id string) (*Application, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, wrap("find application", errors.New("application ID, object ID or identifier URI is required"))
	}
	if IsGUID(id) {
		app, err := c.GetApplicationByAppID(ctx, id)
		var ge *GraphError
		if err == nil || !errors.As(err, &ge) || !ge.IsNotFound() {
			return app, err
		}
		return c.GetApplication(ctx, id)
	}
	filter := "identifierUris/any(x:x eq " + odataQuote(id) + ")"
	apps, err := pages[Application](ctx, c, graphAPI, c.graphURL("/applications")+"?"+strings.TrimPrefix(filterQuery(filter), "&"))
	if err != nil {
		return nil, wrap("find application", err)
	}
	for i := range apps {
		for _, u := range apps[i].IdentifierURIs {
			if u == id {
				return &apps[i], nil
			}
		}
	}
	return nil, &GraphError{
		StatusCode: http.StatusNotFound,
		Code:       "Request_ResourceNotFound",
		Message:    fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id),
	}
}

// DeleteApplication deletes an application by its object ID.
func (c *Client) DeleteApplication(ctx context.Context, objectID string) error {
	e, err := escape("application object ID", objectID)
	if err != nil {
		return wrap("delete application", err)
	}
	return c.graph(ctx, "delete application", http.MethodDelete, "/applications/"+e[0], nil, nil)
}

// GetServicePrincipalByAppID gets the service principal of an application:
// GET /v1.0/servicePrincipals(appId='...').
func (c *Client) GetServicePrincipalByAppID(ctx context.Context, appID string) (*ServicePrincipal, error) {
	if strings.TrimSpace(appID) == "" {
		return nil, wrap("get service principal", errors.New("application ID is required"))
	}
	var out ServicePrincipal
	if err := c.graph(ctx, "get service principal", http.MethodGet, "/"+graphKey("servicePrincipals", "appId", appID), nil, &out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, fmt.Errorf("get service principal: the answer for application %s has no id", appID)
	}
	return &out, nil
}

// AssignAppRole assigns principalID the app role appRoleID of the resource
// service principal spID: POST /v1.0/servicePrincipals/{spID}/appRoleAssignedTo.
func (c *Client) AssignAppRole(ctx context.Context, spID, principalID, appRoleID string) (*AppRoleAssignment, error) {
	e, err := escape("service principal ID", spID, "principal ID", principalID, "app role ID", appRoleID)
	if err != nil {
		return nil, wrap("assign app role", err)
	}
	body := appRoleAssignmentBody{PrincipalID: principalID, ResourceID: spID, AppRoleID: appRoleID}
	var out AppRoleAssignment
	if err := c.graph(ctx, "assign app role", http.MethodPost, "/servicePrincipals/"+e[0]+"/appRoleAssignedTo", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAppRoleAssignedTo lists the app role assignments to a resource
// service principal.
func (c *Client) ListAppRoleAssignedTo(ctx context.Context, spID string) ([]AppRoleAssignment, error) {
	e, err := escape("service principal ID", spID)
	if err != nil {
		return nil, wrap("list app role assignments", err)
	}
	items, err := pages[AppRoleAssignment](ctx, c, graphAPI, c.graphURL("/servicePrincipals/"+e[0]+"/appRoleAssignedTo"))
	return items, wrap("list app role assignments", err)
}
