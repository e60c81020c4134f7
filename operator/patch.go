package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// patcher writes to one object through the dynamic client.
type patcher struct {
	ri   dynamic.ResourceInterface
	name string
}

// PatchStatus merges status into the object's status subresource. A JSON
// merge patch carries no resourceVersion, so it cannot conflict; use
// UpdateStatus to read-modify-write.
func (e *Event) PatchStatus(ctx context.Context, status map[string]any) error {
	b, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return fmt.Errorf("encode status patch: %w", err)
	}
	_, err = e.patcher.ri.Patch(ctx, e.patcher.name, types.MergePatchType, b, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("patch status of %s: %w", e.patcher.name, err)
	}
	return nil
}

// UpdateStatus reads the latest object, lets mutate change it, and writes
// the status subresource, retrying on conflicts.
func (e *Event) UpdateStatus(ctx context.Context, mutate func(obj *unstructured.Unstructured) error) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := e.patcher.ri.Get(ctx, e.patcher.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := mutate(cur); err != nil {
			return err
		}
		_, err = e.patcher.ri.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// PatchAnnotations sets (or, with a nil value, removes) annotations.
func (e *Event) PatchAnnotations(ctx context.Context, annotations map[string]*string) error {
	return e.patcher.annotate(ctx, annotations)
}

func (p *patcher) annotate(ctx context.Context, annotations map[string]*string) error {
	b, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		return err
	}
	if _, err := p.ri.Patch(ctx, p.name, types.MergePatchType, b, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotate %s: %w", p.name, err)
	}
	return nil
}

// setFinalizer adds or removes f with read-modify-write, retrying on
// conflicts, so other controllers' finalizers are never clobbered.
func (p *patcher) setFinalizer(ctx context.Context, f string, present bool) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := p.ri.Get(ctx, p.name, metav1.GetOptions{})
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
		_, err = p.ri.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}
