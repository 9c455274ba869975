package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
)

// Layout is the naming of the projected token volume and its mount, which
// azure-workload-identity changed in v1.6.0. Clients only read
// AZURE_FEDERATED_TOKEN_FILE, so either works; LayoutV15 keeps the paths of
// older docs and scripts.
type Layout string

// The layouts.
const (
	// LayoutV15 (azure-workload-identity v1.0 to v1.5.x): volume
	// "azure-identity-token" mounted at /var/run/secrets/azure/tokens, token
	// file azure-identity-token.
	LayoutV15 Layout = "v1.5"
	// LayoutV16 (v1.6.0, the default): volume
	// "azure-workload-identity-reserved-" + the first 30 hex digits of
	// SHA-256(pod name), mounted at /var/run/secrets/azure/wi, token file
	// token/azure-identity-token.
	LayoutV16 Layout = "v1.6"
	// DefaultLayout is the layout of the current azure-workload-identity.
	DefaultLayout = LayoutV16
)

// Names and paths of the two layouts.
const (
	v15VolumeName   = "azure-identity-token"
	v15MountPath    = "/var/run/secrets/azure/tokens"
	v15TokenPath    = "azure-identity-token"
	v16VolumePrefix = "azure-workload-identity-reserved-"
	v16MountPath    = "/var/run/secrets/azure/wi"
	v16TokenPath    = "token/azure-identity-token"
	maxVolumeName   = 63 // a DNS label
)

// ParseLayout parses "v1.5" or "v1.6".
func ParseLayout(s string) (Layout, error) {
	switch l := Layout(s); l {
	case LayoutV15, LayoutV16:
		return l, nil
	}
	return "", fmt.Errorf("unknown token path layout %q: use %s or %s", s, LayoutV15, LayoutV16)
}

// orDefault returns l, or DefaultLayout when l is empty.
func (l Layout) orDefault() Layout {
	if l == "" {
		return DefaultLayout
	}
	return l
}

// VolumeName is the name of the projected token volume of the pod named
// podName (see podName).
func (l Layout) VolumeName(podName string) string {
	if l.orDefault() == LayoutV15 {
		return v15VolumeName
	}
	sum := sha256.Sum256([]byte(podName))
	return v16VolumePrefix + hex.EncodeToString(sum[:])[:maxVolumeName-len(v16VolumePrefix)]
}

// MountPath is where the volume is mounted in each container.
func (l Layout) MountPath() string {
	if l.orDefault() == LayoutV15 {
		return v15MountPath
	}
	return v16MountPath
}

// TokenPath is the token file's path inside the volume.
func (l Layout) TokenPath() string {
	if l.orDefault() == LayoutV15 {
		return v15TokenPath
	}
	return v16TokenPath
}

// TokenFile is the value of AZURE_FEDERATED_TOKEN_FILE.
func (l Layout) TokenFile() string {
	return path.Join(l.MountPath(), l.TokenPath())
}
