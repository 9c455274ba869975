package arm

import (
	"net/http"
)

// metadataJSON is ARM's /metadata/endpoints document in its 2015-01-01
// shape, which az reads when a cloud is registered without every endpoint.
type metadataJSON struct {
	GalleryEndpoint string                 `json:"galleryEndpoint"`
	GraphEndpoint   string                 `json:"graphEndpoint"`
	PortalEndpoint  string                 `json:"portalEndpoint"`
	ResourceManager string                 `json:"resourceManager"`
	Authentication  metadataAuthentication `json:"authentication"`
}

type metadataAuthentication struct {
	LoginEndpoint    string   `json:"loginEndpoint"`
	Audiences        []string `json:"audiences"`
	Tenant           string   `json:"tenant"`
	IdentityProvider string   `json:"identityProvider"`
}

// metadataEndpoints serves GET /metadata/endpoints, without authentication
// and with any api-version or none.
func (h *Handler) metadataEndpoints(r *http.Request) (response, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return response{}, errMethodNotAllowed(r.Method, []string{http.MethodGet, http.MethodHead})
	}
	base := h.publicURL + "/"
	return response{http.StatusOK, metadataJSON{
		GalleryEndpoint: base,
		GraphEndpoint:   "https://graph.windows.net/",
		PortalEndpoint:  base + "portal/",
		ResourceManager: base,
		Authentication: metadataAuthentication{
			LoginEndpoint:    base,
			Audiences:        []string{base, "https://management.core.windows.net/", "https://management.azure.com/"},
			Tenant:           h.tenantID,
			IdentityProvider: "AAD",
		},
	}}, nil
}
