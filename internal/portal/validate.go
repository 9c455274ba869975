package portal

import (
	"strings"

	"github.com/fedcred/fedcred/internal/issuer"
)

// The rules the browser checks as the visitor types. They are the
// management API's and Kubernetes' rules, restated for the embedded script
// (JavaScript regular expressions, no flags); the server's answer is shown
// whenever it differs, and the tests check that both agree.
const (
	identityNamePattern = `^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$`
	identityNameMessage = "The name can contain only letters, numbers, underscores and hyphens, " +
		"must start with a letter or number, and must be 3 to 128 characters long."

	credentialNamePattern = `^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$`
	credentialNameMessage = "The name must start with a letter or number and be 3 to 120 characters long: " +
		"letters, numbers, hyphens and underscores."

	namespacePattern = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	namespaceMax     = 63
	namespaceMessage = "A namespace is 1 to 63 lower-case letters, numbers and hyphens, " +
		"and starts and ends with a letter or number."

	serviceAccountPattern = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	serviceAccountMax     = 253
	serviceAccountMessage = "A service account name is up to 253 lower-case letters, numbers, hyphens and dots, " +
		"and starts and ends with a letter or number."

	issuerPattern = `^https://[^\s/?#@]+(/[^\s?#]*)?$`
	issuerMessage = "The issuer must be an absolute https URL with a host and without user information, query or fragment."

	maxCredentialValue = 600
	wildcardMessage    = "Wildcard characters aren't supported in any federated identity credential property value."
)

// Federated credential defaults.
const (
	// DefaultAudience is the audience Entra recommends for federated
	// credentials, and the one the workload identity webhook projects.
	DefaultAudience = "api://AzureADTokenExchange"
	// subjectPrefix starts a Kubernetes service account's subject.
	subjectPrefix = "system:serviceaccount:"
)

// field is one form input with its label, value, hint, error and the rule
// the browser checks live.
type field struct {
	ID, Name, Label, Value, Hint, Error string
	// Pattern and PatternMessage are checked as the visitor types.
	Pattern, PatternMessage string
	Required                bool
	RequiredMessage         string
	MaxLength               int
	// NoWildcard refuses '*', as the API does in credential values.
	NoWildcard bool
	ReadOnly   bool
	Autofocus  bool
	// Type is the input type; "" means text.
	Type string
}

// formErrors maps a field name to its message; "" holds the form-level one.
type formErrors map[string]string

// add records msg for name unless the field already has a message.
func (e formErrors) add(name, msg string) {
	if _, ok := e[name]; !ok {
		e[name] = msg
	}
}

// validateNamespace checks a Kubernetes namespace as kube-apiserver does.
func validateNamespace(ns string) string {
	if issuer.ValidateServiceAccount(ns, "a") != nil {
		return namespaceMessage
	}
	return ""
}

// validateServiceAccount checks a service account name as kube-apiserver
// does.
func validateServiceAccount(sa string) string {
	if issuer.ValidateServiceAccount("a", sa) != nil {
		return serviceAccountMessage
	}
	return ""
}

// subjectOf is a Kubernetes service account's subject.
func subjectOf(namespace, serviceAccount string) string {
	return subjectPrefix + namespace + ":" + serviceAccount
}

// parseSubject splits a service account subject; ok is false for any other
// subject.
func parseSubject(subject string) (namespace, serviceAccount string, ok bool) {
	rest, found := strings.CutPrefix(subject, subjectPrefix)
	if !found {
		return "", "", false
	}
	namespace, serviceAccount, found = strings.Cut(rest, ":")
	if !found || namespace == "" || serviceAccount == "" || strings.Contains(serviceAccount, ":") {
		return "", "", false
	}
	return namespace, serviceAccount, true
}
