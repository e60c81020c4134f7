package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Measured clients. Every request they make goes through the operator's
// instrumented transport, so it is counted in optel.api.requests (by verb
// and code), timed in optel.api.duration, and shown on the status page.
// Handlers should use these, or the Kind helpers below, instead of building
// their own clients.

// Kubernetes is the operator's typed clientset.
func (o *Operator) Kubernetes() kubernetes.Interface { return o.kube }

// Dynamic is the operator's dynamic client.
func (o *Operator) Dynamic() dynamic.Interface { return o.dyn }

// RESTConfig is a copy of the operator's client configuration, with the
// instrumented transport: clients built from it (a controller-runtime
// client, a generated clientset) are measured too.
func (o *Operator) RESTConfig() *rest.Config { return rest.CopyConfig(o.cfg) }

// OperationResult says what CreateOrUpdate did.
type OperationResult string

// Results of CreateOrUpdate.
const (
	OperationNone    OperationResult = "unchanged"
	OperationCreated OperationResult = "created"
	OperationUpdated OperationResult = "updated"
)

func (k *Kind[T]) controller() (*controller, error) {
	if k.err != nil {
		return nil, k.err
	}
	k.op.mu.Lock()
	c := k.op.controllers[k.res]
	k.op.mu.Unlock()
	if c == nil || len(c.informerList()) == 0 {
		return nil, fmt.Errorf("%s: %w", ResourceName(k.res), errNotStarted)
	}
	return c, nil
}

func (k *Kind[T]) kind(c *controller) schema.GroupVersionKind {
	if !k.gvk.Empty() {
		return k.gvk
	}
	return c.gvk
}

func (k *Kind[T]) notFound(name string) error {
	return apierrors.NewNotFound(schema.GroupResource{Group: k.res.Group, Resource: k.res.Resource}, name)
}

func cacheKey(key Key) string {
	if key.Namespace == "" {
		return key.Name
	}
	return key.Namespace + "/" + key.Name
}

// Get reads an object from the operator's cache (no API call). A missing
// object returns an error for which apierrors.IsNotFound is true. The
// cache follows the watch, so it can lag a write by a moment.
func (k *Kind[T]) Get(key Key) (T, error) {
	var zero T
	c, err := k.controller()
	if err != nil {
		return zero, err
	}
	u := c.get(cacheKey(key))
	if u == nil {
		return zero, k.notFound(key.Name)
	}
	return decode[T](u)
}

