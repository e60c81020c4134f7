package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/internal/testpeers"
)

// TestDeployManifestsWithLeastPrivilege applies deploy/ to a real API server
// (which validates every object), then runs the operator with a token of the
// manifests' own ServiceAccount and the Deployment's flags (--leader-elect,
// --metrics-secure): if the RBAC lacked anything the operator needs, it
// would fail to handle Widgets. Prometheus's ServiceAccount may scrape
// /metrics; the operator's own may not.
func TestDeployManifestsWithLeastPrivilege(t *testing.T) {
	cp := controlplane.StartForTest(t, controlplane.Options{})
	ctx := context.Background()
	cfg := cp.Config()
	cs := kubernetes.NewForConfigOrDie(cfg)
	if err := controlplane.ApplyCRDs(ctx, cfg, crdYAML); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts("monitoring").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "prometheus-k8s"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"deployment.yaml", "rbac.yaml", "service.yaml"} { // the Namespace is in deployment.yaml
		testpeers.ApplyFile(t, cfg, filepath.Join("deploy", f))
	}

	operatorToken := testpeers.ServiceAccountToken(t, cfg, "widgets-system", "widgets-operator")
	kc := filepath.Join(t.TempDir(), "operator.kubeconfig")
	if err := cp.WriteKubeconfigWithToken(kc, operatorToken); err != nil {
		t.Fatal(err)
	}
	health := testpeers.FreeAddr(t)
	addr, out := startWidgets(t, []string{"KUBECONFIG=" + kc},
		"--leader-elect", "--leader-election-namespace=widgets-system", "--metrics-secure", "--health-probe-bind-address="+health)

	// Widgets created by someone else are handled under the operator's RBAC.
	ri := dynamic.NewForConfigOrDie(cfg).Resource(widgets).Namespace("default")
	w := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "rbac-check"}, "spec": map[string]any{"size": int64(2)},
	}}
	if _, err := ri.Create(ctx, w, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testpeers.Eventually(t, 60*time.Second, func() string {
		got, err := ri.Get(ctx, "rbac-check", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if phase, _, _ := unstructured.NestedString(got.Object, "status", "phase"); phase != "Provisioned" {
			return "not provisioned under the manifests' RBAC:\n" + out.String()
		}
		return ""
	})
	if err := ri.Delete(ctx, "rbac-check", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testpeers.Eventually(t, 60*time.Second, func() string {
		if _, err := ri.Get(ctx, "rbac-check", metav1.GetOptions{}); err == nil {
			return "finalizer not removed under the manifests' RBAC"
		}
		return ""
	})

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	scrapeAs := func(tok string) int {
		req, _ := http.NewRequest("GET", "https://"+addr+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := scrapeAs(testpeers.ServiceAccountToken(t, cfg, "monitoring", "prometheus-k8s")); code != 200 {
		t.Errorf("prometheus-k8s scraping /metrics: %d, want 200 (the metrics-reader binding)", code)
	}
	if code := scrapeAs(operatorToken); code != 403 {
		t.Errorf("the operator's own account scraping /metrics: %d, want 403", code)
	}
	if resp, err := http.Get("http://" + health + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("plain /healthz for the kubelet: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
