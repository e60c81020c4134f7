package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/internal/testpeers"
)

// kustomizeBuild renders an overlay with bin/kustomize (built from
// sigs.k8s.io/kustomize/api by `make tools`).
func kustomizeBuild(t *testing.T, dir string) ([]byte, []*unstructured.Unstructured) {
	t.Helper()
	bin := filepath.Join(testpeers.BinDir(t), "kustomize")
	testpeers.Need(t, bin, "run `make tools` to build kustomize from Go modules")
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "build", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("kustomize build %s warned: %s", dir, stderr.String())
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if len(obj) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: obj})
		}
	}
	return out, objs
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	return nil
}

type container struct {
	Image string   `json:"image"`
	Args  []string `json:"args"`
	Env   []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"env"`
}

func operatorContainer(t *testing.T, objs []*unstructured.Unstructured) (replicas int64, c container) {
	t.Helper()
	d := find(objs, "Deployment", "widgets-operator")
	if d == nil {
		t.Fatal("no widgets-operator Deployment rendered")
	}
	switch v := d.Object["spec"].(map[string]any)["replicas"].(type) { // JSON numbers decode as float64
	case int64:
		replicas = v
	case float64:
		replicas = int64(v)
	}
	cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	b, _ := yaml.Marshal(cs[0])
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return replicas, c
}

// TestKustomizeOverlays renders both overlays, checks what each promises,
// applies the rendered objects to a real API server (which validates them),
// and runs the operator with the rendered Deployment's flags under the
// rendered ServiceAccount: insecure-local serves plain metrics and the
// status page to anyone; secure-production refuses an unauthenticated
// scrape over HTTPS.
func TestKustomizeOverlays(t *testing.T) {
	for _, tc := range []struct {
		overlay  string
		replicas int64
		image    string
		has      []string // args that must be present
		hasNot   []string
		kinds    []string // extra kinds rendered
		secure   bool
	}{
		{
			overlay: "insecure-local", replicas: 1, image: "ghcr.io/optel-dev/widgets-operator:dev",
			has: []string{"--telemetry-exporters=prometheus,json"}, hasNot: []string{"--metrics-secure", "--leader-elect"},
		},
		{
			overlay: "secure-production", replicas: 2, image: "ghcr.io/optel-dev/widgets-operator:v0.1.0",
			has:   []string{"--metrics-secure", "--leader-elect", "--telemetry-exporters=prometheus,json,otlp"},
			kinds: []string{"PodDisruptionBudget", "ServiceMonitor", "PrometheusRule"}, secure: true,
		},
	} {
		t.Run(tc.overlay, func(t *testing.T) {
			_, objs := kustomizeBuild(t, filepath.Join("overlays", tc.overlay))
			replicas, c := operatorContainer(t, objs)
			if replicas != tc.replicas {
				t.Errorf("replicas %d, want %d", replicas, tc.replicas)
			}
			if c.Image != tc.image {
				t.Errorf("image %s, want %s", c.Image, tc.image)
			}
			for _, a := range tc.has {
				if !slices.Contains(c.Args, a) {
					t.Errorf("args %v lack %s", c.Args, a)
				}
			}
			for _, a := range tc.hasNot {
				for _, got := range c.Args {
					if strings.HasPrefix(got, a) {
						t.Errorf("args %v must not have %s", c.Args, a)
					}
				}
			}
			for _, k := range tc.kinds {
				if find(objs, k, "") == nil {
					t.Errorf("no %s rendered", k)
				}
			}

			// Apply what a plain cluster knows (the kube-prometheus kinds
			// need that stack's CRDs), then run the operator as deployed.
			cp := controlplane.StartForTest(t, controlplane.Options{})
			var core bytes.Buffer
			for _, o := range objs {
				if o.GroupVersionKind().Group == "monitoring.coreos.com" {
					continue
				}
				b, _ := yaml.Marshal(o.Object)
				core.WriteString("---\n")
				core.Write(b)
			}
			testpeers.ApplyYAML(t, cp.Config(), tc.overlay, core.Bytes())
			tok := testpeers.ServiceAccountToken(t, cp.Config(), "widgets-system", "widgets-operator")
			kc := filepath.Join(t.TempDir(), "kubeconfig")
			if err := cp.WriteKubeconfigWithToken(kc, tok); err != nil {
				t.Fatal(err)
			}
			var args []string
			for _, a := range c.Args { // listen on free ports instead of the pod's
				if !strings.HasPrefix(a, "--metrics-bind-address") && !strings.HasPrefix(a, "--health-probe-bind-address") {
					args = append(args, a)
				}
			}
			args = append(args, "--health-probe-bind-address="+testpeers.FreeAddr(t))
			env := []string{"KUBECONFIG=" + kc}
			for _, e := range c.Env {
				if e.Value != "" {
					env = append(env, e.Name+"="+strings.Replace(e.Value, "otel-collector.monitoring.svc", "127.0.0.1", 1))
				}
			}
			addr, out := startWidgets(t, env, args...)
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			defer client.CloseIdleConnections()
			scheme := "http"
			if tc.secure {
				scheme = "https"
			}
			testpeers.Eventually(t, 60*time.Second, func() string {
				for path, want := range map[string]int{"/metrics": 200, "/": 200} {
					if tc.secure {
						want = 401
					}
					resp, err := client.Get(scheme + "://" + addr + path)
					if err != nil {
						return err.Error() + "\n" + out.String()
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != want {
						return path + ": " + resp.Status + ", want " + http.StatusText(want)
					}
					if path == "/" && !tc.secure && !strings.Contains(string(body), "<title>") {
						return "the status page is not served at /"
					}
				}
				return ""
			})
		})
	}
}
