package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/fedcred/fedcred/internal/webhook"
)

const namespace = "fedcred-system"

// dirs are the manifest directories, each with a kustomization.yaml.
var dirs = []string{".", "server", "webhook"}

// certificate and issuer are the parts of cert-manager's types the
// manifests use; decoding into them is strict, so a field outside them
// fails the test.
type certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName string   `json:"secretName"`
		DNSNames   []string `json:"dnsNames"`
		IssuerRef  struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"issuerRef"`
		PrivateKey struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy"`
		} `json:"privateKey"`
		Duration    string `json:"duration"`
		RenewBefore string `json:"renewBefore"`
	} `json:"spec"`
}

type issuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SelfSigned *struct{} `json:"selfSigned"`
	} `json:"spec"`
}

// DeepCopyObject makes the cert-manager types runtime.Objects.
func (c *certificate) DeepCopyObject() runtime.Object { cp := *c; return &cp }
func (i *issuer) DeepCopyObject() runtime.Object      { cp := *i; return &cp }

type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewTag  string `json:"newTag"`
		NewName string `json:"newName,omitempty"`
	} `json:"images,omitempty"`
}

// object is one decoded manifest document.
type object struct {
	file string
	obj  runtime.Object
}

// strictDecoder decodes YAML or JSON into the Kubernetes types, refusing
// unknown and duplicate fields.
func strictDecoder() runtime.Decoder {
	return serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
}

// decodeDocs decodes every document of one manifest file.
func decodeDocs(data []byte) ([]runtime.Object, error) {
	dec := strictDecoder()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []runtime.Object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, err
		}
		if tm == (metav1.TypeMeta{}) {
			continue // only comments
		}
		var obj runtime.Object
		switch tm.APIVersion + " " + tm.Kind {
		case "cert-manager.io/v1 Certificate":
			obj = &certificate{}
			err = yaml.UnmarshalStrict(doc, obj)
		case "cert-manager.io/v1 Issuer":
			obj = &issuer{}
			err = yaml.UnmarshalStrict(doc, obj)
		default:
			obj, _, err = dec.Decode(doc, nil, nil)
		}
		if err != nil {
			return nil, err
		}
		objs = append(objs, obj)
	}
}

// load decodes every manifest of dirs.
func load(t *testing.T) []object {
	t.Helper()
	var all []object
	for _, dir := range dirs {
		for _, name := range manifestFiles(t, dir) {
			path := filepath.Join(dir, name)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := decodeDocs(data)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if len(objs) == 0 {
				t.Errorf("%s: no object", path)
			}
			for _, o := range objs {
				all = append(all, object{file: path, obj: o})
			}
		}
	}
	return all
}

// manifestFiles lists dir's YAML files other than kustomization.yaml.
func manifestFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) && e.Name() != "kustomization.yaml" {
			names = append(names, e.Name())
		}
	}
	return names
}

// find returns the one object of type T named name.
func find[T interface {
	runtime.Object
	GetName() string
}](t *testing.T, objs []object, name string) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.obj.(T); ok && v.GetName() == name {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("%d objects of type %T named %q, want 1", len(found), zero, name)
	}
	return found[0]
}

func all[T runtime.Object](objs []object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// show prints an optional field.
func show[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// flag returns the value of --name=value in args.
func flag(t *testing.T, args []string, name string) string {
	t.Helper()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	t.Fatalf("no --%s in %q", name, args)
	return ""
}

// port returns the port of a listen address such as ":9443".
func port(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	return int32(n)
}

// containerPort resolves a Service targetPort or probe port against c.
func containerPort(t *testing.T, c corev1.Container, target intstr.IntOrString) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if (target.Type == intstr.String && p.Name == target.StrVal) || (target.Type == intstr.Int && p.ContainerPort == target.IntVal) {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port %s", c.Name, target.String())
	return 0
}

// selects reports whether selector selects the pod template's labels.
func selects(t *testing.T, selector *metav1.LabelSelector, tmpl corev1.PodTemplateSpec) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(labels.Set(tmpl.Labels))
}

// component is the manifests of one component, looked up by name.
type component struct {
	deployment *appsv1.Deployment
	container  corev1.Container
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
}

func getComponent(t *testing.T, objs []object, deployment, service, pdb string) component {
	t.Helper()
	d := find[*appsv1.Deployment](t, objs, deployment)
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("deployment %s has %d containers, want 1", deployment, len(d.Spec.Template.Spec.Containers))
	}
	return component{
		deployment: d,
		container:  d.Spec.Template.Spec.Containers[0],
		service:    find[*corev1.Service](t, objs, service),
		pdb:        find[*policyv1.PodDisruptionBudget](t, objs, pdb),
	}
}

