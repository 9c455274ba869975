package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

const reviewUID = "b1d6c1b2-8a3f-4c53-9b1e-2e1f0c9d8a7b"

// newTestHandler is a Handler over a real ServiceAccountCache holding the
// service accounts "pets/ai-svc" (annotated) and "pets/default" (not).
func newTestHandler(t *testing.T) *Handler {
	t.Helper()
	accounts, _ := startAccounts(t,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ai-svc", Namespace: "pets", Annotations: map[string]string{
			ClientIDAnnotation: testClientID, TenantIDAnnotation: saTenant}}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "pets"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ai-svc", Namespace: "other", Annotations: map[string]string{
			ClientIDAnnotation: "other-client"}}},
	)
	return &Handler{Mutator: Mutator{AuthorityHost: testAuthority, TenantID: testTenant}, ServiceAccounts: accounts}
}

func post(h http.Handler, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, MutatePath, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandler_Review(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t)
	pod := func(mutate func(*corev1.Pod)) *corev1.Pod {
		p := labelledPod("pod1", nil, corev1.PodSpec{Containers: []corev1.Container{container("app")}})
		if mutate != nil {
			mutate(p)
		}
		return p
	}
	tests := []struct {
		name        string
		review      []byte
		apiVersion  string
		wantAllowed bool
		wantCode    int32
		wantMessage string
		wantEnv     []corev1.EnvVar // of the first container after the patch; nil: no patch expected
	}{
		{
			name:        "labelled pod: mutated with its service account's identity",
			review:      reviewOf(t, admissionV1, pod(nil)),
			apiVersion:  admissionV1,
			wantAllowed: true,
			wantEnv:     fullEnv(),
		},
		{
			name:        "v1beta1 review: answered in v1beta1",
			review:      reviewOf(t, admissionV1beta1, pod(nil)),
			apiVersion:  admissionV1beta1,
			wantAllowed: true,
			wantEnv:     fullEnv(),
		},
		{
			name:        "no service account named: the namespace's default, without a client id",
			review:      reviewOf(t, admissionV1, pod(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "" })),
			apiVersion:  admissionV1,
			wantAllowed: true,
			wantEnv: []corev1.EnvVar{env("AZURE_TENANT_ID", testTenant), env("AZURE_FEDERATED_TOKEN_FILE", v16TokenFile),
				env("AZURE_AUTHORITY_HOST", testAuthority)},
		},
		{
			name: "the request's namespace picks the service account, not the pod's",
			review: func() []byte {
				b := reviewOf(t, admissionV1, pod(func(p *corev1.Pod) { p.Namespace = "" }))
				return bytes.Replace(b, []byte(`"namespace":"pets"`), []byte(`"namespace":"other"`), 1)
			}(),
			apiVersion:  admissionV1,
			wantAllowed: true,
			wantEnv: []corev1.EnvVar{env("AZURE_CLIENT_ID", "other-client"), env("AZURE_TENANT_ID", testTenant),
				env("AZURE_FEDERATED_TOKEN_FILE", v16TokenFile), env("AZURE_AUTHORITY_HOST", testAuthority)},
		},
		{
			name:        "unlabelled pod: admitted unchanged, even with a missing service account",
			review:      reviewOf(t, admissionV1, pod(func(p *corev1.Pod) { p.Labels = nil; p.Spec.ServiceAccountName = "ghost" })),
			apiVersion:  admissionV1,
			wantAllowed: true,
		},
		{
			name:        "label not exactly \"true\": admitted unchanged",
			review:      reviewOf(t, admissionV1, pod(func(p *corev1.Pod) { p.Labels[UseLabel] = "True" })),
			apiVersion:  admissionV1,
			wantAllowed: true,
		},
		{
			name:        "missing service account: refused with 400",
			review:      reviewOf(t, admissionV1, pod(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "ghost" })),
			apiVersion:  admissionV1,
			wantCode:    http.StatusBadRequest,
			wantMessage: `get service account pets/ghost: serviceaccounts "ghost" not found`,
		},
		{
			name: "token expiration out of bounds: refused with 400",
			review: reviewOf(t, admissionV1, pod(func(p *corev1.Pod) {
				p.Annotations = map[string]string{TokenExpirationAnnotation: "90000"}
			})),
			apiVersion:  admissionV1,
			wantCode:    http.StatusBadRequest,
			wantMessage: "token expiration 90000 not valid. Expected value to be between 3600 and 86400",
		},
		{
			name:        "pod that does not decode: refused with 400",
			review:      reviewOfRaw(t, admissionV1, []byte(`{"metadata":{"labels":"not-a-map"}}`)),
			apiVersion:  admissionV1,
			wantCode:    http.StatusBadRequest,
			wantMessage: "decode pod:",
		},
		{
			name: "another kind than Pod: refused with 400",
			review: bytes.Replace(reviewOf(t, admissionV1, pod(nil)),
				[]byte(`"kind":{"group":"","kind":"Pod","version":"v1"}`), []byte(`"kind":{"group":"apps","kind":"Deployment","version":"v1"}`), 1),
			apiVersion:  admissionV1,
			wantCode:    http.StatusBadRequest,
			wantMessage: "expected a v1 Pod, got apps/v1, Kind=Deployment",
		},
		{
			name: "not a CREATE: admitted unchanged",
			review: bytes.Replace(reviewOf(t, admissionV1, pod(nil)),
				[]byte(`"operation":"CREATE"`), []byte(`"operation":"UPDATE"`), 1),
			apiVersion:  admissionV1,
			wantAllowed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := post(h, "application/json", tt.review)
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("HTTP %d %q, want 200 application/json: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			resp := decodeResponse(t, rec.Body.Bytes(), tt.apiVersion, reviewUID)
			if resp.Allowed != tt.wantAllowed {
				t.Fatalf("allowed = %v, want %v (result %+v)", resp.Allowed, tt.wantAllowed, resp.Result)
			}
			if !tt.wantAllowed {
				if resp.Result == nil || resp.Result.Code != tt.wantCode || !strings.Contains(resp.Result.Message, tt.wantMessage) {
					t.Fatalf("result = %+v, want code %d and a message containing %q", resp.Result, tt.wantCode, tt.wantMessage)
				}
				if resp.Patch != nil || resp.PatchType != nil {
					t.Errorf("a refusal carries a patch")
				}
				return
			}
			if tt.wantEnv == nil {
				if resp.Patch != nil || resp.PatchType != nil {
					t.Fatalf("patch = %s, want none", resp.Patch)
				}
				return
			}
			raw := rawObject(t, tt.review)
			patched := applyResponse(t, raw, resp)
			got := decodePod(t, patched)
			if diff := cmp.Diff(tt.wantEnv, got.Spec.Containers[0].Env); diff != "" {
				t.Errorf("env after the patch (-want +got):\n%s", diff)
			}
			// Reinvocation with the patched pod: nothing more to do.
			again := decodeResponse(t, post(h, "application/json", reviewOfRaw(t, tt.apiVersion, patched)).Body.Bytes(), tt.apiVersion, reviewUID)
			if !again.Allowed || again.Patch != nil {
				t.Errorf("reinvocation: allowed %v, patch %s; want allowed with no patch", again.Allowed, again.Patch)
			}
		})
	}
}

