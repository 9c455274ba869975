package portal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/fedcred/fedcred/internal/issuer"
)

// Try-it sources of the federated token.
const (
	sourceCluster = "cluster"
	sourceToken   = "token"
)

// Bounds of what Try it accepts.
const (
	maxPastedToken     = 16 << 10
	maxResource        = 600
	tryItTokenLifetime = 600 // seconds; the least kube-apiserver issues
	assertionType      = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	resourceOther      = "other"
)

// resourceOption is a resource Try it offers.
type resourceOption struct {
	Label, Value string
	Selected     bool
}

// builtInResources are the resources with built-in registrations.
func (h *Handler) builtInResources() []resourceOption {
	return []resourceOption{
		{Label: "Azure Key Vault", Value: "https://vault.azure.net"},
		{Label: "Azure AI services / Azure OpenAI", Value: "https://cognitiveservices.azure.com"},
		{Label: "Azure Storage", Value: "https://storage.azure.com"},
		{Label: "Microsoft Graph", Value: "https://graph.microsoft.com"},
		{Label: "Azure Resource Manager", Value: "https://management.azure.com/"},
		{Label: "This server's management API", Value: h.publicURL},
	}
}

// option is a choice of a select.
type option struct {
	Label, Value string
	Selected     bool
}

// decodedJWT is a token's header and claims, pretty-printed. Nothing is
// verified: it is shown, not trusted.
type decodedJWT struct {
	Header, Claims string
}

// decodeJWT splits a compact JWS and pretty-prints its header and claims.
func decodeJWT(token string) (*decodedJWT, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("a token has three parts separated by dots; this one has %d", len(parts))
	}
	var out [2]string
	for i := range out {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, fmt.Errorf("part %d of the token is not base64url", i+1)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, raw, "", "  "); err != nil {
			return nil, fmt.Errorf("part %d of the token is not JSON", i+1)
		}
		out[i] = pretty.String()
	}
	return &decodedJWT{Header: out[0], Claims: out[1]}, nil
}

// refusal is the token service's error answer.
type refusal struct {
	Status      int
	Error       string
	Codes       []int
	Code        string // "AADSTS700213"
	Description string // Entra's text, without the trace suffix
	Hint        string // fedcred's explanation: which credential came closest
	TraceID     string
}

// parseRefusal reads Entra's error JSON.
func parseRefusal(status int, body []byte) *refusal {
	var e struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		ErrorCodes       []int  `json:"error_codes"`
		TraceID          string `json:"trace_id"`
	}
	r := &refusal{Status: status}
	if json.Unmarshal(body, &e) != nil {
		r.Error, r.Description = http.StatusText(status), "The token service's answer could not be read."
		return r
	}
	r.Error, r.Codes, r.TraceID = e.Error, e.ErrorCodes, e.TraceID
	desc := e.ErrorDescription
	if i := strings.Index(desc, " Trace ID: "); i >= 0 {
		desc = desc[:i]
	}
	if code, rest, ok := strings.Cut(desc, ": "); ok && strings.HasPrefix(code, "AADSTS") {
		r.Code, desc = code, rest
	}
	if text, hint, ok := strings.Cut(desc, " fedcred: "); ok {
		desc, r.Hint = text, hint
	}
	r.Description = desc
	if r.Code == "" && len(r.Codes) > 0 {
		r.Code = fmt.Sprintf("AADSTS%d", r.Codes[0])
	}
	return r
}

// tryItData is the Try it page.
type tryItData struct {
	base
	subscriptionChoice
	Source         string
	Clusters       []option
	Namespace      field
	ServiceAccount field
	SAAudience     field
	Token          field
	Identities     []option
	Resources      []resourceOption
	OtherResource  field
	ResourceOther  bool
	Errors         formErrors
	// Result of a run.
	Ran        bool
	Assertion  *decodedJWT
	MintError  *apiError
	Success    bool
	Access     *decodedJWT
	ExpiresIn  string
	Refusal    *refusal
	ClientID   string
	Scope      string
	IdentityOf string
	// AuditURL is the identity's audit tab, where the run's token event
	// shows.
	AuditURL string
}

// tryItForm builds the form for the subscription chosen.
func (h *Handler) tryItForm(v *visit) error {
	q := v.r.URL.Query()
	d, err := h.newTryIt(v, q.Get("subscription"))
	if err != nil {
		return err
	}
	d.selectIdentity(q.Get("identity"))
	d.selectResource(q.Get("resource"))
	return v.show(h, http.StatusOK, "tryit", d)
}

