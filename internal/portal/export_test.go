package portal

// The live-validation rules, for the tests that compare them with the
// server's answers.
const (
	IdentityNamePattern   = identityNamePattern
	CredentialNamePattern = credentialNamePattern
	NamespacePattern      = namespacePattern
	ServiceAccountPattern = serviceAccountPattern
)
