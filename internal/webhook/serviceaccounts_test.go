package webhook

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func aiSvc() *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "ai-svc", Namespace: "pets", UID: "5f0c", Annotations: map[string]string{ClientIDAnnotation: testClientID},
			Labels: map[string]string{"team": "ml"}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Secrets:          []corev1.ObjectReference{{Name: "ai-svc-token"}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}},
	}
}

// gets counts the GET actions on service accounts the client has seen.
func gets(client *fake.Clientset) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "serviceaccounts" {
			n++
		}
	}
	return n
}

func TestServiceAccountCache_HitFromCache(t *testing.T) {
	t.Parallel()
	accounts, client := startAccounts(t, aiSvc())
	sa, err := accounts.GetServiceAccount(t.Context(), "pets", "ai-svc")
	if err != nil {
		t.Fatalf("GetServiceAccount() error = %v", err)
	}
	if sa.Annotations[ClientIDAnnotation] != testClientID || sa.UID != "5f0c" {
		t.Errorf("GetServiceAccount() = %+v, want ai-svc with its annotations", sa.ObjectMeta)
	}
	if sa.Secrets != nil || sa.ImagePullSecrets != nil || sa.ManagedFields != nil || sa.Labels != nil {
		t.Errorf("cached service account not trimmed: %+v", sa)
	}
	if n := gets(client); n != 0 {
		t.Errorf("%d GETs to the API server for a cached service account, want 0", n)
	}
}

func TestServiceAccountCache_SeesUpdates(t *testing.T) {
	t.Parallel()
	accounts, client := startAccounts(t, aiSvc())
	updated := aiSvc()
	updated.Annotations[TenantIDAnnotation] = saTenant
	if _, err := client.CoreV1().ServiceAccounts("pets").Update(t.Context(), updated, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the update in the cache", func() bool {
		sa, err := accounts.lister.ServiceAccounts("pets").Get("ai-svc")
		return err == nil && sa.Annotations[TenantIDAnnotation] == saTenant
	})
}

func TestServiceAccountCache_MissFallsBackToGet(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset()
	// A watch that never delivers: whatever is created after the first
	// list stays out of the cache.
	client.PrependWatchReactor("serviceaccounts", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, watch.NewFake(), nil
	})
	accounts, err := NewServiceAccountCache(client)
	if err != nil {
		t.Fatal(err)
	}
	if accounts.HasSynced() {
		t.Fatal("HasSynced() before Run")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); accounts.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "sync", accounts.HasSynced)

	if err := client.Tracker().Add(aiSvc()); err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.lister.ServiceAccounts("pets").Get("ai-svc"); !apierrors.IsNotFound(err) {
		t.Fatalf("the cache has the service account (err %v); the test needs a miss", err)
	}
	sa, err := accounts.GetServiceAccount(t.Context(), "pets", "ai-svc")
	if err != nil {
		t.Fatalf("GetServiceAccount() error = %v", err)
	}
	if sa.Annotations[ClientIDAnnotation] != testClientID {
		t.Errorf("GetServiceAccount() annotations = %v", sa.Annotations)
	}
	if n := gets(client); n != 1 {
		t.Errorf("%d GETs to the API server on a cache miss, want 1", n)
	}
}

func TestServiceAccountCache_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		reactor     k8stesting.ReactionFunc // for get serviceaccounts; nil: the tracker's
		wantMessage string
		wantIs      func(error) bool
	}{
		{
			name:        "missing everywhere: not found",
			wantMessage: `get service account pets/ghost: serviceaccounts "ghost" not found`,
			wantIs:      apierrors.IsNotFound,
		},
		{
			name: "API server refuses the GET: its error, wrapped",
			reactor: func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(corev1.Resource("serviceaccounts"), "ghost", errors.New("RBAC: no get"))
			},
			wantMessage: `get service account pets/ghost: serviceaccounts "ghost" is forbidden: RBAC: no get`,
			wantIs:      apierrors.IsForbidden,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			accounts, client := startAccounts(t, aiSvc())
			if tt.reactor != nil {
				client.PrependReactor("get", "serviceaccounts", tt.reactor)
			}
			sa, err := accounts.GetServiceAccount(t.Context(), "pets", "ghost")
			if err == nil || err.Error() != tt.wantMessage || !tt.wantIs(err) {
				t.Fatalf("GetServiceAccount() = %v, %v; want error %q", sa, err, tt.wantMessage)
			}
			if n := gets(client); n != 1 {
				t.Errorf("%d GETs, want 1", n)
			}
		})
	}
}

func TestTrimServiceAccount(t *testing.T) {
	t.Parallel()
	got, err := trimServiceAccount(aiSvc())
	if err != nil {
		t.Fatal(err)
	}
	sa := got.(*corev1.ServiceAccount)
	if sa.Name != "ai-svc" || sa.Namespace != "pets" || sa.UID != "5f0c" || sa.Annotations[ClientIDAnnotation] != testClientID {
		t.Errorf("trimmed away what the webhook reads: %+v", sa.ObjectMeta)
	}
	if sa.Secrets != nil || sa.ImagePullSecrets != nil || sa.ManagedFields != nil {
		t.Errorf("kept what the webhook does not read: %+v", sa)
	}
	other := &corev1.Pod{}
	if got, _ := trimServiceAccount(other); got != other {
		t.Errorf("another object was not passed through")
	}
}
