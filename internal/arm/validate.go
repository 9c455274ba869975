package arm

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Name rules of the resource types served here.
var (
	identityNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$`)
	clusterNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9]$|^[a-zA-Z0-9][a-zA-Z0-9_-]{0,61}[a-zA-Z0-9]$`)
	locationPattern     = regexp.MustCompile(`^[a-z0-9]{1,64}$`)
)

// Limits on resource groups and tags, as ARM applies them.
const (
	maxResourceGroupName = 90
	maxTags              = 50
	maxTagName           = 512
	maxTagValue          = 256
)

// validateResourceGroupName applies ARM's rule: 1 to 90 letters, digits,
// '-', '_', '.', '(' or ')', not ending in a period.
func validateResourceGroupName(name string) error {
	var bad []string
	seen := map[rune]bool{}
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.()", r) || seen[r] {
			continue
		}
		seen[r] = true
		bad = append(bad, string(r))
	}
	switch {
	case len(bad) > 0:
		return errInvalidName("InvalidResourceGroup", fmt.Sprintf(
			"The provided resource group name '%s' has these invalid characters: '%s'. "+
				"The name can only be a letter, digit, '-', '.', '(', ')' or '_'.", clip(name), strings.Join(bad, "")))
	case len([]rune(name)) > maxResourceGroupName:
		return errInvalidName("InvalidResourceGroup", fmt.Sprintf(
			"The provided resource group name '%s' is too long: it can be at most %d characters.", clip(name), maxResourceGroupName))
	case strings.HasSuffix(name, "."):
		return errInvalidName("InvalidResourceGroup", fmt.Sprintf(
			"The provided resource group name '%s' must not end with a period.", clip(name)))
	}
	return nil
}

func validateIdentityName(name string) error {
	if identityNamePattern.MatchString(name) {
		return nil
	}
	return errInvalidName("InvalidResourceName", fmt.Sprintf(
		"Resource name '%s' is invalid. The name can contain only letters, numbers, underscores and hyphens, "+
			"must start with a letter or number, and must be 3 to 128 characters long.", clip(name)))
}

func validateClusterName(name string) error {
	if clusterNamePattern.MatchString(name) {
		return nil
	}
	return errInvalidName("InvalidResourceName", fmt.Sprintf(
		"Resource name '%s' is invalid. The name can contain only letters, numbers, underscores and hyphens, "+
			"must start and end with a letter or number, and must be 1 to 63 characters long.", clip(name)))
}

// normalizeLocation turns "East US" into "eastus", the form ARM returns, and
// checks the result. An empty location is LocationRequired.
func normalizeLocation(location, resourceType string) (string, error) {
	norm := strings.ToLower(strings.ReplaceAll(location, " ", ""))
	if norm == "" {
		return "", errLocationRequired()
	}
	if !locationPattern.MatchString(norm) {
		return "", errInvalidLocation(location, resourceType)
	}
	return norm, nil
}

// validateTags applies ARM's limits: at most 50 tags, names of 1 to 512
// characters without <, >, %, &, \, ? or /, values of at most 256.
func validateTags(tags map[string]string) error {
	if len(tags) > maxTags {
		return &apiError{status: http.StatusBadRequest, code: "InvalidTag", target: "tags",
			message: fmt.Sprintf("The number of tags (%d) exceeds the limit of %d.", len(tags), maxTags)}
	}
	names := make([]string, 0, len(tags))
	for k := range tags {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := tags[k]
		switch {
		case k == "" || len([]rune(k)) > maxTagName:
			return &apiError{status: http.StatusBadRequest, code: "InvalidTagNameLength", target: "tags",
				message: fmt.Sprintf("The tag name '%s' must be 1 to %d characters long.", clip(k), maxTagName)}
		case strings.ContainsAny(k, `<>%&\?/`) || strings.ContainsFunc(k, unicode.IsControl):
			return &apiError{status: http.StatusBadRequest, code: "InvalidTagNameCharacters", target: "tags",
				message: fmt.Sprintf("The tag name '%s' has invalid characters: '<', '>', '%%', '&', '\\', '?', '/' and control characters are not allowed.", clip(k))}
		case len([]rune(v)) > maxTagValue:
			return &apiError{status: http.StatusBadRequest, code: "InvalidTagValueLength", target: "tags",
				message: fmt.Sprintf("The value of tag '%s' exceeds the limit of %d characters.", clip(k), maxTagValue)}
		}
	}
	return nil
}

// copyTags returns tags, never nil, as a copy.
func copyTags(tags map[string]string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = v
	}
	return out
}
