package vault

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/fedcred/fedcred/internal/rbac"
)

// Data actions of the deleted-secret operations, which package rbac does not
// name (the Secrets Officer and Administrator roles grant them by wildcard).
const (
	actionSecretPurge   = "Microsoft.KeyVault/vaults/secrets/purge/action"
	actionSecretRecover = "Microsoft.KeyVault/vaults/secrets/recover/action"
)

// operation is one data-plane operation: the data action it needs and what
// it does once authorized.
type operation struct {
	action string
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, c *call) error
}

// shape is a kind of data-plane path.
type shape int

// The path shapes under /vaults/<name>/.
const (
	shapeSecrets        shape = iota // secrets
	shapeSecret                      // secrets/<name>
	shapeSecretVersion               // secrets/<name>/<version>
	shapeSecretVersions              // secrets/<name>/versions
	shapeDeletedSecrets              // deletedsecrets
	shapeDeletedSecret               // deletedsecrets/<name>
	shapeRecover                     // deletedsecrets/<name>/recover
)

// methodOp is the operation a method names on a path shape.
type methodOp struct {
	method string
	op     operation
}

// operations lists the operations of a path shape. The secret-scoped shapes
// authorize on <vault ID>/secrets/<name>, the others on the vault.
func operations(s shape) []methodOp {
	switch s {
	case shapeSecrets:
		return []methodOp{{http.MethodGet, operation{rbac.SecretReadMetadata, (*Handler).listSecrets}}}
	case shapeSecret:
		return []methodOp{
			{http.MethodGet, operation{rbac.SecretGet, (*Handler).getSecret}},
			{http.MethodPut, operation{rbac.SecretSet, (*Handler).setSecret}},
			{http.MethodPatch, operation{rbac.SecretUpdate, (*Handler).updateSecret}},
			{http.MethodDelete, operation{rbac.SecretDelete, (*Handler).deleteSecret}},
		}
	case shapeSecretVersion:
		return []methodOp{
			{http.MethodGet, operation{rbac.SecretGet, (*Handler).getSecret}},
			{http.MethodPatch, operation{rbac.SecretUpdate, (*Handler).updateSecret}},
		}
	case shapeSecretVersions:
		return []methodOp{{http.MethodGet, operation{rbac.SecretReadMetadata, (*Handler).listVersions}}}
	case shapeDeletedSecrets:
		return []methodOp{{http.MethodGet, operation{rbac.SecretReadMetadata, (*Handler).listDeletedSecrets}}}
	case shapeDeletedSecret:
		return []methodOp{
			{http.MethodGet, operation{rbac.SecretReadMetadata, (*Handler).deletedSecretNotFound}},
			{http.MethodDelete, operation{actionSecretPurge, (*Handler).deletedSecretNotFound}},
		}
	case shapeRecover:
		return []methodOp{{http.MethodPost, operation{actionSecretRecover, (*Handler).deletedSecretNotFound}}}
	}
	return nil
}

var (
	// secretNameRE is Key Vault's rule for secret names.
	secretNameRE = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)
	// versionRE bounds version IDs in paths; fedcred's are 32 hex digits.
	versionRE = regexp.MustCompile(`^[0-9a-zA-Z]{1,64}$`)
)

// maxVaultNameLen bounds vault names in paths (Azure's limit is 24).
const maxVaultNameLen = 127

// route matches the request's method and path (under PathPrefix) to an
// operation, returning the vault name and the call to make. Collection
// names match case-insensitively and one trailing slash is ignored
// (azsecrets asks for the latest version as /secrets/<name>/).
func route(r *http.Request, path string) (string, *call, error) {
	rest, ok := strings.CutPrefix(path, PathPrefix)
	if !ok {
		return "", nil, errNoRoute(path)
	}
	segs := strings.Split(rest, "/")
	if len(segs) > 1 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1]
	}
	vaultName := segs[0]
	if vaultName == "" || len(vaultName) > maxVaultNameLen || len(segs) < 2 {
		return "", nil, errNoRoute(r.URL.Path)
	}
	c := &call{}
	var s shape
	coll := strings.ToLower(segs[1])
	switch {
	case coll == "secrets" && len(segs) == 2:
		s = shapeSecrets
	case coll == "secrets" && len(segs) == 3:
		s, c.name = shapeSecret, segs[2]
	case coll == "secrets" && len(segs) == 4 && strings.EqualFold(segs[3], "versions"):
		s, c.name = shapeSecretVersions, segs[2]
	case coll == "secrets" && len(segs) == 4:
		s, c.name, c.version = shapeSecretVersion, segs[2], strings.ToLower(segs[3])
	case coll == "deletedsecrets" && len(segs) == 2:
		s = shapeDeletedSecrets
	case coll == "deletedsecrets" && len(segs) == 3:
		s, c.name = shapeDeletedSecret, segs[2]
	case coll == "deletedsecrets" && len(segs) == 4 && strings.EqualFold(segs[3], "recover"):
		s, c.name = shapeRecover, segs[2]
	default:
		return "", nil, errNoRoute(r.URL.Path)
	}
	ops := operations(s)
	var allow []string
	for _, mo := range ops {
		if mo.method == r.Method {
			c.op = &mo.op
		}
		allow = append(allow, mo.method)
	}
	if c.op == nil {
		return "", nil, errMethodNotAllowed(r.Method, allow)
	}
	if len(segs) > 2 && !secretNameRE.MatchString(c.name) {
		return "", nil, errBadParameter("The secret name '" + clip(c.name) +
			"' is invalid: a secret name is 1 to 127 letters, digits and dashes.")
	}
	if c.version != "" && !versionRE.MatchString(c.version) {
		return "", nil, errSecretNotFound(c.name)
	}
	return vaultName, c, nil
}