// List reads objects from the cache (no API call), in one namespace or all
// ("" ), matching selector (nil: everything), sorted by namespace and name.
func (k *Kind[T]) List(namespace string, selector labels.Selector) ([]T, error) {
	c, err := k.controller()
	if err != nil {
		return nil, err
	}
	var items []*unstructured.Unstructured
	for _, inf := range c.informerList() {
		var objs []any
		if namespace == "" {
			objs = inf.GetStore().List()
		} else {
			objs, _ = inf.GetIndexer().ByIndex(cache.NamespaceIndex, namespace)
		}
		for _, o := range objs {
			u := o.(*unstructured.Unstructured)
			if selector == nil || selector.Matches(labels.Set(u.GetLabels())) {
				items = append(items, u)
			}
		}
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].GetNamespace() != items[j].GetNamespace() {
			return items[i].GetNamespace() < items[j].GetNamespace()
		}
		return items[i].GetName() < items[j].GetName()
	})
	out := make([]T, 0, len(items))
	for _, u := range items {
		t, err := decode[T](u)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (k *Kind[T]) client(namespace string) dynamic.ResourceInterface {
	return resourceClient(k.op.dyn, k.res, namespace)
}

// Create creates obj and returns the object the API server stored. It
// works before Run when obj carries its apiVersion and kind (or T is a
// built-in kind).
func (k *Kind[T]) Create(ctx context.Context, obj T) (T, error) {
	var zero T
	if k.err != nil {
		return zero, k.err
	}
	gvk, err := objectKind(obj)
	if err != nil {
		if gvk = k.gvk; gvk.Empty() {
			c, cerr := k.controller()
			if cerr != nil {
				return zero, fmt.Errorf("create %s: %w (or set its apiVersion and kind)", obj.GetName(), cerr)
			}
			gvk = c.gvk
		}
	}
	u, err := encode(obj, gvk)
	if err != nil {
		return zero, err
	}
	out, err := k.client(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		return zero, fmt.Errorf("create %s %s: %w", gvk.Kind, u.GetName(), err)
	}
	return decode[T](out)
}

// Delete deletes an object; a missing object is not an error.
func (k *Kind[T]) Delete(ctx context.Context, key Key) error {
	err := k.client(key.Namespace).Delete(ctx, key.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s: %w", ResourceName(k.res), key.Name, err)
	}
	return nil
}

// CreateOrUpdate makes the object at key what mutate says
// (controller-runtime's controllerutil.CreateOrUpdate), reading from the
// cache: if the object is missing, mutate gets a new T with its namespace
// and name set and the result is created; otherwise mutate gets a copy of
// the cached object and, only if mutate changed it, the change is sent as a
// JSON merge patch of the fields that differ. A patch carries no
// resourceVersion, so another writer of other fields (a controller writing
// status, a field T does not know) neither conflicts with it nor loses its
// data. If the object exists but is not cached yet, it is read once from
// the API and patched. Call Adopt inside mutate to own the object.
//
// Inside a sampled handler span, an object it creates or changes is
// stamped with the run's tracing.k8s.io/traceparent (StampTraceparent), so
// whoever watches it links their runs to this one; a call that changes
// nothing writes nothing, the annotation included.
//
// Change fields in place: a mutate that replaces a whole struct the API
// server defaulted (a pod spec, a port without its targetPort) differs from
// the stored object on every call, and so sends a patch every time.
func (k *Kind[T]) CreateOrUpdate(ctx context.Context, key Key, mutate func(obj T) error) (T, OperationResult, error) {
	var zero T
	c, err := k.controller()
	if err != nil {
		return zero, OperationNone, err
	}
	gvk := k.kind(c)
	ri := k.client(key.Namespace)
	cached := c.get(cacheKey(key))
	if cached == nil {
		obj, err := decode[T](&unstructured.Unstructured{Object: map[string]any{}})
		if err != nil {
			return zero, OperationNone, err
		}
		obj.SetNamespace(key.Namespace)
		obj.SetName(key.Name)
		if err := mutate(obj); err != nil {
			return zero, OperationNone, err
		}
		if obj.GetName() != key.Name || obj.GetNamespace() != key.Namespace {
			return zero, OperationNone, fmt.Errorf("create or update %s %s: mutate changed the object's namespace or name", gvk.Kind, key)
		}
		StampTraceparent(ctx, obj)
		u, err := encode(obj, gvk)
		if err != nil {
			return zero, OperationNone, err
		}
		out, err := ri.Create(ctx, u, metav1.CreateOptions{})
		switch {
		case err == nil:
			t, err := decode[T](out)
			return t, OperationCreated, err
		case !apierrors.IsAlreadyExists(err):
			return zero, OperationNone, fmt.Errorf("create %s %s: %w", gvk.Kind, key, err)
		}
		// Created by someone else, or by us, and not cached yet.
		if cached, err = ri.Get(ctx, key.Name, metav1.GetOptions{}); err != nil {
			return zero, OperationNone, fmt.Errorf("create %s %s: exists but cannot be read: %w", gvk.Kind, key, err)
		}
	}
	before, err := normalized[T](cached, gvk)
	if err != nil {
		return zero, OperationNone, err
	}
	obj, err := decode[T](cached)
	if err != nil {
		return zero, OperationNone, err
	}
	if err := mutate(obj); err != nil {
		return zero, OperationNone, err
	}
	// A mutate that sets the annotations wholesale drops the traceparent
	// stamped last time; keep it, so that only a real change writes (and
	// re-stamps).
	if tp, ok := cached.GetAnnotations()[TraceparentAnnotation]; ok {
		if ann := obj.GetAnnotations(); ann[TraceparentAnnotation] == "" {
			if ann == nil {
				ann = map[string]string{}
			}
			ann[TraceparentAnnotation] = tp
			obj.SetAnnotations(ann)
		}
	}
	after, err := encode(obj, gvk)
	if err != nil {
		return zero, OperationNone, err
	}
	if equality.Semantic.DeepEqual(before.Object, after.Object) {
		return obj, OperationNone, nil
	}
	if StampTraceparent(ctx, obj) {
		if after, err = encode(obj, gvk); err != nil {
			return zero, OperationNone, err
		}
	}
	patch, err := mergePatch(before, after)
	if err != nil {
		return zero, OperationNone, fmt.Errorf("update %s %s: %w", gvk.Kind, key, err)
	}
	out, err := ri.Patch(ctx, key.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return zero, OperationNone, fmt.Errorf("update %s %s: %w", gvk.Kind, key, err)
	}
	t, err := decode[T](out)
	return t, OperationUpdated, err
}

// mergePatch is the JSON merge patch (RFC 7386) from before to after,
// without the resourceVersion: it changes only the fields that differ.
func mergePatch(before, after *unstructured.Unstructured) ([]byte, error) {
	b, err := json.Marshal(before.Object)
	if err != nil {
		return nil, err
	}
	a, err := json.Marshal(after.Object)
	if err != nil {
		return nil, err
	}
	return jsonpatch.CreateMergePatch(b, a)
}

// normalized is u as T would write it back: decoded and encoded once, so
// comparing it with a mutated T compares like with like.
func normalized[T Object](u *unstructured.Unstructured, gvk schema.GroupVersionKind) (*unstructured.Unstructured, error) {
	t, err := decode[T](u)
	if err != nil {
		return nil, err
	}
	return encode(t, gvk)
}

// UpdateStatus writes the status subresource of the object at key (any
// object of this kind, not only the handler's own) after mutate changed a
// copy of it. It starts from the cache and, on a conflict, re-reads the
// object from the API and calls mutate again, up to 5 times. If mutate
// leaves the status as it was, nothing is written, so calling it on every
// reconcile costs no API request when nothing changed.
func (k *Kind[T]) UpdateStatus(ctx context.Context, key Key, mutate func(obj T) error) error {
	c, err := k.controller()
	if err != nil {
		return err
	}
	return k.updateStatusWith(ctx, c, key, mutate)
}

func (k *Kind[T]) updateStatusWith(ctx context.Context, c *controller, key Key, mutate func(obj T) error) error {
	gvk := k.kind(c)
	cur := c.get(cacheKey(key))
	if cur == nil {
		return k.notFound(key.Name)
	}
	ri := resourceClient(c.e.dyn, c.res, key.Namespace)
	for attempt := 0; ; attempt++ {
		before, err := normalized[T](cur, gvk)
		if err != nil {
			return err
		}
		obj, err := decode[T](cur)
		if err != nil {
			return err
		}
		if err := mutate(obj); err != nil {
			return err
		}
		after, err := encode(obj, gvk)
		if err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(before.Object["status"], after.Object["status"]) {
			return nil
		}
		_, err = ri.UpdateStatus(ctx, after, metav1.UpdateOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt >= 4 {
			return fmt.Errorf("update status of %s %s: %w", gvk.Kind, key, err)
		}
		if cur, err = ri.Get(ctx, key.Name, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("update status of %s %s: re-read after conflict: %w", gvk.Kind, key, err)
		}
	}
}
