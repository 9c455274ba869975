package issuer

import (
	"fmt"
	"math"
	"regexp"
	"time"
)

// TokenRequest is Kubernetes' authentication.k8s.io/v1 TokenRequest, the body
// of a service-account token request and of its answer.
type TokenRequest struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   TokenRequestMeta   `json:"metadata"`
	Spec       TokenRequestSpec   `json:"spec"`
	Status     TokenRequestStatus `json:"status"`
}

// TokenRequestMeta is the object metadata of a TokenRequest.
type TokenRequestMeta struct {
	Name              string `json:"name,omitempty"`
	Namespace         string `json:"namespace,omitempty"`
	CreationTimestamp string `json:"creationTimestamp,omitempty"`
}

// TokenRequestSpec is what the caller asks for.
type TokenRequestSpec struct {
	Audiences         []string        `json:"audiences"`
	ExpirationSeconds *int64          `json:"expirationSeconds,omitempty"`
	BoundObjectRef    *BoundObjectRef `json:"boundObjectRef,omitempty"`
}

// BoundObjectRef names the object (a Pod, Secret or Node) a token is bound to.
type BoundObjectRef struct {
	Kind       string `json:"kind,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
	Name       string `json:"name,omitempty"`
	UID        string `json:"uid,omitempty"`
}

// TokenRequestStatus is the answer: the token and when it expires.
type TokenRequestStatus struct {
	Token               string `json:"token"`
	ExpirationTimestamp string `json:"expirationTimestamp"`
}

// Service-account token lifetime bounds, as kube-apiserver and AKS apply them.
const (
	DefaultTokenExpiration = time.Hour
	MinTokenExpiration     = 10 * time.Minute
	MaxTokenExpiration     = 24 * time.Hour // AKS caps service-account tokens at 24 h
)

// dns1123Label is a Kubernetes namespace name; service-account names are DNS
// subdomains.
var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// ValidateServiceAccount checks a namespace and service-account name the way
// the Kubernetes API server does.
func ValidateServiceAccount(namespace, name string) error {
	if len(namespace) == 0 || len(namespace) > 63 || !dns1123Label.MatchString(namespace) {
		return fmt.Errorf("namespace %q is not a valid DNS-1123 label", namespace)
	}
	if len(name) == 0 || len(name) > 253 || !dns1123Subdomain.MatchString(name) {
		return fmt.Errorf("service account name %q is not a valid DNS-1123 subdomain", name)
	}
	return nil
}

// Validate checks a TokenRequestSpec with the messages kube-apiserver uses and
// returns the lifetime the token will get (capped at MaxTokenExpiration, as
// the server may issue a shorter token than asked).
func (s TokenRequestSpec) Validate() (time.Duration, error) {
	exp := DefaultTokenExpiration
	if s.ExpirationSeconds != nil {
		n := *s.ExpirationSeconds
		switch {
		case n < int64(MinTokenExpiration/time.Second):
			return 0, fmt.Errorf("spec.expirationSeconds: Invalid value: %d: may not specify a duration less than 10 minutes", n)
		case n > math.MaxUint32:
			return 0, fmt.Errorf("spec.expirationSeconds: Invalid value: %d: may not specify a duration larger than 2^32 seconds", n)
		}
		exp = time.Duration(n) * time.Second
	}
	if exp > MaxTokenExpiration {
		exp = MaxTokenExpiration
	}
	for i, a := range s.Audiences {
		if a == "" || len(a) > 600 {
			return 0, fmt.Errorf("spec.audiences[%d]: Invalid value: %q: must be 1 to 600 characters", i, a)
		}
	}
	if len(s.Audiences) > 10 {
		return 0, fmt.Errorf("spec.audiences: Too many: %d: must have at most 10 items", len(s.Audiences))
	}
	if ref := s.BoundObjectRef; ref != nil {
		switch ref.Kind {
		case "Pod", "Secret", "Node":
		default:
			return 0, fmt.Errorf("spec.boundObjectRef.kind: Unsupported value: %q: supported values: \"Pod\", \"Secret\", \"Node\"", ref.Kind)
		}
		if ref.Name == "" {
			return 0, fmt.Errorf("spec.boundObjectRef.name: Required value")
		}
	}
	return exp, nil
}
