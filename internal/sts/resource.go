package sts

import "strings"

// builtinResources are resources every tenant has, like Entra's first-party
// service principals.
func builtinResources() []string {
	return []string{
		"https://vault.azure.net",             // Key Vault
		"https://cognitiveservices.azure.com", // Azure AI services
		"https://storage.azure.com",           // Storage
		"https://graph.microsoft.com",         // Microsoft Graph
		"https://management.core.windows.net", // ARM (classic audience)
		"https://management.azure.com",        // ARM
	}
}

// knownResource reports whether resource is a built-in resource, one of the
// management audiences, or registered through Config.Resources. Built-ins
// and management audiences are compared ignoring one trailing slash, since
// clients send both forms.
func (h *Handler) knownResource(resource string) bool {
	want := strings.TrimSuffix(resource, "/")
	if want == "" {
		return false
	}
	for _, list := range [][]string{builtinResources(), h.mgmt} {
		for _, r := range list {
			if strings.TrimSuffix(r, "/") == want {
				return true
			}
		}
	}
	return h.resources != nil && h.resources(resource)
}
