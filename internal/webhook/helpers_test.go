package webhook

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// startAccounts runs a ServiceAccountCache over a fake clientset holding
// objs until the test ends, and waits for it to sync.
func startAccounts(t *testing.T, objs ...runtime.Object) (*ServiceAccountCache, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	accounts, err := NewServiceAccountCache(client)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); accounts.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "service account cache sync", accounts.HasSynced)
	return accounts, client
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readReview reads a testdata AdmissionReview.
func readReview(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reviewOf wraps pod in a CREATE AdmissionReview of apiVersion for
// namespace "pets".
func reviewOf(t *testing.T, apiVersion string, pod *corev1.Pod) []byte {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	return reviewOfRaw(t, apiVersion, raw)
}

func reviewOfRaw(t *testing.T, apiVersion string, raw []byte) []byte {
	t.Helper()
	review := map[string]any{
		"apiVersion": apiVersion,
		"kind":       "AdmissionReview",
		"request": map[string]any{
			"uid":       "b1d6c1b2-8a3f-4c53-9b1e-2e1f0c9d8a7b",
			"kind":      map[string]string{"group": "", "version": "v1", "kind": "Pod"},
			"resource":  map[string]string{"group": "", "version": "v1", "resource": "pods"},
			"namespace": "pets",
			"operation": "CREATE",
			"userInfo":  map[string]any{"username": "kubernetes-admin"},
			"object":    json.RawMessage(raw),
		},
	}
	b, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeResponse decodes an AdmissionReview answer and checks its envelope.
func decodeResponse(t *testing.T, body []byte, wantAPIVersion, wantUID string) *admissionv1.AdmissionResponse {
	t.Helper()
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		t.Fatalf("decode answer %s: %v", body, err)
	}
	if review.APIVersion != wantAPIVersion || review.Kind != "AdmissionReview" {
		t.Errorf("answer is kind %q of %q, want AdmissionReview of %q", review.Kind, review.APIVersion, wantAPIVersion)
	}
	if review.Response == nil {
		t.Fatalf("answer has no response: %s", body)
	}
	if string(review.Response.UID) != wantUID {
		t.Errorf("response uid = %q, want %q", review.Response.UID, wantUID)
	}
	if review.Request != nil {
		t.Errorf("answer echoes the request")
	}
	return review.Response
}

// applyResponse applies the response's JSON patch to the raw pod the way
// the API server does and returns the patched raw pod.
func applyResponse(t *testing.T, rawPod []byte, resp *admissionv1.AdmissionResponse) []byte {
	t.Helper()
	if resp.Patch == nil {
		if resp.PatchType != nil {
			t.Errorf("patchType %s without a patch", *resp.PatchType)
		}
		return rawPod
	}
	if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("patchType = %v, want JSONPatch", resp.PatchType)
	}
	patch, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatalf("decode patch %s: %v", resp.Patch, err)
	}
	out, err := patch.Apply(rawPod)
	if err != nil {
		t.Fatalf("apply patch %s: %v", resp.Patch, err)
	}
	return out
}

func decodePod(t *testing.T, raw []byte) *corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	if err := json.Unmarshal(raw, &pod); err != nil {
		t.Fatalf("decode pod: %v", err)
	}
	return &pod
}

// rawObject returns request.object of an AdmissionReview.
func rawObject(t *testing.T, review []byte) []byte {
	t.Helper()
	var r struct {
		Request struct {
			Object json.RawMessage `json:"object"`
		} `json:"request"`
	}
	if err := json.Unmarshal(review, &r); err != nil {
		t.Fatal(err)
	}
	return r.Request.Object
}

// writeCert writes a fresh self-signed serving pair for 127.0.0.1 and
// localhost to certFile and keyFile, with the given serial and
// modification time, and returns the certificate.
func writeCert(t *testing.T, certFile, keyFile string, serial int64, mtime time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "fedcred-webhook.fedcred-system.svc"},
		DNSNames:              []string{"localhost", "fedcred-webhook.fedcred-system.svc"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 29, 21, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
