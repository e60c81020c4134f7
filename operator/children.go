package operator

import (
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
)

// Key names an object: its namespace (empty for cluster-scoped objects) and
// name.
type Key = types.NamespacedName

// Watchable is a resource another Kind can own or watch: a *Kind of any
// type. It is sealed.
type Watchable interface {
	Resource() Resource
	kindErr() error
}

func (k *Kind[T]) kindErr() error { return k.err }

// ErrAlreadyOwned is returned by Adopt when the child already has another
// controller owner.
var ErrAlreadyOwned = errors.New("object already has a different controller owner")

// Owns makes changes of child objects wake their owner (controller-runtime's
// Owns): every event of a child whose controller ownerReference (see Adopt)
// points at an object of k enqueues that owner's key, through the owner's
// queue, with its retries and per-object exclusion, so the owner's
// Reconcile handlers run. The child resource is only watched: optel never
// writes to it, and its RBAC needs only get, list and watch (plus what the
// handlers themselves write).
func (k *Kind[T]) Owns(child Watchable) error {
	if k.err != nil {
		return fmt.Errorf("owns: %w", k.err)
	}
	if err := child.kindErr(); err != nil {
		return fmt.Errorf("owns: %w", err)
	}
	return k.op.relate(k.res, child.Resource(), func(owner *controller, u *unstructured.Unstructured) {
		for _, ref := range u.GetOwnerReferences() {
			if ref.Controller == nil || !*ref.Controller || ref.Kind != owner.gvk.Kind {
				continue
			}
			if gv, err := schema.ParseGroupVersion(ref.APIVersion); err != nil || gv.Group != owner.res.Group {
				continue
			}
			key := ref.Name
			if owner.namespaced {
				key = u.GetNamespace() + "/" + ref.Name
			}
			owner.enqueue(key)
		}
	})
}

// Watches makes changes of related objects wake the owners that fn maps
// them to (controller-runtime's Watches with EnqueueRequestsFromMapFunc,
// kopf's indexes used for lookups). fn runs on the watch's delivery
// goroutine for every event (for an update, on the old and the new state),
// with the object decoded into C: keep it fast and non-blocking (read
// caches, not the API); a panic in it is recovered and logged. A Key
// without a namespace, for a namespaced owner, means the related object's
// namespace. The related resource is only watched, never written.
func Watches[T, C Object](owner *Kind[T], related *Kind[C], fn func(obj C) []Key) error {
	if owner.err != nil {
		return fmt.Errorf("watches: %w", owner.err)
	}
	if related.err != nil {
		return fmt.Errorf("watches: %w", related.err)
	}
	if fn == nil {
		return errors.New("watches: mapping function is nil")
	}
	log := owner.op.log
	return owner.op.relate(owner.res, related.res, func(target *controller, u *unstructured.Unstructured) {
		obj, err := decode[C](u)
		if err != nil {
			log.Warn("watches: related object does not decode; not mapped", "resource", ResourceName(related.res), "error", err)
			return
		}
		for _, k := range fn(obj) {
			if k.Namespace == "" && target.namespaced {
				k.Namespace = u.GetNamespace() // a namespaced owner: the related object's namespace
			}
			target.enqueue(cacheKey(k))
		}
	})
}

// relate registers a mapper on the watched resource r that enqueues keys of
// target.
func (o *Operator) relate(target, r Resource, m func(target *controller, u *unstructured.Unstructured)) error {
	if r.Version == "" || r.Resource == "" {
		return fmt.Errorf("resource %v needs at least a version and a plural resource name", r)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.started {
		return ErrStarted
	}
	t := o.controllerFor(target)
	c := o.controllerFor(r)
	c.mappers = append(c.mappers, func(u *unstructured.Unstructured) { m(t, u) })
	t.mapped = true
	return nil
}

// Adopt makes owner the controller owner of child (kopf's adopt,
// controller-runtime's SetControllerReference): it adds an ownerReference
// with controller and blockOwnerDeletion set, so the garbage collector
// deletes child with its owner and Owns routes child's changes to owner. An
// empty child namespace becomes the owner's, and an empty child name the
// owner's name. owner must carry its apiVersion and kind (objects handlers
// receive do; built-in typed objects are looked up in client-go's scheme).
// A child already controlled by another object returns ErrAlreadyOwned.
func Adopt(owner, child Object) error {
	gvk, err := objectKind(owner)
	if err != nil {
		return fmt.Errorf("adopt: owner %s: %w", owner.GetName(), err)
	}
	if owner.GetUID() == "" {
		return fmt.Errorf("adopt: owner %s has no uid: pass the object as read from the API or a cache", owner.GetName())
	}
	if child.GetNamespace() == "" {
		child.SetNamespace(owner.GetNamespace())
	}
	if owner.GetNamespace() != "" && child.GetNamespace() != owner.GetNamespace() {
		return fmt.Errorf("adopt: owner %s/%s and child in namespace %q: owner references cannot cross namespaces", owner.GetNamespace(), owner.GetName(), child.GetNamespace())
	}
	if child.GetName() == "" && child.GetGenerateName() == "" {
		child.SetName(owner.GetName())
	}
	ref := metav1.OwnerReference{
		APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind,
		Name: owner.GetName(), UID: owner.GetUID(),
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}
	refs := child.GetOwnerReferences()
	for i, r := range refs {
		if r.Controller != nil && *r.Controller && r.UID != ref.UID {
			return fmt.Errorf("adopt %s under %s %s: %w (%s %s)", child.GetName(), gvk.Kind, owner.GetName(), ErrAlreadyOwned, r.Kind, r.Name)
		}
		if r.UID == ref.UID {
			refs[i] = ref
			child.SetOwnerReferences(refs)
			return nil
		}
	}
	child.SetOwnerReferences(append(refs, ref))
	return nil
}

// objectKind finds an object's group, version and kind: from its own type
// meta, else from client-go's scheme.
func objectKind(obj Object) (schema.GroupVersionKind, error) {
	if ok, is := obj.(interface{ GetObjectKind() schema.ObjectKind }); is {
		if gvk := ok.GetObjectKind().GroupVersionKind(); !gvk.Empty() && gvk.Kind != "" {
			return gvk, nil
		}
	}
	if ro, is := obj.(runtime.Object); is {
		if gvks, _, err := scheme.Scheme.ObjectKinds(ro); err == nil && len(gvks) > 0 {
			return gvks[0], nil
		}
	}
	return schema.GroupVersionKind{}, fmt.Errorf("%T has no apiVersion and kind, and is not in client-go's scheme", obj)
}
