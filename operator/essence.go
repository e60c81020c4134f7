package operator

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// essence is the part of an object whose change triggers update handlers:
// everything but status and server-managed metadata, keeping labels and
// annotations (minus optel's own, kubectl's last-applied copy and
// tracing.k8s.io/traceparent). It is
// stored as JSON in the last-handled annotation, as kopf does, so a restart
// knows what was handled.
func essence(obj *unstructured.Unstructured, prefix string) map[string]any {
	out := make(map[string]any, len(obj.Object))
	for k, v := range obj.Object {
		switch k {
		case "status", "metadata", "apiVersion", "kind":
			continue
		}
		out[k] = v
	}
	meta := map[string]any{}
	if l := obj.GetLabels(); len(l) > 0 {
		meta["labels"] = toAny(l)
	}
	ann := map[string]string{}
	for k, v := range obj.GetAnnotations() {
		// The traceparent annotation (KEP-5915) says who changed the
		// object last, not what it is: stamping it must not fire updates.
		if strings.HasPrefix(k, prefix+"/") || k == "kubectl.kubernetes.io/last-applied-configuration" || k == TraceparentAnnotation {
			continue
		}
		ann[k] = v
	}
	if len(ann) > 0 {
		meta["annotations"] = toAny(ann)
	}
	if len(meta) > 0 {
		out["metadata"] = meta
	}
	return out
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func encodeEssence(e map[string]any) (string, error) {
	b, err := json.Marshal(e) // map keys are sorted: the encoding is canonical
	if err != nil {
		return "", fmt.Errorf("encode object essence: %w", err)
	}
	return string(b), nil
}

func decodeEssence(s string) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode last-handled configuration: %w", err)
	}
	return m, nil
}

// DiffOp is the kind of one change.
type DiffOp string

// Diff operations.
const (
	DiffAdd    DiffOp = "add"
	DiffChange DiffOp = "change"
	DiffRemove DiffOp = "remove"
)

// DiffItem is one changed field. Path is the field path, e.g.
// ["spec", "replicas"].
type DiffItem struct {
	Op       DiffOp
	Path     []string
	Old, New any
}

func (d DiffItem) String() string {
	return fmt.Sprintf("%s %s: %v -> %v", d.Op, strings.Join(d.Path, "."), d.Old, d.New)
}

// Diff is the ordered list of changes between two states.
type Diff []DiffItem

// Under returns the changes at or below path (dot-separated), and changes
// of a parent that contains path.
func (d Diff) Under(path string) Diff {
	want := strings.Split(path, ".")
	var out Diff
	for _, it := range d {
		n := min(len(it.Path), len(want))
		if slices.Equal(it.Path[:n], want[:n]) {
			out = append(out, it)
		}
	}
	return out
}

// fieldApplies says whether a field handler runs: on create when the field
// is set, on update when it changed.
func fieldApplies(field string, cause Cause, obj *unstructured.Unstructured, d Diff) bool {
	if cause == CauseCreate {
		_, found, _ := unstructured.NestedFieldNoCopy(obj.Object, strings.Split(field, ".")...)
		return found
	}
	return len(d.Under(field)) > 0
}

// Changed reports whether the field at path (dot-separated, e.g.
// "spec.size") or anything below it changed.
func (d Diff) Changed(path string) bool {
	return len(d.Under(path)) > 0
}

// diff compares two JSON-like trees; maps are walked, anything else
// (including lists) is compared as a whole.
func diff(path []string, a, b any) Diff {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		var out Diff
		keys := slices.Sorted(maps.Keys(am))
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			av, ain := am[k]
			bv, bin := bm[k]
			p := append(slices.Clone(path), k)
			switch {
			case !ain:
				out = append(out, DiffItem{Op: DiffAdd, Path: p, New: bv})
			case !bin:
				out = append(out, DiffItem{Op: DiffRemove, Path: p, Old: av})
			default:
				out = append(out, diff(p, av, bv)...)
			}
		}
		return out
	}
	if reflect.DeepEqual(normalize(a), normalize(b)) {
		return nil
	}
	return Diff{{Op: DiffChange, Path: path, Old: a, New: b}}
}

// normalize makes numbers from the cache (int64) and from JSON (float64)
// comparable.
func normalize(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case int32:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalize(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

// onlyAnnotationChanged reports whether b differs from a in the annotation
// ann (a new value, present in b) and otherwise in nothing but
// resourceVersion and managedFields.
func onlyAnnotationChanged(a, b *unstructured.Unstructured, ann string) bool {
	if len(a.Object) != len(b.Object) {
		return false
	}
	for k, va := range a.Object {
		vb, ok := b.Object[k]
		if !ok {
			return false
		}
		if k != "metadata" {
			if !reflect.DeepEqual(va, vb) {
				return false
			}
			continue
		}
		ma, oka := va.(map[string]any)
		mb, okb := vb.(map[string]any)
		if !oka || !okb || !metadataEqualExcept(ma, mb, ann) {
			return false
		}
	}
	return true
}

func metadataEqualExcept(a, b map[string]any, ann string) bool {
	skip := func(k string) bool { return k == "resourceVersion" || k == "managedFields" || k == "annotations" }
	for k, va := range a {
		if skip(k) {
			continue
		}
		if vb, ok := b[k]; !ok || !reflect.DeepEqual(va, vb) {
			return false
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok && !skip(k) {
			return false
		}
	}
	aa, _ := a["annotations"].(map[string]any)
	ab, _ := b["annotations"].(map[string]any)
	if v, ok := ab[ann]; !ok || v == aa[ann] {
		// Removed: processing writes it back. Unchanged: a relist or
		// resync, which level-based handlers expect to see.
		return false
	}
	for k, v := range aa {
		if k == ann {
			continue
		}
		if w, ok := ab[k]; !ok || w != v {
			return false
		}
	}
	for k := range ab {
		if _, ok := aa[k]; !ok && k != ann {
			return false
		}
	}
	return true
}
