package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
)

// objectWriter makes optel's own writes to handled objects: the
// last-handled annotation and the finalizer. Only resources with
// change-detecting handlers are ever written (see controller.process).
type objectWriter interface {
	annotate(ctx context.Context, r Resource, namespace, name string, annotations map[string]*string) error
	setFinalizer(ctx context.Context, r Resource, namespace, name, finalizer string, present bool) error
}

// dynamicWriter is the objectWriter of a running operator. raw, when set,
// sends the annotation patch and reads only its status: the patched
// object in the response is not decoded (it is not used).
type dynamicWriter struct {
	dyn dynamic.Interface
	raw rest.Interface
}

// collectionPath is the API path of r's objects in ns (all namespaces
// when ns is empty).
func collectionPath(r Resource, ns string) string {
	p := "/apis/" + r.Group + "/" + r.Version
	if r.Group == "" {
		p = "/api/" + r.Version
	}
	if ns != "" {
		p += "/namespaces/" + ns
	}
	return p + "/" + r.Resource
}

// resourcePath is the API path of an object of r.
func resourcePath(r Resource, ns, name string) string {
	return collectionPath(r, ns) + "/" + name
}

func resourceClient(dyn dynamic.Interface, r Resource, namespace string) dynamic.ResourceInterface {
	if namespace == "" {
		return dyn.Resource(r)
	}
	return dyn.Resource(r).Namespace(namespace)
}

func (w dynamicWriter) annotate(ctx context.Context, r Resource, ns, name string, annotations map[string]*string) error {
	b, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		return err
	}
	if w.raw != nil {
		err = w.raw.Patch(types.MergePatchType).AbsPath(resourcePath(r, ns, name)).Body(b).Do(ctx).Error()
	} else {
		_, err = resourceClient(w.dyn, r, ns).Patch(ctx, name, types.MergePatchType, b, metav1.PatchOptions{})
	}
	if err != nil {
		return fmt.Errorf("annotate %s: %w", name, err)
	}
	return nil
}

// setFinalizer adds or removes f with read-modify-write, retrying on
// conflicts, so other controllers' finalizers are never clobbered.
func (w dynamicWriter) setFinalizer(ctx context.Context, r Resource, ns, name, f string, present bool) error {
	ri := resourceClient(w.dyn, r, ns)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		fins := cur.GetFinalizers()
		has := slices.Contains(fins, f)
		switch {
		case present && !has:
			fins = append(fins, f)
		case !present && has:
			fins = slices.DeleteFunc(fins, func(s string) bool { return s == f })
		default:
			return nil
		}
		cur.SetFinalizers(fins)
		_, err = ri.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}
