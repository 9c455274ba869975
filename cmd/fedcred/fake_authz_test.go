package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Role definitions of the fake (Azure's GUIDs).
const (
	readerRoleID      = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	secretsUserRoleID = "4633458b-17de-408a-b874-0445c86b69e6"
	typeRoleDef       = "Microsoft.Authorization/roleDefinitions"
	typeRoleAssign    = "Microsoft.Authorization/roleAssignments"
	fakeCreatedOn     = "2026-01-02T03:04:05.1234567Z"
)

// fakeRoleDefinitions are the roles the fake knows, as ARM lists them.
func fakeRoleDefinitions() []map[string]any {
	def := func(guid, name, description string, actions, dataActions []any) map[string]any {
		return map[string]any{
			"id":   "/subscriptions/" + fakeSub + "/providers/" + typeRoleDef + "/" + guid,
			"name": guid, "type": typeRoleDef,
			"properties": map[string]any{
				"roleName": name, "type": "BuiltInRole", "description": description, "assignableScopes": []any{"/"},
				"permissions": []any{map[string]any{"actions": actions, "notActions": []any{}, "dataActions": dataActions, "notDataActions": []any{}}},
			},
		}
	}
	return []map[string]any{
		def(readerRoleID, "Reader", "View all resources, but does not allow you to make any changes.", []any{"*/read"}, []any{}),
		def(secretsUserRoleID, "Key Vault Secrets User", "Read secret contents.", []any{},
			[]any{"Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}),
	}
}

// authorization serves Microsoft.Authorization under scope: role
// definitions (with $filter roleName eq) and role assignments (PUT, DELETE,
// and lists with $filter atScope() or principalId eq).
func (f *fakeServer) authorization(w http.ResponseWriter, r *http.Request, body []byte, scope string, rest []string) {
	if len(rest) == 0 {
		armError(w, 404, "NotFound", "no route")
		return
	}
	filter := r.URL.Query().Get("$filter")
	roleNameFilter := regexp.MustCompile(`^roleName eq '((?:[^']|'')*)'$`)
	switch {
	case strings.EqualFold(rest[0], "roleDefinitions") && len(rest) == 1 && r.Method == http.MethodGet:
		out := []map[string]any{}
		for _, d := range fakeRoleDefinitions() {
			name := d["properties"].(map[string]any)["roleName"].(string)
			if filter != "" {
				m := roleNameFilter.FindStringSubmatch(filter)
				if m == nil {
					armError(w, 400, "InvalidQueryParameterValue", "bad $filter")
					return
				}
				if !strings.EqualFold(strings.ReplaceAll(m[1], "''", "'"), name) {
					continue
				}
			}
			out = append(out, d)
		}
		writeJSON(w, 200, map[string]any{"value": out})
	case strings.EqualFold(rest[0], "roleAssignments") && len(rest) == 1 && r.Method == http.MethodGet:
		f.listAssignments(w, scope, filter)
	case strings.EqualFold(rest[0], "roleAssignments") && len(rest) == 2 && r.Method == http.MethodPut:
		f.putAssignment(w, body, scope, rest[1])
	case strings.EqualFold(rest[0], "roleAssignments") && len(rest) == 2 && r.Method == http.MethodDelete:
		id := strings.ToLower(scope + "/providers/" + typeRoleAssign + "/" + rest[1])
		ra, ok := f.resources[id]
		if !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		delete(f.resources, id)
		writeJSON(w, 200, ra)
	default:
		armError(w, 404, "NotFound", "no route")
	}
}

// covers reports whether scope parent is target or above it.
func covers(parent, target string) bool {
	p, t := strings.ToLower(parent), strings.ToLower(target)
	return p == t || strings.HasPrefix(t, p+"/")
}

func (f *fakeServer) listAssignments(w http.ResponseWriter, scope, filter string) {
	principalFilter := regexp.MustCompile(`^principalId eq '([^']*)'$`)
	var ids []string
	for id, res := range f.resources {
		if res["type"] != typeRoleAssign {
			continue
		}
		props := res["properties"].(map[string]any)
		at := props["scope"].(string)
		switch m := principalFilter.FindStringSubmatch(filter); {
		case filter == "atScope()":
			if !covers(at, scope) {
				continue
			}
		case m != nil:
			if !strings.EqualFold(props["principalId"].(string), m[1]) {
				continue
			}
		case filter == "":
			if !covers(at, scope) && !covers(scope, at) {
				continue
			}
		default:
			armError(w, 400, "InvalidQueryParameterValue", "bad $filter "+filter)
			return
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := []map[string]any{}
	for _, id := range ids {
		out = append(out, f.resources[id])
	}
	writeJSON(w, 200, map[string]any{"value": out})
}

func (f *fakeServer) putAssignment(w http.ResponseWriter, body []byte, scope, name string) {
	var in struct {
		Properties map[string]string `json:"properties"`
	}
	if err := json.Unmarshal(body, &in); err != nil || len(in.Properties) != 3 {
		armError(w, 400, "InvalidRequestContent", "The request content was invalid: "+string(body))
		return
	}
	p := in.Properties
	known := false
	for _, d := range fakeRoleDefinitions() {
		known = known || strings.EqualFold(d["id"].(string), p["roleDefinitionId"])
	}
	if !known {
		armError(w, 400, "RoleDefinitionDoesNotExist", "The specified role definition with ID '"+p["roleDefinitionId"]+"' does not exist.")
		return
	}
	for _, res := range f.resources {
		if res["type"] != typeRoleAssign {
			continue
		}
		q := res["properties"].(map[string]any)
		if strings.EqualFold(q["scope"].(string), scope) && q["principalId"] == p["principalId"] && strings.EqualFold(q["roleDefinitionId"].(string), p["roleDefinitionId"]) {
			armError(w, 409, "RoleAssignmentExists", "The role assignment already exists.")
			return
		}
	}
	id := scope + "/providers/" + typeRoleAssign + "/" + name
	ra := map[string]any{
		"id": id, "name": name, "type": typeRoleAssign,
		"properties": map[string]any{
			"roleDefinitionId": p["roleDefinitionId"], "principalId": p["principalId"], "principalType": p["principalType"],
			"scope": scope, "createdOn": fakeCreatedOn, "updatedOn": fakeCreatedOn, "createdBy": "admin-object",
		},
	}
	f.resources[strings.ToLower(id)] = ra
	writeJSON(w, 201, ra)
}
