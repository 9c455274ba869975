package portal

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Scenarios of the add-credential form.
const (
	scenarioKubernetes = "kubernetes"
	scenarioOther      = "other"
)

// credentialRow is one federated credential in the blade's list.
type credentialRow struct {
	Name, Issuer, Subject, Audience string
	EditURL, DeleteURL              string
}

func credentialURL(iv identityView, name string) string {
	return iv.CredentialsURL + "/" + url.PathEscape(name)
}

// credentialsData is an identity's federated credentials blade.
type credentialsData struct {
	base
	Identity identityView
	Rows     []credentialRow
}

// listCredentials answers GET .../identities/{name}/federated-credentials.
func (h *Handler) listCredentials(v *visit) error {
	iv, err := h.readIdentity(v)
	if err != nil {
		return err
	}
	creds, err := list[credentialJSON](v.r.Context(), h, v.p, credentialsPath(iv.Sub, iv.RG, iv.Name), apiVersionIdentity, nil)
	if err != nil {
		return err
	}
	d := &credentialsData{base: base{Title: iv.Name + " · Federated credentials", Nav: "identities",
		Crumbs: identityCrumbs(iv, "Federated credentials"), Tabs: identityTabs(iv, "Federated credentials")}, Identity: iv}
	q := v.r.URL.Query()
	switch {
	case q.Get("added") != "":
		d.Flash = "Federated credential '" + q.Get("added") + "' was added."
	case q.Get("saved") != "":
		d.Flash = "Federated credential '" + q.Get("saved") + "' was saved."
	case q.Get("deleted") != "":
		d.Flash = "Federated credential '" + q.Get("deleted") + "' was deleted."
	}
	for _, c := range creds {
		u := credentialURL(iv, c.Name)
		d.Rows = append(d.Rows, credentialRow{
			Name: c.Name, Issuer: c.Properties.Issuer, Subject: c.Properties.Subject,
			Audience: strings.Join(c.Properties.Audiences, ", "), EditURL: u + "/edit", DeleteURL: u + "/delete",
		})
	}
	return v.show(h, http.StatusOK, "credentials", d)
}

// issuerOption is a cluster whose issuer the form offers.
type issuerOption struct {
	Label, URL string
	Selected   bool
}

// credentialFormData is the add and edit form.
type credentialFormData struct {
	base
	Identity identityView
	// Editing is set when an existing credential is changed.
	Editing           bool
	Scenario          string
	KubernetesURL     string
	OtherURL          string
	Action            string
	Clusters          []issuerOption
	TypedIssuer       bool // no cluster is chosen: the issuer is typed
	ClusterIssuer     field
	IssuerURL         field // typed issuer of the Kubernetes scenario
	Namespace         field
	ServiceAccount    field
	DerivedSubject    string
	SubjectError      string
	Issuer            field // the other-issuer scenario
	Subject           field
	Name              field
	Audience          field
	AudienceEditable  bool
	AudienceIsDefault bool
	Errors            formErrors
}