// checkCommon checks what both components must get right.
func checkCommon(t *testing.T, c component, wantReplicas int32) {
	t.Helper()
	d := c.deployment
	if d.Spec.Replicas == nil || *d.Spec.Replicas != wantReplicas {
		t.Errorf("%s: replicas %s, want %d", d.Name, show(d.Spec.Replicas), wantReplicas)
	}
	tmpl := d.Spec.Template
	if !selects(t, d.Spec.Selector, tmpl) {
		t.Errorf("%s: selector does not select its pod template", d.Name)
	}
	if !selects(t, &metav1.LabelSelector{MatchLabels: c.service.Spec.Selector}, tmpl) {
		t.Errorf("service %s does not select %s's pods", c.service.Name, d.Name)
	}
	if !selects(t, c.pdb.Spec.Selector, tmpl) || c.pdb.Spec.MinAvailable == nil || c.pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PDB %s: selector %v, minAvailable %v; want %s's pods and 1", c.pdb.Name, c.pdb.Spec.Selector, c.pdb.Spec.MinAvailable, d.Name)
	}
	if _, ok := tmpl.Labels[webhook.UseLabel]; ok {
		t.Errorf("%s's pods carry %s", d.Name, webhook.UseLabel)
	}
	psc := tmpl.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod security context %+v, want non-root with RuntimeDefault seccomp", d.Name, psc)
	}
	sc := c.container.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil ||
		*sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("%s: container security context %+v, want read-only, no escalation, all capabilities dropped", d.Name, sc)
	}
	res := c.container.Resources
	if res.Requests.Cpu().IsZero() || res.Requests.Memory().IsZero() || res.Limits.Memory().IsZero() {
		t.Errorf("%s: resources %+v, want CPU and memory requests and a memory limit", d.Name, res)
	}
	for _, p := range []*corev1.Probe{c.container.ReadinessProbe, c.container.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Fatalf("%s: readiness and liveness probes must be HTTP GETs", d.Name)
		}
		containerPort(t, c.container, p.HTTPGet.Port)
	}
	if c.container.ReadinessProbe.HTTPGet.Path != "/readyz" || c.container.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("%s: probes %s and %s, want /readyz and /healthz", d.Name, c.container.ReadinessProbe.HTTPGet.Path, c.container.LivenessProbe.HTTPGet.Path)
	}
	if len(c.service.Spec.Ports) != 1 || c.service.Spec.Ports[0].Port != 443 {
		t.Fatalf("service %s ports %+v, want one, 443", c.service.Name, c.service.Spec.Ports)
	}
}

// envValue is the container's value of name, literal or from a ConfigMap
// in objs.
func envValue(t *testing.T, objs []object, c corev1.Container, name string) (string, bool) {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, e.ValueFrom == nil
		}
	}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		cm := find[*corev1.ConfigMap](t, objs, from.ConfigMapRef.Name)
		if v, ok := cm.Data[name]; ok {
			return v, true
		}
	}
	return "", false
}

func TestManifests_DecodeStrictly(t *testing.T) {
	t.Parallel()
	objs := load(t)
	for _, o := range objs {
		m, ok := o.obj.(metav1.Object)
		if !ok {
			t.Fatalf("%s: %T has no metadata", o.file, o.obj)
		}
		cluster := false
		switch o.obj.(type) {
		case *corev1.Namespace, *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding, *admissionregistrationv1.MutatingWebhookConfiguration:
			cluster = true
		}
		if cluster && m.GetNamespace() != "" || !cluster && m.GetNamespace() != namespace {
			t.Errorf("%s: %T %s in namespace %q", o.file, o.obj, m.GetName(), m.GetNamespace())
		}
		if m.GetLabels()["app.kubernetes.io/part-of"] != "fedcred" {
			t.Errorf("%s: %s lacks app.kubernetes.io/part-of: fedcred", o.file, m.GetName())
		}
	}
	if n := len(all[*appsv1.Deployment](objs)); n != 2 {
		t.Errorf("%d Deployments, want 2", n)
	}
}