// newTryIt lists the subscription's clusters with issuers and identities.
func (h *Handler) newTryIt(v *visit, sub string) (*tryItData, error) {
	choice, err := h.pickSubscription(v, sub)
	if err != nil {
		return nil, err
	}
	d := &tryItData{
		base:               base{Title: "Try it", Nav: "tryit", Crumbs: []crumb{{Label: "Try it"}}},
		subscriptionChoice: choice,
		Source:             sourceCluster,
		Errors:             formErrors{},
		Namespace: field{ID: "try-namespace", Name: "namespace", Label: "Namespace", Required: true,
			RequiredMessage: "Enter the service account's namespace.", Pattern: namespacePattern,
			PatternMessage: namespaceMessage, MaxLength: namespaceMax},
		ServiceAccount: field{ID: "try-service-account", Name: "service_account", Label: "Service account", Required: true,
			RequiredMessage: "Enter the service account's name.", Pattern: serviceAccountPattern,
			PatternMessage: serviceAccountMessage, MaxLength: serviceAccountMax},
		SAAudience: field{ID: "try-audience", Name: "audience", Label: "Token audience", Required: true,
			RequiredMessage: "Enter the audience of the service-account token.", MaxLength: maxCredentialValue,
			Value: DefaultAudience, Hint: "What kubelet projects for workload identity: " + DefaultAudience + "."},
		Token: field{ID: "try-token", Name: "token", Label: "Federated token", Required: true,
			RequiredMessage: "Paste a token.", MaxLength: maxPastedToken,
			Hint: "A JWT such as a projected service-account token. It is sent to the token service only."},
		Resources: h.builtInResources(),
		OtherResource: field{ID: "try-resource-other", Name: "resource_other", Label: "Resource (application ID URI)",
			Required: true, RequiredMessage: "Enter the resource.", MaxLength: maxResource,
			Hint: "For example api://orders; the scope asked for is the resource followed by /.default."},
	}
	if choice.Subscription == "" {
		return d, nil
	}
	ctx := v.r.Context()
	clusters, err := list[clusterJSON](ctx, h, v.p, clustersPath(choice.Subscription), apiVersionCluster, nil)
	if err != nil {
		if _, ok := asAPIError(err); !ok {
			return nil, err
		}
		clusters = nil // the visitor may not read clusters; a token can still be pasted
	}
	for _, c := range clusters {
		if c.Properties.OIDCIssuerProfile.Enabled {
			ref, _ := parseResourceID(c.ID)
			d.Clusters = append(d.Clusters, option{Label: c.Name + " (" + ref.RG + ")", Value: c.ID})
		}
	}
	sort.Slice(d.Clusters, func(i, j int) bool { return d.Clusters[i].Label < d.Clusters[j].Label })
	if len(d.Clusters) == 0 {
		d.Source = sourceToken
	}
	identities, err := list[identityJSON](ctx, h, v.p, identitiesPath(choice.Subscription), apiVersionIdentity, url.Values{"$top": {"1000"}})
	if err != nil {
		return nil, err
	}
	for _, i := range identities {
		ref, _ := parseResourceID(i.ID)
		d.Identities = append(d.Identities, option{Label: i.Name + " (" + ref.RG + ")", Value: i.ID})
	}
	sort.Slice(d.Identities, func(i, j int) bool {
		return strings.ToLower(d.Identities[i].Label) < strings.ToLower(d.Identities[j].Label)
	})
	return d, nil
}

func (d *tryItData) selectIdentity(id string) {
	for i := range d.Identities {
		d.Identities[i].Selected = strings.EqualFold(d.Identities[i].Value, id)
	}
}

func (d *tryItData) selectCluster(id string) {
	for i := range d.Clusters {
		d.Clusters[i].Selected = strings.EqualFold(d.Clusters[i].Value, id)
	}
}

func (d *tryItData) selectResource(r string) {
	found := r == ""
	for i := range d.Resources {
		d.Resources[i].Selected = d.Resources[i].Value == r
		found = found || d.Resources[i].Selected
	}
	if r == resourceOther || !found {
		d.ResourceOther = true
		if r != resourceOther {
			d.OtherResource.Value = r
		}
	}
}

