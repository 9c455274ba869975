package arm

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/fedcred/fedcred/internal/store"
)

// subscriptionJSON is ARM's subscription.
type subscriptionJSON struct {
	ID                  string   `json:"id"`
	SubscriptionID      string   `json:"subscriptionId"`
	TenantID            string   `json:"tenantId"`
	DisplayName         string   `json:"displayName"`
	State               string   `json:"state"`
	AuthorizationSource string   `json:"authorizationSource"`
	ManagedByTenants    []string `json:"managedByTenants"`
}

func renderSubscription(s store.Subscription) subscriptionJSON {
	return subscriptionJSON{
		ID:                  s.ResourceID(),
		SubscriptionID:      s.ID,
		TenantID:            s.TenantID,
		DisplayName:         s.DisplayName,
		State:               "Enabled",
		AuthorizationSource: "RoleBased",
		ManagedByTenants:    []string{},
	}
}

// subscriptionsPrefix is the store key prefix of every subscription.
const subscriptionsPrefix = "/subscriptions/"

// listSubscriptions lists the subscriptions of the caller's tenant that the
// caller may read (Microsoft.Resources/subscriptions/read at the
// subscription) or that hold a role assignment of the caller at any scope
// within them, as Azure lists them: an identity with a role on one resource
// group sees its subscription, so `az login` finds it. Subscriptions are
// few, so they are read in one go and decided outside the store transaction.
func (h *Handler) listSubscriptions(ctx context.Context, req *request) (response, error) {
	pr, err := parsePage(req.query, subscriptionsPrefix)
	if err != nil {
		return response{}, err
	}
	var all []store.Subscription
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		all, err = store.List[store.Subscription](ctx, tx, subscriptionsPrefix, pr.after, 0)
		return err
	})
	if err != nil {
		return response{}, fmt.Errorf("list subscriptions: %w", err)
	}
	var items []store.Subscription
	next := ""
	for _, s := range all {
		if !visible(req.principal, s) {
			continue
		}
		a, _ := accessFor(http.MethodGet, route{kind: routeSubscription, sub: s.ID})
		ok, err := h.allowed(ctx, req.principal, a)
		if err == nil && !ok {
			ok, err = h.assignedWithin(ctx, req.principal, s)
		}
		if err != nil {
			return response{}, err
		}
		if !ok {
			continue
		}
		if len(items) == pr.top {
			next = items[len(items)-1].Key()
			break
		}
		items = append(items, s)
	}
	return response{http.StatusOK, pageOf(h, req, pr, items, next, renderSubscription)}, nil
}

// assignedWithin reports whether p has a role assignment at sub or at any
// scope below it.
func (h *Handler) assignedWithin(ctx context.Context, p Principal, sub store.Subscription) (bool, error) {
	if p.ObjectID == "" {
		return false, nil
	}
	found := false
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		found = false
		all, err := store.List[store.RoleAssignment](ctx, tx, store.ScopeKey(sub.ResourceID()+"/"), "", 0)
		if err != nil {
			return err
		}
		for _, a := range all {
			if strings.EqualFold(a.PrincipalID, p.ObjectID) {
				found = true
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("list role assignments in subscription %s: %w", sub.ID, err)
	}
	return found, nil
}

// getSubscription answers the subscription serve has already read.
func (h *Handler) getSubscription(_ context.Context, req *request) (response, error) {
	return response{http.StatusOK, renderSubscription(req.sub)}, nil
}