func TestDecodeDocs_IsStrict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{name: "unknown field", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {prots: []}\n", wantErr: "unknown field"},
		{name: "duplicate field", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s, name: t}\n", wantErr: "name"},
		{name: "unknown kind", doc: "apiVersion: v1\nkind: Servce\nmetadata: {name: s}\n", wantErr: "no kind"},
		{name: "unknown cert-manager field", doc: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\nspec: {secretNme: x}\n", wantErr: "unknown field"},
		{name: "wrong type", doc: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: two}\n", wantErr: "replicas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeDocs([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("decodeDocs() error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	objs, err := decodeDocs([]byte("# a comment\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n"))
	if err != nil || len(objs) != 1 {
		t.Errorf("valid documents: %d objects, %v", len(objs), err)
	}
}

func TestKustomizations_ListEveryManifest(t *testing.T) {
	t.Parallel()
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var k kustomization
		if err := yaml.UnmarshalStrict(data, &k); err != nil {
			t.Fatalf("%s/kustomization.yaml: %v", dir, err)
		}
		if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
			t.Errorf("%s/kustomization.yaml is %s %s", dir, k.APIVersion, k.Kind)
		}
		var listed []string
		for _, r := range k.Resources {
			fi, err := os.Stat(filepath.Join(dir, r))
			if err != nil {
				t.Errorf("%s/kustomization.yaml lists %s: %v", dir, r, err)
				continue
			}
			if !fi.IsDir() {
				listed = append(listed, r)
			}
		}
		files := manifestFiles(t, dir)
		sort.Strings(listed)
		sort.Strings(files)
		if !slices.Equal(listed, files) {
			t.Errorf("%s/kustomization.yaml lists %v, the directory has %v", dir, listed, files)
		}
	}
}

func TestWebhook_Configuration(t *testing.T) {
	t.Parallel()
	objs := load(t)
	mwcs := all[*admissionregistrationv1.MutatingWebhookConfiguration](objs)
	if len(mwcs) != 1 || len(mwcs[0].Webhooks) != 1 {
		t.Fatalf("want one MutatingWebhookConfiguration with one webhook, got %d", len(mwcs))
	}
	mwc := mwcs[0]
	wh := mwc.Webhooks[0]
	if wh.Name != "mutation.workload-identity.fedcred.io" {
		t.Errorf("webhook name %q", wh.Name)
	}
	if wh.FailurePolicy == nil || *wh.FailurePolicy != admissionregistrationv1.Fail {
		t.Errorf("failurePolicy %s, want Fail", show(wh.FailurePolicy))
	}
	if wh.SideEffects == nil || *wh.SideEffects != admissionregistrationv1.SideEffectClassNone {
		t.Errorf("sideEffects %s, want None", show(wh.SideEffects))
	}
	if wh.MatchPolicy == nil || *wh.MatchPolicy != admissionregistrationv1.Equivalent {
		t.Errorf("matchPolicy %s, want Equivalent", show(wh.MatchPolicy))
	}
	if wh.ReinvocationPolicy == nil || *wh.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
		t.Errorf("reinvocationPolicy %s, want IfNeeded", show(wh.ReinvocationPolicy))
	}
	if !slices.Equal(wh.AdmissionReviewVersions, []string{"v1", "v1beta1"}) {
		t.Errorf("admissionReviewVersions %v", wh.AdmissionReviewVersions)
	}
	if wh.TimeoutSeconds == nil || *wh.TimeoutSeconds > 30 {
		t.Errorf("timeoutSeconds %s, want at most 30", show(wh.TimeoutSeconds))
	}
	wantSel := &metav1.LabelSelector{MatchLabels: map[string]string{webhook.UseLabel: "true"}}
	if wh.ObjectSelector == nil || wh.ObjectSelector.String() != wantSel.String() {
		t.Errorf("objectSelector %v, want %v", wh.ObjectSelector, wantSel)
	}
	wantRules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
	}}
	if len(wh.Rules) != 1 || wh.Rules[0].String() != wantRules[0].String() {
		t.Errorf("rules %v, want %v", wh.Rules, wantRules)
	}

	// clientConfig → Service → container port → --listen.
	svcRef := wh.ClientConfig.Service
	if svcRef == nil || svcRef.Path == nil || *svcRef.Path != webhook.MutatePath || svcRef.Port == nil || svcRef.Namespace != namespace {
		t.Fatalf("clientConfig.service %+v, want path %s and a port in %s", svcRef, webhook.MutatePath, namespace)
	}
	if wh.ClientConfig.URL != nil {
		t.Errorf("clientConfig has a URL")
	}
	c := getComponent(t, objs, "fedcred-webhook", svcRef.Name, "fedcred-webhook")
	checkCommon(t, c, 2)
	sp := c.service.Spec.Ports[0]
	if sp.Port != *svcRef.Port {
		t.Errorf("webhook calls port %d, the service has %d", *svcRef.Port, sp.Port)
	}
	args := c.container.Args
	if len(args) == 0 || args[0] != "webhook" {
		t.Fatalf("webhook container args %q, want the webhook command", args)
	}
	if got, want := containerPort(t, c.container, sp.TargetPort), port(t, flag(t, args, "listen")); got != want || got != 9443 {
		t.Errorf("service targets container port %d, the webhook listens on %d (want 9443)", got, want)
	}
	for _, p := range []*corev1.Probe{c.container.ReadinessProbe, c.container.LivenessProbe} {
		if got, want := containerPort(t, c.container, p.HTTPGet.Port), port(t, flag(t, args, "health-addr")); got != want || p.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			t.Errorf("probe on port %d (%s), health listener on %d over HTTP", got, p.HTTPGet.Scheme, want)
		}
	}
	if _, err := webhook.ParseTLSVersion(flag(t, args, "tls-min-version")); err != nil {
		t.Error(err)
	}
	if _, err := webhook.ParseLayout(flag(t, args, "token-path-layout")); err != nil {
		t.Error(err)
	}

	// The serving certificate: cert-manager's Certificate, mounted where
	// the flags point, valid for the Service's name, injected as CA.
	certRef := mwc.Annotations["cert-manager.io/inject-ca-from"]
	ns, name, _ := strings.Cut(certRef, "/")
	cert := find[*certificate](t, objs, name)
	if ns != cert.Namespace {
		t.Errorf("inject-ca-from %q, the Certificate is in %q", certRef, cert.Namespace)
	}
	find[*issuer](t, objs, cert.Spec.IssuerRef.Name)
	if want := svcRef.Name + "." + svcRef.Namespace + ".svc"; !slices.Contains(cert.Spec.DNSNames, want) {
		t.Errorf("certificate DNS names %v lack %s", cert.Spec.DNSNames, want)
	}
	mountDir := ""
	for _, v := range c.deployment.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == cert.Spec.SecretName {
			for _, m := range c.container.VolumeMounts {
				if m.Name == v.Name && m.ReadOnly {
					mountDir = m.MountPath
				}
			}
		}
	}
	if mountDir == "" {
		t.Fatalf("secret %s is not mounted read-only in the webhook", cert.Spec.SecretName)
	}
	if flag(t, args, "tls-cert-file") != mountDir+"/tls.crt" || flag(t, args, "tls-private-key-file") != mountDir+"/tls.key" {
		t.Errorf("certificate flags do not point into %s", mountDir)
	}

	// What the webhook needs from the cluster.
	if tenant, ok := envValue(t, objs, c.container, "AZURE_TENANT_ID"); !ok || tenant == "" {
		t.Errorf("the webhook has no AZURE_TENANT_ID")
	}
	sa := c.deployment.Spec.Template.Spec.ServiceAccountName
	find[*corev1.ServiceAccount](t, objs, sa)
	granted := false
	for _, b := range all[*rbacv1.ClusterRoleBinding](objs) {
		if !slices.Contains(b.Subjects, rbacv1.Subject{Kind: "ServiceAccount", Name: sa, Namespace: namespace}) || b.RoleRef.Kind != "ClusterRole" {
			continue
		}
		role := find[*rbacv1.ClusterRole](t, objs, b.RoleRef.Name)
		for _, r := range role.Rules {
			if slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, "serviceaccounts") &&
				slices.Contains(r.Verbs, "get") && slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch") {
				granted = true
			}
		}
	}
	if !granted {
		t.Errorf("service account %s may not get, list and watch serviceaccounts", sa)
	}
}