func TestHandler_RealisticReview(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t)
	review := readReview(t, "admissionreview-v1-replicaset-pod.json")
	rec := post(h, "application/json; charset=utf-8", review)
	resp := decodeResponse(t, rec.Body.Bytes(), admissionV1, "3a9c1f8e-5b7d-4e2a-9f61-0c8d2b4e7a15")
	if !resp.Allowed {
		t.Fatalf("refused: %+v", resp.Result)
	}
	raw := rawObject(t, review)
	before := decodePod(t, raw)
	after := decodePod(t, applyResponse(t, raw, resp))
	checkRealisticPod(t, before, after)
}

// checkRealisticPod checks the testdata pod after the webhook's patch.
func checkRealisticPod(t *testing.T, before, after *corev1.Pod) {
	t.Helper()
	// "azure-workload-identity-reserved-" + sha256("ai-svc-7c9f8d5b6- (prefix)")[:30], computed outside Go.
	const vol = "azure-workload-identity-reserved-b679d4131d3017d7f2088bab4f6af7"
	wantVolumes := append(append([]corev1.Volume{}, before.Spec.Volumes...), tokenVolume(vol, "token/azure-identity-token", 3600, DefaultAudience))
	if diff := cmp.Diff(wantVolumes, after.Spec.Volumes); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}
	mount := roMount(vol, "/var/run/secrets/azure/wi")
	wantInit := injected(before.Spec.InitContainers[0], fullEnv(), mount)
	if diff := cmp.Diff(wantInit, after.Spec.InitContainers[0]); diff != "" {
		t.Errorf("init container (-want +got):\n%s", diff)
	}
	// app defines AZURE_AUTHORITY_HOST from a ConfigMap: kept, not added.
	wantApp := injected(before.Spec.Containers[0], fullEnv()[:3], mount)
	if diff := cmp.Diff(wantApp, after.Spec.Containers[0]); diff != "" {
		t.Errorf("app container (-want +got):\n%s", diff)
	}
	// log-shipper is in skip-containers.
	if diff := cmp.Diff(before.Spec.Containers[1], after.Spec.Containers[1]); diff != "" {
		t.Errorf("skipped container changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(jsonValue(t, before.ObjectMeta), jsonValue(t, after.ObjectMeta)); diff != "" {
		t.Errorf("metadata changed (-before +after):\n%s", diff)
	}
}