// credentialForm builds the form for an identity; name is the credential
// being edited ("" to add one).
func (h *Handler) credentialForm(v *visit, iv identityView, name, scenario string) *credentialFormData {
	if scenario != scenarioOther {
		scenario = scenarioKubernetes
	}
	action := iv.NewCredURL
	title := "Add federated credential"
	if name != "" {
		action = credentialURL(iv, name) + "/edit"
		title = "Edit federated credential " + name
	}
	d := &credentialFormData{
		base: base{Title: title, Nav: "identities", Crumbs: identityCrumbs(iv, title),
			Tabs: identityTabs(iv, "Federated credentials")},
		Identity:      iv,
		Editing:       name != "",
		Scenario:      scenario,
		Action:        action,
		KubernetesURL: action + "?scenario=" + scenarioKubernetes,
		OtherURL:      action + "?scenario=" + scenarioOther,
		Errors:        formErrors{},
		ClusterIssuer: field{ID: "cluster-issuer", Name: "cluster_issuer", Label: "Cluster issuer URL"},
		IssuerURL: field{ID: "issuer-url", Name: "issuer_url", Label: "Issuer URL", Required: true,
			RequiredMessage: "Choose a cluster or enter an issuer URL.",
			Hint:            "The cluster's OIDC issuer URL, trailing slash included, as `az aks show --query oidcIssuerProfile.issuerUrl` prints it.",
			Pattern:         issuerPattern, PatternMessage: issuerMessage, MaxLength: maxCredentialValue, NoWildcard: true},
		Namespace: field{ID: "namespace", Name: "namespace", Label: "Namespace", Required: true,
			RequiredMessage: "Enter the service account's namespace.", Pattern: namespacePattern,
			PatternMessage: namespaceMessage, MaxLength: namespaceMax},
		ServiceAccount: field{ID: "service-account", Name: "service_account", Label: "Service account", Required: true,
			RequiredMessage: "Enter the service account's name.", Pattern: serviceAccountPattern,
			PatternMessage: serviceAccountMessage, MaxLength: serviceAccountMax},
		Issuer: field{ID: "issuer", Name: "issuer", Label: "Issuer URL", Required: true,
			RequiredMessage: "Enter the issuer URL.", Pattern: issuerPattern, PatternMessage: issuerMessage,
			MaxLength: maxCredentialValue, NoWildcard: true,
			Hint: "The issuer exactly as its tokens carry it in 'iss': matching is exact and case-sensitive."},
		Subject: field{ID: "subject", Name: "subject", Label: "Subject identifier", Required: true,
			RequiredMessage: "Enter the subject identifier.", MaxLength: maxCredentialValue, NoWildcard: true,
			Hint: "The 'sub' claim of the tokens to trust, exactly."},
		Name: field{ID: "name", Name: "name", Label: "Credential name", Required: true, RequiredMessage: "Enter a name.",
			Pattern: credentialNamePattern, PatternMessage: credentialNameMessage, MaxLength: 120,
			Hint: "3 to 120 letters, numbers, hyphens and underscores; it cannot be changed later."},
		Audience: field{ID: "audience", Name: "audience", Label: "Audience", Required: true,
			RequiredMessage: "Enter the audience.", MaxLength: maxCredentialValue, NoWildcard: true, ReadOnly: true,
			Value: DefaultAudience,
			Hint:  "The 'aud' claim of the tokens to trust. " + DefaultAudience + " is what Entra recommends."},
	}
	if name != "" {
		d.Name.Value, d.Name.ReadOnly = name, true
		d.Name.Hint = "The name of a credential cannot be changed."
	}
	d.Clusters = h.clusterIssuers(v, iv.Sub)
	return d
}

