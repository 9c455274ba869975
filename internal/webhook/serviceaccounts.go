package webhook

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// lookupTimeout bounds a direct GET on a cache miss; the API server gives
// the whole admission call 10 seconds by default.
const lookupTimeout = 5 * time.Second

// ServiceAccountCache looks service accounts up in an informer cache of
// every namespace and, on a miss (a service account created a moment ago,
// or a cache still syncing), asks the API server directly. It needs get,
// list and watch on serviceaccounts.
type ServiceAccountCache struct {
	client   kubernetes.Interface
	informer cache.SharedIndexInformer
	lister   corelisters.ServiceAccountLister
}

var _ ServiceAccountGetter = (*ServiceAccountCache)(nil)

// NewServiceAccountCache returns a cache over client; Run fills it.
func NewServiceAccountCache(client kubernetes.Interface) (*ServiceAccountCache, error) {
	informer := coreinformers.NewServiceAccountInformer(client, metav1.NamespaceAll, 0,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	if err := informer.SetTransform(trimServiceAccount); err != nil {
		return nil, fmt.Errorf("set service account transform: %w", err)
	}
	return &ServiceAccountCache{
		client:   client,
		informer: informer,
		lister:   corelisters.NewServiceAccountLister(informer.GetIndexer()),
	}, nil
}

// Run lists and watches service accounts until ctx is done.
func (c *ServiceAccountCache) Run(ctx context.Context) {
	c.informer.RunWithContext(ctx)
}

// HasSynced reports whether the first list has been loaded.
func (c *ServiceAccountCache) HasSynced() bool {
	return c.informer.HasSynced()
}

// GetServiceAccount returns the service account from the cache, or from the
// API server when the cache does not have it. The result is shared: callers
// must not modify it.
func (c *ServiceAccountCache) GetServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	sa, err := c.lister.ServiceAccounts(namespace).Get(name)
	if err == nil {
		return sa, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get service account %s/%s from cache: %w", namespace, name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	sa, err = c.client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get service account %s/%s: %w", namespace, name, err)
	}
	return sa, nil
}

// trimServiceAccount keeps of a cached service account only what the
// webhook reads, so a cluster's worth of them stays small.
func trimServiceAccount(obj any) (any, error) {
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok {
		return obj, nil
	}
	return &corev1.ServiceAccount{
		TypeMeta: sa.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name:            sa.Name,
			Namespace:       sa.Namespace,
			UID:             sa.UID,
			ResourceVersion: sa.ResourceVersion,
			Annotations:     sa.Annotations,
		},
	}, nil
}
