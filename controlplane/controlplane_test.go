package controlplane_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

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

// shared is one control plane, with kube-controller-manager and the audit
// log, for every test here that does not need its own; TestMain stops it.
var (
	sharedOnce sync.Once
	sharedCP   *controlplane.ControlPlane
	sharedErr  error
)

// auditUser's requests are counted by TestAuditEvents only.
const auditUser = "audited"

func shared(t *testing.T) *controlplane.ControlPlane {
	t.Helper()
	opts := controlplane.Options{
		ControllerManager: true,
		AuditLog:          true,
		Users: []controlplane.User{
			{Name: "viewer", Groups: []string{"viewers"}},
			{Name: auditUser, Groups: []string{"system:masters"}},
		},
	}
	sharedOnce.Do(func() {
		start := time.Now()
		if sharedCP, sharedErr = controlplane.Start(context.Background(), opts); sharedErr == nil {
			t.Logf("shared control plane with kube-controller-manager started in %v", time.Since(start).Round(time.Millisecond))
		}
	})
	if errors.Is(sharedErr, controlplane.ErrBinaryMissing) && controlplane.SkipMissing() {
		t.Skip("skipped: " + controlplane.EnvSkip + " is set and CI is not: " + sharedErr.Error())
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedCP
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedCP != nil {
		_ = sharedCP.Stop()
	}
	os.Exit(code)
}

// eventually polls f every 100 ms until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRealAPIServer runs first: it restarts the shared API server, so the
// kube-controller-manager tests after it also prove that it reconnects.
func TestRealAPIServer(t *testing.T) {
	cp := shared(t)
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
	// While it is down, etcd is compacted: a watch from the resource version
	// read before the restart then gets 410 Gone.
	list, err := dc.Resource(gvr).Namespace("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cp.StopAPIServer()
	rev, err := cp.CompactStorage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if old, _ := strconv.ParseInt(list.GetResourceVersion(), 10, 64); rev <= old {
		t.Fatalf("compacted to revision %d, not past the listed resource version %d", rev, old)
	}
	if err := cp.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := dc.Resource(gvr).Namespace("default").Get(ctx, "g1", metav1.GetOptions{})
	if err != nil || got.Object["status"].(map[string]any)["phase"] != "Ready" {
		t.Fatalf("after restart: %v %v", got, err)
	}
	w, err := dc.Resource(gvr).Namespace("default").Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
	if err == nil {
		select {
		case ev := <-w.ResultChan():
			err = apierrors.FromObject(ev.Object)
			if ev.Type != watch.Error {
				err = fmt.Errorf("first watch event %s, want an error", ev.Type)
			}
		case <-time.After(10 * time.Second):
			err = errors.New("no watch event within 10s")
		}
		w.Stop()
	}
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Errorf("watch from resource version %s after compaction: %v, want 410 Gone", list.GetResourceVersion(), err)
	}
}

func TestControllerManagerRunsDeploymentsAndGarbageCollection(t *testing.T) {
	t.Parallel()
	cp := shared(t)
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(cp.Config())
	ns := newNamespace(t, cs, "kcm")
	labels := map[string]string{"app": "web"}
	dep, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.invalid/web:1"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// The deployment controller creates a ReplicaSet owned by the Deployment,
	// and the ReplicaSet controller its two Pods.
	var rsName string
	eventually(t, 30*time.Second, "ReplicaSet owned by the Deployment", func() error {
		rss, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, rs := range rss.Items {
			if owner := metav1.GetControllerOf(&rs); owner != nil && owner.UID == dep.UID {
				rsName = rs.Name
				return nil
			}
		}
		return fmt.Errorf("%d ReplicaSets, none owned by %s", len(rss.Items), dep.UID)
	})
	eventually(t, 30*time.Second, "two Pods owned by the ReplicaSet", func() error {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		n := 0
		for _, p := range pods.Items {
			if owner := metav1.GetControllerOf(&p); owner != nil && owner.Name == rsName {
				n++
			}
		}
		if n != 2 {
			return fmt.Errorf("%d Pods owned by %s", n, rsName)
		}
		return nil
	})
	// No scheduler, no kubelet: nothing ever becomes ready.
	if d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil || d.Status.ReadyReplicas != 0 {
		t.Fatalf("ready replicas %v (%v), want 0: pods never run", d.Status.ReadyReplicas, err)
	}

	// The garbage collector deletes a dependent once its owner is gone.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "web-config",
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID,
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.AppsV1().Deployments(ns).Delete(ctx, dep.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "ConfigMap garbage-collected", func() error {
		_, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
	eventually(t, 30*time.Second, "ReplicaSet garbage-collected", func() error {
		_, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, rsName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
}

func TestControllerManagerFinalizesDeletedNamespace(t *testing.T) {
	t.Parallel()
	cp := shared(t)
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(cp.Config())
	ns := newNamespace(t, cs, "ns-delete")
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "content"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "namespace "+ns+" gone", func() error {
		got, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("phase %s", got.Status.Phase)
	})
}

// newNamespace creates a uniquely named namespace.
func newNamespace(t *testing.T, cs kubernetes.Interface, prefix string) string {
	t.Helper()
	ns, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func TestAuditEventsCountEachRequestOnce(t *testing.T) {
	t.Parallel()
	cp := shared(t)
	cfg, err := cp.UserConfig(auditUser)
	if err != nil {
		t.Fatal(err)
	}
	cfg.UserAgent = "audit-test/1"
	cs := kubernetes.NewForConfigOrDie(cfg)
	cms := cs.CoreV1().ConfigMaps("default")
	ctx := context.Background()
	type want struct {
		verb, resource, name string
		code                 int
	}
	requests := []struct {
		name string
		do   func() error
		want want
	}{
		{"create", func() error {
			_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "audited"}}, metav1.CreateOptions{})
			return err
		}, want{"create", "configmaps", "audited", 201}},
		{"get", func() error { _, err := cms.Get(ctx, "audited", metav1.GetOptions{}); return err }, want{"get", "configmaps", "audited", 200}},
		{"list", func() error { _, err := cms.List(ctx, metav1.ListOptions{}); return err }, want{"list", "configmaps", "", 200}},
		{"get missing", func() error {
			if _, err := cms.Get(ctx, "absent", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("got %v, want 404", err)
			}
			return nil
		}, want{"get", "configmaps", "absent", 404}},
		{"delete", func() error { return cms.Delete(ctx, "audited", metav1.DeleteOptions{}) }, want{"delete", "configmaps", "audited", 200}},
		{"non-resource", func() error { _, err := cs.Discovery().ServerVersion(); return err }, want{"get", "", "", 200}},
	}
	for _, r := range requests {
		if err := r.do(); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
	}
	events, err := cp.AuditEvents(auditUser)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != len(requests) {
		t.Fatalf("%d audit events for %d requests: %+v", len(events), len(requests), events)
	}
	for i, r := range requests {
		e := events[i]
		got := want{e.Verb, e.ObjectRef.Resource, e.ObjectRef.Name, e.Code}
		if got != r.want || e.User != auditUser || e.UserAgent != cfg.UserAgent || e.Stage != "ResponseComplete" || e.RequestReceivedTimestamp.IsZero() {
			t.Errorf("%s: event %+v, want %+v by %s", r.name, e, r.want, auditUser)
		}
		if r.want.resource != "" && e.ObjectRef.Namespace != "default" {
			t.Errorf("%s: namespace %q, want default", r.name, e.ObjectRef.Namespace)
		}
	}
	if uri := events[len(events)-1].RequestURI; uri != "/version" {
		t.Errorf("non-resource request URI %q, want /version", uri)
	}
	if !slices.IsSortedFunc(events, func(a, b controlplane.AuditEvent) int {
		return a.RequestReceivedTimestamp.Compare(b.RequestReceivedTimestamp)
	}) {
		t.Error("events not in request order")
	}
	all, err := cp.AuditEvents("")
	if err != nil || len(all) <= len(events) {
		t.Errorf("everyone's events: %d (%v), want more than %s's %d", len(all), err, auditUser, len(events))
	}
}

func TestAuditEventsNeedAuditLog(t *testing.T) {
	cp := controlplane.ControlPlane{}
	if _, err := cp.AuditEvents(auditUser); !errors.Is(err, controlplane.ErrAuditLogDisabled) {
		t.Fatalf("got %v, want ErrAuditLogDisabled", err)
	}
}

// recordingTB records what StartForTest reports. Fatal and Skip end the
// calling goroutine, as testing.T's do.
type recordingTB struct {
	testing.TB  // nil: calling anything else panics
	fatal, skip string
}

func (r *recordingTB) Helper()                   {}
func (r *recordingTB) Cleanup(func())            {}
func (r *recordingTB) Fatal(args ...any)         { r.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (r *recordingTB) Skip(args ...any)          { r.skip = fmt.Sprint(args...); runtime.Goexit() }
func (r *recordingTB) Fatalf(f string, a ...any) { r.Fatal(fmt.Sprintf(f, a...)) }
func (r *recordingTB) Skipf(f string, a ...any)  { r.Skip(fmt.Sprintf(f, a...)) }

func TestStartForTestWithoutBinaries(t *testing.T) {
	for _, tc := range []struct {
		name, skipEnv, ci string
		kcm               bool
		wantSkip          bool
		wantIn            []string
	}{
		{name: "fails by default", wantIn: []string{
			"etcd, kube-apiserver in", "make controlplane", controlplane.EnvSkip + "=1", "OPTEL_BIN_DIR",
			`go mod download -json github.com/optel-dev/optel/hack/$m@latest | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'`,
		}},
		{name: "opt-out skips", skipEnv: "1", wantSkip: true, wantIn: []string{controlplane.EnvSkip}},
		{name: "opt-out ignored under CI", skipEnv: "1", ci: "true", wantIn: []string{"make controlplane"}},
		{name: "names the controller manager", kcm: true, wantIn: []string{"etcd, kube-apiserver, kube-controller-manager in"}},
		{name: "opt-out false fails", skipEnv: "0", wantIn: []string{"make controlplane"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(controlplane.EnvSkip, tc.skipEnv)
			t.Setenv("CI", tc.ci)
			rec := &recordingTB{}
			done := make(chan *controlplane.ControlPlane)
			go func() {
				defer close(done)
				done <- controlplane.StartForTest(rec, controlplane.Options{BinDir: t.TempDir(), ControllerManager: tc.kcm})
			}()
			if cp := <-done; cp != nil {
				t.Fatal("StartForTest returned a control plane without binaries")
			}
			got := rec.fatal
			if tc.wantSkip {
				got = rec.skip
			}
			if got == "" || (rec.fatal != "") == tc.wantSkip {
				t.Fatalf("fatal %q, skip %q; want skip %v", rec.fatal, rec.skip, tc.wantSkip)
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(got, w) {
					t.Errorf("message lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestRequireBinaries(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"etcd", "kube-apiserver"} {
		if err := os.WriteFile(dir+"/"+n, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name        string
		opts        controlplane.Options
		wantMissing bool
	}{
		{"apiserver and etcd found", controlplane.Options{BinDir: dir}, false},
		{"controller manager missing", controlplane.Options{BinDir: dir, ControllerManager: true}, true},
		{"empty directory", controlplane.Options{BinDir: t.TempDir()}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := controlplane.RequireBinaries(tc.opts)
			if errors.Is(err, controlplane.ErrBinaryMissing) != tc.wantMissing {
				t.Fatalf("RequireBinaries: %v, want missing %v", err, tc.wantMissing)
			}
		})
	}
}