// clusterIssuers lists the enabled issuers of the subscription's clusters
// the visitor may read; a refusal leaves the list empty (the issuer can
// still be typed).
func (h *Handler) clusterIssuers(v *visit, sub string) []issuerOption {
	clusters, err := list[clusterJSON](v.r.Context(), h, v.p, clustersPath(sub), apiVersionCluster, nil)
	if err != nil {
		if _, ok := asAPIError(err); !ok {
			h.log.WarnContext(v.r.Context(), "list clusters for the credential form", "err", err)
		}
		return nil
	}
	var out []issuerOption
	for _, c := range clusters {
		if !c.Properties.OIDCIssuerProfile.Enabled || c.Properties.OIDCIssuerProfile.IssuerURL == "" {
			continue
		}
		ref, _ := parseResourceID(c.ID)
		out = append(out, issuerOption{Label: c.Name + " (" + ref.RG + ")", URL: c.Properties.OIDCIssuerProfile.IssuerURL})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}

// selectIssuer marks the cluster whose issuer is u, or sets u as the typed
// issuer when no cluster has it. An empty u picks the first cluster when
// pickFirst is set, else leaves the issuer to be typed.
func (d *credentialFormData) selectIssuer(u string, pickFirst bool) {
	if u == "" && pickFirst && len(d.Clusters) > 0 {
		u = d.Clusters[0].URL
	}
	d.TypedIssuer = true
	for i := range d.Clusters {
		d.Clusters[i].Selected = u != "" && d.Clusters[i].URL == u
		if d.Clusters[i].Selected {
			d.TypedIssuer = false
			d.ClusterIssuer.Value = u
		}
	}
	if d.TypedIssuer {
		d.IssuerURL.Value = u
	}
}

// newCredential answers GET .../federated-credentials/new.
func (h *Handler) newCredential(v *visit) error {
	iv, err := h.readIdentity(v)
	if err != nil {
		return err
	}
	d := h.credentialForm(v, iv, "", v.r.URL.Query().Get("scenario"))
	d.selectIssuer("", true)
	d.AudienceIsDefault = true
	if d.Scenario == scenarioKubernetes {
		d.DerivedSubject = subjectOf("", "")
		d.Namespace.Autofocus = len(d.Clusters) > 0
		d.IssuerURL.Autofocus = len(d.Clusters) == 0
	} else {
		d.Issuer.Autofocus = true
	}
	return v.show(h, http.StatusOK, "credential-form", d)
}

// editCredential answers GET .../federated-credentials/{fic}/edit: the form
// filled from the credential, in the Kubernetes scenario when its subject is
// a service account's (unless another scenario is asked for).
func (h *Handler) editCredential(v *visit) error {
	iv, err := h.readIdentity(v)
	if err != nil {
		return err
	}
	name := v.r.PathValue("fic")
	var c credentialJSON
	if err := h.call(v.r.Context(), v.p, http.MethodGet, credentialPath(iv.Sub, iv.RG, iv.Name, name), apiVersionIdentity, nil, nil, &c); err != nil {
		return err
	}
	ns, sa, isKube := parseSubject(c.Properties.Subject)
	scenario := v.r.URL.Query().Get("scenario")
	if scenario == "" {
		scenario = scenarioOther
		if isKube {
			scenario = scenarioKubernetes
		}
	}
	d := h.credentialForm(v, iv, c.Name, scenario)
	d.selectIssuer(c.Properties.Issuer, false)
	d.Issuer.Value = c.Properties.Issuer
	d.Subject.Value = c.Properties.Subject
	d.Namespace.Value, d.ServiceAccount.Value = ns, sa
	d.DerivedSubject = subjectOf(ns, sa)
	if len(c.Properties.Audiences) > 0 {
		d.Audience.Value = c.Properties.Audiences[0]
	}
	d.AudienceIsDefault = d.Audience.Value == DefaultAudience
	if !d.AudienceIsDefault {
		d.AudienceEditable, d.Audience.ReadOnly = true, false
	}
	return v.show(h, http.StatusOK, "credential-form", d)
}

// saveCredential answers POST .../federated-credentials/new and
// .../{fic}/edit: it checks what only the form knows (namespace and
// service account), then puts the credential through the API and shows the
// API's refusal next to the field its target names.
func (h *Handler) saveCredential(v *visit) error {
	iv, err := h.readIdentity(v)
	if err != nil {
		return err
	}
	f := v.r.PostForm
	editing := v.r.PathValue("fic")
	d := h.credentialForm(v, iv, editing, f.Get("scenario"))
	issuer := ""
	if d.Scenario == scenarioKubernetes {
		issuer = f.Get("cluster_issuer")
		if issuer == "" {
			issuer = strings.TrimSpace(f.Get("issuer_url"))
		}
		d.selectIssuer(issuer, false)
	} else {
		issuer = strings.TrimSpace(f.Get("issuer"))
		d.Issuer.Value = issuer
	}
	d.Namespace.Value = strings.TrimSpace(f.Get("namespace"))
	d.ServiceAccount.Value = strings.TrimSpace(f.Get("service_account"))
	d.DerivedSubject = subjectOf(d.Namespace.Value, d.ServiceAccount.Value)
	d.Subject.Value = f.Get("subject")
	if editing == "" {
		d.Name.Value = strings.TrimSpace(f.Get("name"))
	}
	d.Audience.Value = strings.TrimSpace(f.Get("audience"))
	d.AudienceEditable = f.Get("audience_editable") == "1" || f.Get("edit_audience") != ""
	d.Audience.ReadOnly = !d.AudienceEditable
	d.AudienceIsDefault = d.Audience.Value == DefaultAudience
	if f.Get("edit_audience") != "" {
		// The "Edit" button without JavaScript: show the form again with the
		// audience editable and the warning.
		d.Audience.Autofocus = true
		return v.show(h, http.StatusOK, "credential-form", d)
	}

	subject := d.Subject.Value
	if d.Scenario == scenarioKubernetes {
		subject = d.DerivedSubject
		if issuer == "" {
			d.Errors.add("issuer_url", d.IssuerURL.RequiredMessage)
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
	} else {
		if issuer == "" {
			d.Errors.add("issuer", d.Issuer.RequiredMessage)
		}
		if strings.TrimSpace(subject) == "" {
			d.Errors.add("subject", d.Subject.RequiredMessage)
		}
	}
	if d.Name.Value == "" {
		d.Errors.add("name", d.Name.RequiredMessage)
	}
	if d.Audience.Value == "" {
		d.Errors.add("audience", d.Audience.RequiredMessage)
	}
	if len(d.Errors) > 0 {
		return h.showCredentialForm(v, d, http.StatusUnprocessableEntity)
	}

	ctx := v.r.Context()
	path := credentialPath(iv.Sub, iv.RG, iv.Name, d.Name.Value)
	if editing == "" {
		err := h.call(ctx, v.p, http.MethodGet, path, apiVersionIdentity, nil, nil, nil)
		if err == nil {
			d.Errors.add("name", "A federated credential named '"+d.Name.Value+"' already exists on this identity. Choose another name, or edit that one.")
			return h.showCredentialForm(v, d, http.StatusConflict)
		}
		if ae, ok := asAPIError(err); !ok || ae.Status != http.StatusNotFound {
			return err
		}
	}
	body := map[string]any{"properties": credentialProperties{Issuer: issuer, Subject: subject, Audiences: []string{d.Audience.Value}}}
	if err := h.call(ctx, v.p, http.MethodPut, path, apiVersionIdentity, nil, body, nil); err != nil {
		ae, ok := asAPIError(err)
		if !ok {
			return err
		}
		d.placeAPIError(ae)
		return h.showCredentialForm(v, d, ae.Status)
	}
	done := "added"
	if editing != "" {
		done = "saved"
	}
	http.Redirect(v.w, v.r, iv.CredentialsURL+"?"+url.Values{done: {d.Name.Value}}.Encode(), http.StatusSeeOther)
	return nil
}

// placeAPIError puts the API's refusal next to the field it concerns: the
// one its target names, else the one its message is about, else at the top.
func (d *credentialFormData) placeAPIError(ae *apiError) {
	issuerField, subjectField := "issuer", "subject"
	if d.Scenario == scenarioKubernetes {
		issuerField = "issuer_url"
		if !d.TypedIssuer {
			issuerField = "cluster_issuer"
		}
		subjectField = "derived_subject"
	}
	switch {
	case ae.Target == "properties.issuer":
		d.Errors.add(issuerField, ae.Message)
	case ae.Target == "properties.subject":
		d.Errors.add(subjectField, ae.Message)
	case ae.Target == "properties.audiences":
		d.Errors.add("audience", ae.Message)
		d.AudienceEditable, d.Audience.ReadOnly = true, false
	case strings.HasPrefix(ae.Message, "Federated Identity Credential name"):
		d.Errors.add("name", ae.Message)
	case strings.Contains(ae.Message, "Issuer and subject combination"):
		d.Errors.add(subjectField, ae.Message)
	default:
		d.Error = ae
	}
}

func (h *Handler) showCredentialForm(v *visit, d *credentialFormData, status int) error {
	d.ClusterIssuer.Error = d.Errors["cluster_issuer"]
	d.IssuerURL.Error = d.Errors["issuer_url"]
	d.Namespace.Error = d.Errors["namespace"]
	d.ServiceAccount.Error = d.Errors["service_account"]
	d.SubjectError = d.Errors["derived_subject"]
	d.Issuer.Error = d.Errors["issuer"]
	d.Subject.Error = d.Errors["subject"]
	d.Name.Error = d.Errors["name"]
	d.Audience.Error = d.Errors["audience"]
	for _, f := range []*field{&d.ClusterIssuer, &d.IssuerURL, &d.Issuer, &d.Namespace, &d.ServiceAccount, &d.Subject, &d.Name, &d.Audience} {
		if f.Error != "" {
			f.Autofocus = true
			break
		}
	}
	return v.show(h, status, "credential-form", d)
}

// credentialDeleteData is the delete confirmation.
type credentialDeleteData struct {
	base
	Identity   identityView
	Credential credentialRow
	Action     string
}

// confirmDeleteCredential answers GET .../federated-credentials/{fic}/delete.
func (h *Handler) confirmDeleteCredential(v *visit) error {
	iv, err := h.readIdentity(v)
	if err != nil {
		return err
	}
	var c credentialJSON
	name := v.r.PathValue("fic")
	if err := h.call(v.r.Context(), v.p, http.MethodGet, credentialPath(iv.Sub, iv.RG, iv.Name, name), apiVersionIdentity, nil, nil, &c); err != nil {
		return err
	}
	return v.show(h, http.StatusOK, "credential-delete", &credentialDeleteData{
		base:     base{Title: "Delete " + c.Name, Nav: "identities", Crumbs: identityCrumbs(iv, "Delete "+c.Name)},
		Identity: iv,
		Credential: credentialRow{Name: c.Name, Issuer: c.Properties.Issuer, Subject: c.Properties.Subject,
			Audience: strings.Join(c.Properties.Audiences, ", ")},
		Action: credentialURL(iv, c.Name) + "/delete",
	})
}

// deleteCredential answers POST .../federated-credentials/{fic}/delete.
func (h *Handler) deleteCredential(v *visit) error {
	sub, rg, name, fic := v.r.PathValue("sub"), v.r.PathValue("rg"), v.r.PathValue("name"), v.r.PathValue("fic")
	if err := h.call(v.r.Context(), v.p, http.MethodDelete, credentialPath(sub, rg, name, fic), apiVersionIdentity, nil, nil, nil); err != nil {
		return err
	}
	u := identityURL(sub, rg, name) + "/federated-credentials?" + url.Values{"deleted": {fic}}.Encode()
	http.Redirect(v.w, v.r, u, http.StatusSeeOther)
	return nil
}
