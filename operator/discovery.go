package operator

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// discoveryWait bounds waiting for a resource to appear in discovery: a CRD
// that was just established can take a moment to be listed.
const discoveryWait = 10 * time.Second

// resolve looks up each resource's kind and scope in the API server's
// discovery (one request per group/version), so owner references can be
// matched and typed objects created, and so a resource the server does not
// serve fails Run with a clear error instead of a silent, empty watch.
func (o *Operator) resolve(ctx context.Context, cs []*controller) error {
	lists := map[string]*metav1.APIResourceList{}
	for _, c := range cs {
		if c.mapped && len(c.handlers[CauseReconcile]) == 0 {
			return fmt.Errorf("%s owns or watches other resources but has no Reconcile handler: their changes would wake nothing (register one with Reconcile)", c.name)
		}
		gv := c.res.GroupVersion().String()
		deadline := time.Now().Add(discoveryWait)
		for {
			list := lists[gv]
			if list == nil {
				l, err := o.kube.Discovery().ServerResourcesForGroupVersion(gv)
				if err != nil && !apierrors.IsNotFound(err) {
					return fmt.Errorf("discover %s: %w", gv, err)
				}
				list = l
			}
			if found := c.resolveFrom(list); found {
				lists[gv] = list
				break
			}
			delete(lists, gv)
			if time.Now().After(deadline) {
				return fmt.Errorf("resource %s is not served by the API server (group/version %s; is its CustomResourceDefinition installed and established?)", c.name, gv)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

func (c *controller) resolveFrom(list *metav1.APIResourceList) bool {
	if list == nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == c.res.Resource {
			c.gvk = c.res.GroupVersion().WithKind(r.Kind)
			c.namespaced = r.Namespaced
			return true
		}
	}
	return false
}
