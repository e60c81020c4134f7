package testpeers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// ApplyFile creates every object in a multi-document YAML file, mapping
// kinds to resources through discovery, as kubectl would.
func ApplyFile(t testing.TB, rc *rest.Config, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ApplyYAML(t, rc, path, raw)
}

// ApplyYAML creates every object in raw (multi-document YAML); name is for
// messages.
func ApplyYAML(t testing.TB, rc *rest.Config, name string, raw []byte) {
	t.Helper()
	dc := discovery.NewDiscoveryClientForConfigOrDie(rc)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn := dynamic.NewForConfigOrDie(rc)
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			t.Fatalf("%s: %v", name, err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s: %s: %v", name, gvk, err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if ns := u.GetNamespace(); ns != "" {
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		if _, err := ri.Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: create %s %s: %v", name, gvk.Kind, u.GetName(), err)
		}
	}
}

// ServiceAccountToken returns a token of ServiceAccount ns/sa from the
// TokenRequest API, to run a binary with exactly that account's RBAC.
func ServiceAccountToken(t testing.TB, rc *rest.Config, ns, sa string) string {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(rc)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa, &authnv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", ns, sa, err)
	}
	return tr.Status.Token
}
