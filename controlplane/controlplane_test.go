package controlplane_test

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/optel-dev/optel/controlplane"
)

const crd = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.test.optel.dev
spec:
  group: test.optel.dev
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`

func TestRealAPIServer(t *testing.T) {
	cp := controlplane.StartForTest(t, controlplane.Options{Users: []controlplane.User{{Name: "viewer", Groups: []string{"viewers"}}}})
	ctx := context.Background()
	if err := controlplane.ApplyCRDs(ctx, cp.Config(), []byte(crd)); err != nil {
		t.Fatal(err)
	}
	dc := dynamic.NewForConfigOrDie(cp.Config())
	gvr := schema.GroupVersionResource{Group: "test.optel.dev", Version: "v1", Resource: "gadgets"}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "test.optel.dev/v1", "kind": "Gadget",
		"metadata": map[string]any{"name": "g1", "namespace": "default"},
		"spec":     map[string]any{"size": int64(3)},
	}}
	created, err := dc.Resource(gvr).Namespace("default").Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Object["status"] = map[string]any{"phase": "Ready"}
	if _, err := dc.Resource(gvr).Namespace("default").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("status subresource: %v", err)
	}

	// RBAC is real: a user without grants is forbidden.
	for _, u := range []string{controlplane.Unprivileged, "viewer"} {
		cfg, err := cp.UserConfig(u)
		if err != nil {
			t.Fatal(err)
		}
		_, err = kubernetes.NewForConfigOrDie(cfg).CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s listing configmaps: %v, want 403 Forbidden", u, err)
		}
	}
	if _, err := cp.UserConfig("nobody"); err == nil {
		t.Error("unknown user accepted")
	}

	// The API server restarts on the same port with etcd's data intact.
	cp.StopAPIServer()
	if err := cp.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := dc.Resource(gvr).Namespace("default").Get(ctx, "g1", metav1.GetOptions{})
	if err != nil || got.Object["status"].(map[string]any)["phase"] != "Ready" {
		t.Fatalf("after restart: %v %v", got, err)
	}
}