// jsonValue is v as generic JSON, so that raw JSON fields compare by value.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHandler_PatchKeepsUnknownFields(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t)
	var obj map[string]any
	if err := json.Unmarshal(rawObject(t, readReview(t, "admissionreview-v1-replicaset-pod.json")), &obj); err != nil {
		t.Fatal(err)
	}
	// Fields a newer API server knows and this build's k8s.io/api does not.
	spec := obj["spec"].(map[string]any)
	spec["futurePodField"] = map[string]any{"enabled": true}
	spec["containers"].([]any)[0].(map[string]any)["futureContainerField"] = "x"
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	resp := decodeResponse(t, post(h, "application/json", reviewOfRaw(t, admissionV1, raw)).Body.Bytes(), admissionV1, reviewUID)
	var patched map[string]any
	if err := json.Unmarshal(applyResponse(t, raw, resp), &patched); err != nil {
		t.Fatal(err)
	}
	pspec := patched["spec"].(map[string]any)
	if diff := cmp.Diff(map[string]any{"enabled": true}, pspec["futurePodField"]); diff != "" {
		t.Errorf("unknown pod field (-want +got):\n%s", diff)
	}
	if got := pspec["containers"].([]any)[0].(map[string]any)["futureContainerField"]; got != "x" {
		t.Errorf("unknown container field = %v, want kept", got)
	}
	if n := len(pspec["volumes"].([]any)); n != 2 {
		t.Errorf("%d volumes after the patch, want 2", n)
	}
}

func TestHandler_HTTPErrors(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t)
	valid := reviewOf(t, admissionV1, labelledPod("pod1", nil, corev1.PodSpec{Containers: []corev1.Container{container("app")}}))
	tests := []struct {
		name        string
		method      string
		contentType string
		body        []byte
		wantCode    int
		wantBody    string
	}{
		{name: "GET", method: http.MethodGet, contentType: "application/json", body: nil, wantCode: http.StatusMethodNotAllowed},
		{name: "no content type", method: http.MethodPost, body: valid, wantCode: http.StatusUnsupportedMediaType},
		{name: "YAML content type", method: http.MethodPost, contentType: "application/yaml", body: valid, wantCode: http.StatusUnsupportedMediaType},
		{name: "body over 3 MiB", method: http.MethodPost, contentType: "application/json",
			body: append(append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), MaxReviewBytes)...), `"}`...), wantCode: http.StatusRequestEntityTooLarge},
		{name: "not JSON", method: http.MethodPost, contentType: "application/json", body: []byte("{"), wantCode: http.StatusBadRequest, wantBody: "decode AdmissionReview"},
		{name: "not an AdmissionReview", method: http.MethodPost, contentType: "application/json",
			body: []byte(`{"apiVersion":"v1","kind":"Pod"}`), wantCode: http.StatusBadRequest, wantBody: `got kind "Pod" of "v1"`},
		{name: "unknown AdmissionReview version", method: http.MethodPost, contentType: "application/json",
			body: []byte(`{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview","request":{"uid":"u"}}`), wantCode: http.StatusBadRequest},
		{name: "no request", method: http.MethodPost, contentType: "application/json",
			body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), wantCode: http.StatusBadRequest, wantBody: "no request"},
		{name: "no uid", method: http.MethodPost, contentType: "application/json",
			body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}`), wantCode: http.StatusBadRequest, wantBody: "no request uid"},
		{name: "field names match case-sensitively", method: http.MethodPost, contentType: "application/json",
			body: []byte(`{"APIVERSION":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u"}}`), wantCode: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tt.method, MutatePath, bytes.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("HTTP %d %q, want %d containing %q", rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestDeny(t *testing.T) {
	t.Parallel()
	got := deny(http.StatusBadRequest, "no")
	want := &admissionv1.AdmissionResponse{Result: &metav1.Status{Status: metav1.StatusFailure, Code: 400, Reason: metav1.StatusReasonBadRequest, Message: "no"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deny() (-want +got):\n%s", diff)
	}
	if got := deny(http.StatusInternalServerError, "x").Result.Reason; got != metav1.StatusReasonInternalError {
		t.Errorf("500 reason = %q", got)
	}
}

// FuzzHandler checks that no body makes the handler panic or answer
// anything but an AdmissionReview or a client error.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":{"metadata":{"labels":{"azure.workload.identity/use":"true"},"annotations":{"azure.workload.identity/skip-containers":";;"}},"spec":{"containers":[{"name":""}]}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":null}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":{"metadata":{"labels":{"azure.workload.identity/use":"true"}},"spec":{"serviceAccountName":"ai-svc","volumes":[{"name":"x"}],"initContainers":[{"name":"i","env":[{"name":"AZURE_CLIENT_ID"}]}]}}}}`))
	if b, err := os.ReadFile(filepath.Join("testdata", "admissionreview-v1-replicaset-pod.json")); err == nil {
		f.Add(b)
	}
	client := fake.NewClientset(annotatedSA())
	accounts, err := NewServiceAccountCache(client)
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go accounts.Run(ctx)
	h := &Handler{Mutator: Mutator{AuthorityHost: testAuthority, TenantID: testTenant}, ServiceAccounts: accounts}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(h, "application/json", body)
		switch rec.Code {
		case http.StatusOK:
			var review admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil || review.Response == nil {
				t.Fatalf("200 without an AdmissionReview answer: %s", rec.Body)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
		}
	})
}
