package output

import (
	"fmt"
	"strings"
)

// FlattenResource returns an ARM resource in the form az prints it: the
// members of "properties" lifted to the top level next to id, name, type,
// location and tags, and "resourceGroup" taken from the resource ID. A
// top-level member wins over a property of the same name. v must marshal to
// a JSON object.
func FlattenResource(v any) (map[string]any, error) {
	g, err := generic(v)
	if err != nil {
		return nil, err
	}
	m, ok := g.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("flatten resource: got %T, want a JSON object", g)
	}
	return flatten(m), nil
}

// FlattenResources flattens each resource of a list; an empty list stays an
// empty list (az prints []).
func FlattenResources[T any](items []T) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(items))
	for _, item := range items {
		m, err := FlattenResource(item)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// AddResourceGroup returns an ARM resource as a JSON object with
// "resourceGroup" taken from its ID and "properties" left nested, the way
// az prints resources whose SDK model keeps them nested (key vaults:
// az keyvault show --query properties.vaultUri). v must marshal to a JSON
// object.
func AddResourceGroup(v any) (map[string]any, error) {
	g, err := generic(v)
	if err != nil {
		return nil, err
	}
	m, ok := g.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("add resource group: got %T, want a JSON object", g)
	}
	addResourceGroup(m, m)
	return m, nil
}

// AddResourceGroups does AddResourceGroup for each resource of a list; an
// empty list stays an empty list.
func AddResourceGroups[T any](items []T) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(items))
	for _, item := range items {
		m, err := AddResourceGroup(item)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// addResourceGroup sets out["resourceGroup"] from m's id unless out has one.
func addResourceGroup(out, m map[string]any) {
	if _, ok := out["resourceGroup"]; ok {
		return
	}
	if id, ok := m["id"].(string); ok {
		if rg := ResourceGroupOf(id); rg != "" {
			out["resourceGroup"] = rg
		}
	}
}

func flatten(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+8)
	props, isObject := m["properties"].(map[string]any)
	for k, v := range props {
		out[k] = v
	}
	for k, v := range m {
		if k == "properties" && (isObject || v == nil) {
			continue
		}
		out[k] = v
	}
	addResourceGroup(out, m)
	return out
}

// ResourceGroupOf returns the resource group named in an ARM resource ID, or
// "" when the ID is not inside one. The segment name is matched without
// regard to case, as ARM does.
func ResourceGroupOf(id string) string {
	segs := strings.Split(strings.TrimPrefix(id, "/"), "/")
	if len(segs) >= 4 && strings.EqualFold(segs[0], "subscriptions") && strings.EqualFold(segs[2], "resourceGroups") {
		return segs[3]
	}
	return ""
}
