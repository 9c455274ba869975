package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sjson "sigs.k8s.io/json"
)

// MutatePath is where the API server posts pod AdmissionReviews, as named
// in the MutatingWebhookConfiguration.
const MutatePath = "/mutate-v1-pod"

// MaxReviewBytes bounds an AdmissionReview body: kube-apiserver refuses
// request bodies over 3 MiB, so no pod it admits is larger.
const MaxReviewBytes = 3 << 20

// The AdmissionReview API versions the handler speaks. Their JSON is the
// same, so both decode into the v1 types; the answer carries the request's.
const (
	admissionV1      = "admission.k8s.io/v1"
	admissionV1beta1 = "admission.k8s.io/v1beta1"
)

// ServiceAccountGetter looks a service account up; a missing one is an
// error whose text is shown to the pod's author.
type ServiceAccountGetter interface {
	GetServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
}

// Handler answers pod AdmissionReviews: it admits pods without the
// UseLabel unchanged, and mutates the others with Mutator, answering with
// a JSON patch. A pod whose service account cannot be found, or whose
// annotations are invalid, is refused with code 400.
type Handler struct {
	Mutator         Mutator
	ServiceAccounts ServiceAccountGetter
	Logger          *slog.Logger
}

// ServeHTTP decodes an AdmissionReview and writes the answer. Requests that
// are not an AdmissionReview get a plain HTTP error; the API server then
// applies the webhook's failure policy.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "content type must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxReviewBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("AdmissionReview larger than %d bytes", MaxReviewBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read request body", http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := k8sjson.UnmarshalCaseSensitivePreserveInts(body, &review); err != nil {
		http.Error(w, "decode AdmissionReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	if review.Kind != "AdmissionReview" || (review.APIVersion != admissionV1 && review.APIVersion != admissionV1beta1) {
		http.Error(w, fmt.Sprintf("expected an AdmissionReview of %s or %s, got kind %q of %q", admissionV1, admissionV1beta1, review.Kind, review.APIVersion), http.StatusBadRequest)
		return
	}
	if review.Request == nil || review.Request.UID == "" {
		http.Error(w, "AdmissionReview has no request or no request uid", http.StatusBadRequest)
		return
	}
	resp := h.review(r.Context(), review.Request)
	resp.UID = review.Request.UID
	out, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp})
	if err != nil {
		h.logger().Error("encode AdmissionReview response", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// review decides on one admission request; the caller sets the uid.
func (h *Handler) review(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	log := h.logger().With("uid", string(req.UID), "namespace", req.Namespace)
	if req.Operation != admissionv1.Create {
		return allow(nil)
	}
	if req.Kind.Group != "" || req.Kind.Version != "v1" || req.Kind.Kind != "Pod" {
		return deny(http.StatusBadRequest, fmt.Sprintf("expected a v1 Pod, got %s", req.Kind.String()))
	}
	var pod corev1.Pod
	if err := k8sjson.UnmarshalCaseSensitivePreserveInts(req.Object.Raw, &pod); err != nil {
		return deny(http.StatusBadRequest, "decode pod: "+err.Error())
	}
	if pod.Labels[UseLabel] != "true" {
		return allow(nil)
	}
	namespace := req.Namespace
	if namespace == "" {
		namespace = pod.Namespace
	}
	saName := serviceAccountName(&pod)
	log = log.With("pod", podName(&pod), "service_account", saName)
	sa, err := h.ServiceAccounts.GetServiceAccount(ctx, namespace, saName)
	if err != nil {
		log.Warn("pod refused: service account lookup failed", "err", err)
		return deny(http.StatusBadRequest, err.Error())
	}
	mutated := pod.DeepCopy()
	if err := h.Mutator.Mutate(mutated, sa); err != nil {
		log.Warn("pod refused", "err", err)
		return deny(http.StatusBadRequest, err.Error())
	}
	patch, err := podPatch(&pod, mutated)
	if err != nil {
		log.Error("pod refused: patch failed", "err", err)
		return deny(http.StatusInternalServerError, "internal error building the patch")
	}
	log.Info("pod mutated", "patch_bytes", len(patch), "dry_run", req.DryRun != nil && *req.DryRun)
	return allow(patch)
}

// allow admits, with patch when it is not nil.
func allow(patch []byte) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{Allowed: true}
	if patch != nil {
		pt := admissionv1.PatchTypeJSONPatch
		resp.PatchType = &pt
		resp.Patch = patch
	}
	return resp
}

// deny refuses with code and message, which the API server shows as
// `admission webhook "..." denied the request: <message>`.
func deny(code int32, message string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Result: &metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    code,
		Reason:  reasonFor(code),
		Message: message,
	}}
}

// reasonFor is the Status reason of a denial code.
func reasonFor(code int32) metav1.StatusReason {
	if code == http.StatusBadRequest {
		return metav1.StatusReasonBadRequest
	}
	return metav1.StatusReasonInternalError
}

// logger returns h.Logger, or a logger that discards.
func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}