func TestServer_Deployment(t *testing.T) {
	t.Parallel()
	objs := load(t)
	c := getComponent(t, objs, "fedcred-server", "fedcred", "fedcred-server")
	checkCommon(t, c, 2)
	if !slices.Equal(c.container.Args, []string{"serve"}) {
		t.Errorf("server args %q, want serve", c.container.Args)
	}
	listen, ok := envValue(t, objs, c.container, "FEDCRED_LISTEN")
	if !ok {
		t.Fatal("no FEDCRED_LISTEN")
	}
	if got, want := containerPort(t, c.container, c.service.Spec.Ports[0].TargetPort), port(t, listen); got != want {
		t.Errorf("service targets container port %d, the server listens on %d", got, want)
	}
	for _, p := range []*corev1.Probe{c.container.ReadinessProbe, c.container.LivenessProbe, c.container.StartupProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Scheme != corev1.URISchemeHTTPS || containerPort(t, c.container, p.HTTPGet.Port) != port(t, listen) {
			t.Errorf("server probe %+v, want HTTPS GET on the listener", p)
		}
	}
	// The store URL holds a password: from a Secret, never literal.
	var store *corev1.EnvVar
	for i := range c.container.Env {
		if c.container.Env[i].Name == "FEDCRED_STORE" {
			store = &c.container.Env[i]
		}
	}
	if store == nil || store.Value != "" || store.ValueFrom == nil || store.ValueFrom.SecretKeyRef == nil {
		t.Errorf("FEDCRED_STORE %+v, want it from a Secret", store)
	}
	// Files named in the environment are in read-only Secret mounts.
	for _, env := range []string{"FEDCRED_TLS_CERT_FILE", "FEDCRED_TLS_KEY_FILE", "FEDCRED_KEK_FILE"} {
		path, ok := envValue(t, objs, c.container, env)
		if !ok {
			t.Errorf("no %s", env)
			continue
		}
		if !inSecretMount(c.deployment, c.container, path) {
			t.Errorf("%s=%s is not in a read-only Secret mount", env, path)
		}
	}
	dataDir, _ := envValue(t, objs, c.container, "FEDCRED_DATA_DIR")
	if !slices.ContainsFunc(c.container.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == dataDir && !m.ReadOnly }) {
		t.Errorf("data directory %q is not a writable mount (the root filesystem is read-only)", dataDir)
	}
	if sa := find[*corev1.ServiceAccount](t, objs, c.deployment.Spec.Template.Spec.ServiceAccountName); sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("the server's service account mounts a token it does not need")
	}
}