// tryIt answers POST /portal/try-it: it mints a service-account token
// through the management API (or takes the pasted one), exchanges it at the
// token service, and shows the decoded access token or the refusal.
func (h *Handler) tryIt(v *visit) error {
	f := v.r.PostForm
	d, err := h.newTryIt(v, f.Get("subscription"))
	if err != nil {
		return err
	}
	d.Source = sourceCluster
	if f.Get("source") == sourceToken {
		d.Source = sourceToken
	}
	clusterID := f.Get("cluster")
	d.selectCluster(clusterID)
	d.Namespace.Value = strings.TrimSpace(f.Get("namespace"))
	d.ServiceAccount.Value = strings.TrimSpace(f.Get("service_account"))
	d.SAAudience.Value = strings.TrimSpace(f.Get("audience"))
	pasted := strings.TrimSpace(f.Get("token"))
	identityID := f.Get("identity")
	d.selectIdentity(identityID)
	resource := f.Get("resource")
	if resource == resourceOther {
		resource = strings.TrimSpace(f.Get("resource_other"))
		d.ResourceOther, d.OtherResource.Value = true, resource
		for i := range d.Resources {
			d.Resources[i].Selected = false
		}
	} else {
		d.selectResource(resource)
	}

	ref, identityOK := parseResourceID(identityID)
	if !identityOK {
		d.Errors.add("identity", "Choose an identity.")
	}
	switch {
	case resource == "" && d.ResourceOther:
		d.Errors.add("resource_other", d.OtherResource.RequiredMessage)
	case resource == "":
		d.Errors.add("resource", "Choose a resource.")
	case len(resource) > maxResource:
		d.Errors.add("resource_other", fmt.Sprintf("The resource can be at most %d characters.", maxResource))
	}
	var clusterRef resourceRef
	if d.Source == sourceCluster {
		var ok bool
		if clusterRef, ok = parseResourceID(clusterID); !ok {
			d.Errors.add("cluster", "Choose a cluster.")
		}
		if d.Namespace.Value == "" {
			d.Errors.add("namespace", d.Namespace.RequiredMessage)
		} else if msg := validateNamespace(d.Namespace.Value); msg != "" {
			d.Errors.add("namespace", msg)
		}
		if d.ServiceAccount.Value == "" {
			d.Errors.add("service_account", d.ServiceAccount.RequiredMessage)
		} else if msg := validateServiceAccount(d.ServiceAccount.Value); msg != "" {
			d.Errors.add("service_account", msg)
		}
		if d.SAAudience.Value == "" {
			d.Errors.add("audience", d.SAAudience.RequiredMessage)
		}
	} else {
		switch {
		case pasted == "":
			d.Errors.add("token", d.Token.RequiredMessage)
		case len(pasted) > maxPastedToken:
			d.Errors.add("token", fmt.Sprintf("The token can be at most %d bytes.", maxPastedToken))
		default:
			if _, err := decodeJWT(pasted); err != nil {
				d.Errors.add("token", "This is not a JWT: "+err.Error()+".")
			}
		}
	}
	if len(d.Errors) > 0 {
		return h.showTryIt(v, d, http.StatusUnprocessableEntity)
	}

	ctx := v.r.Context()
	var ident identityJSON
	if err := h.call(ctx, v.p, http.MethodGet, identityPath(ref.Sub, ref.RG, ref.Name), apiVersionIdentity, nil, nil, &ident); err != nil {
		ae, ok := asAPIError(err)
		if !ok {
			return err
		}
		d.Errors.add("identity", ae.Message)
		return h.showTryIt(v, d, ae.Status)
	}
	d.Ran = true
	assertion := pasted
	if d.Source == sourceCluster {
		seconds := int64(tryItTokenLifetime)
		body := issuer.TokenRequest{APIVersion: "authentication.k8s.io/v1", Kind: "TokenRequest",
			Spec: issuer.TokenRequestSpec{Audiences: []string{d.SAAudience.Value}, ExpirationSeconds: &seconds}}
		path := clusterPath(clusterRef.Sub, clusterRef.RG, clusterRef.Name) + "/api/v1/namespaces/" +
			url.PathEscape(d.Namespace.Value) + "/serviceaccounts/" + url.PathEscape(d.ServiceAccount.Value) + "/token"
		var tr issuer.TokenRequest
		if err := h.call(ctx, v.p, http.MethodPost, path, apiVersionCluster, nil, body, &tr); err != nil {
			ae, ok := asAPIError(err)
			if !ok {
				return err
			}
			d.MintError = ae
			return h.showTryIt(v, d, http.StatusOK)
		}
		assertion = tr.Status.Token
	}
	d.Assertion, _ = decodeJWT(assertion)

	tenant := ident.Properties.TenantID
	if tenant == "" {
		tenant = h.cfg.TenantID
	}
	d.ClientID, d.Scope, d.IdentityOf = ident.Properties.ClientID, resource+"/.default", ident.Name
	d.AuditURL = viewIdentity(ident).AuditURL
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {ident.Properties.ClientID},
		"scope":                 {d.Scope},
		"client_assertion_type": {assertionType},
		"client_assertion":      {assertion},
	}
	ans, err := h.serve(ctx, h.cfg.STS, http.MethodPost, "/"+url.PathEscape(tenant)+"/oauth2/v2.0/token",
		"application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return err
	}
	if ans.status != http.StatusOK {
		d.Refusal = parseRefusal(ans.status, ans.body)
		return h.showTryIt(v, d, http.StatusOK)
	}
	var tok struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(ans.body, &tok); err != nil || tok.AccessToken == "" {
		return fmt.Errorf("read token service answer: unusable token response")
	}
	if d.Access, err = decodeJWT(tok.AccessToken); err != nil {
		return fmt.Errorf("decode issued access token: %w", err)
	}
	d.Success = true
	d.ExpiresIn = strings.Trim(string(tok.ExpiresIn), `"`)
	return h.showTryIt(v, d, http.StatusOK)
}

func (h *Handler) showTryIt(v *visit, d *tryItData, status int) error {
	d.Namespace.Error = d.Errors["namespace"]
	d.ServiceAccount.Error = d.Errors["service_account"]
	d.SAAudience.Error = d.Errors["audience"]
	d.Token.Error = d.Errors["token"]
	d.OtherResource.Error = d.Errors["resource_other"]
	return v.show(h, status, "tryit", d)
}