// inSecretMount reports whether path is under a read-only mount of a
// Secret volume, as a key of that Secret.
func inSecretMount(d *appsv1.Deployment, c corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly || filepath.Dir(path) != m.MountPath {
			continue
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				return true
			}
		}
	}
	return false
}

func TestWebhook_AuthorityHostIsTheServerURL(t *testing.T) {
	t.Parallel()
	objs := load(t)
	server := getComponent(t, objs, "fedcred-server", "fedcred", "fedcred-server").container
	wh := getComponent(t, objs, "fedcred-webhook", "fedcred-webhook", "fedcred-webhook").container
	publicURL, _ := envValue(t, objs, server, "FEDCRED_PUBLIC_URL")
	host, _ := envValue(t, objs, wh, "FEDCRED_WEBHOOK_AUTHORITY_HOST")
	got, err := webhook.ResolveAuthorityHost(host, "")
	if err != nil {
		t.Fatal(err)
	}
	if got != strings.TrimSuffix(publicURL, "/")+"/" {
		t.Errorf("webhook injects AZURE_AUTHORITY_HOST %q, the server's public URL is %q", got, publicURL)
	}
}

func TestSecrets_CreatedOrDocumented(t *testing.T) {
	t.Parallel()
	objs := load(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	issued := map[string]bool{}
	for _, c := range all[*certificate](objs) {
		issued[c.Spec.SecretName] = true
	}
	for _, d := range all[*appsv1.Deployment](objs) {
		var names []string
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Secret != nil {
				names = append(names, v.Secret.SecretName)
			}
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					names = append(names, e.ValueFrom.SecretKeyRef.Name)
				}
			}
		}
		for _, n := range names {
			if !issued[n] && !bytes.Contains(readme, []byte("`"+n+"`")) {
				t.Errorf("deployment %s uses Secret %s, which no Certificate issues and README.md does not explain", d.Name, n)
			}
		}
	}
}
