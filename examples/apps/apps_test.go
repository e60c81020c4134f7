package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/internal/testpeers"
	"github.com/optel-dev/optel/operator"
)

var binary string

func TestMain(m *testing.M) {
	bin, cleanup, err := testpeers.BuildBinary("apps")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// operatorUser is the manifests' ServiceAccount as the API server names it.
const operatorUser = "system:serviceaccount:apps-system:apps-operator"

// apps reads and writes Apps as the test's admin, in plain JSON, with the
// example's own App type.
type appClient struct {
	t  *testing.T
	rc rest.Interface
	ns string
}

func (a appClient) path(name string) string {
	p := "/apis/apps.example.com/v1/namespaces/" + a.ns + "/apps"
	if name != "" {
		p += "/" + name
	}
	return p
}

func (a appClient) create(name string, spec AppSpec) *App {
	a.t.Helper()
	body, _ := json.Marshal(App{TypeMeta: metav1.TypeMeta{APIVersion: "apps.example.com/v1", Kind: "App"}, ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec})
	raw, err := a.rc.Post().AbsPath(a.path("")).Body(body).SetHeader("Content-Type", "application/json").DoRaw(context.Background())
	if err != nil {
		a.t.Fatalf("create App %s: %v: %s", name, err, raw)
	}
	var out App
	if err := json.Unmarshal(raw, &out); err != nil {
		a.t.Fatal(err)
	}
	return &out
}

func (a appClient) get(name string) (*App, error) {
	raw, err := a.rc.Get().AbsPath(a.path(name)).DoRaw(context.Background())
	if err != nil {
		return nil, err
	}
	var out App
	return &out, json.Unmarshal(raw, &out)
}

func (a appClient) patchSpec(name string, spec map[string]any) {
	a.t.Helper()
	body, _ := json.Marshal(map[string]any{"spec": spec})
	if raw, err := a.rc.Patch(types.MergePatchType).AbsPath(a.path(name)).Body(body).DoRaw(context.Background()); err != nil {
		a.t.Fatalf("patch App %s: %v: %s", name, err, raw)
	}
}

func (a appClient) delete(name string) {
	a.t.Helper()
	if raw, err := a.rc.Delete().AbsPath(a.path(name)).DoRaw(context.Background()); err != nil {
		a.t.Fatalf("delete App %s: %v: %s", name, err, raw)
	}
}

// startOperator runs the binary with kubeconfig kc and returns its metrics
// address and a stop function that sends SIGTERM and requires exit 0.
func startOperator(t *testing.T, kc string, args ...string) (string, *testpeers.SyncBuffer, func()) {
	t.Helper()
	addr := testpeers.FreeAddr(t)
	out := &testpeers.SyncBuffer{}
	cmd := exec.Command(binary, append([]string{"--metrics-bind-address=" + addr}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("apps operator did not exit cleanly: %v\n%s", err, out)
			}
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("apps operator ignored SIGTERM\n%s", out)
		}
	}
	t.Cleanup(stop)
	return addr, out, stop
}

// apiRequests sums optel_api_requests_total from the operator's /metrics,
// by verb.
func apiRequests(t *testing.T, addr string) (int, map[string]int) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	total, byVerb := 0, map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "optel_api_requests_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		verb := line[strings.Index(line, `verb="`)+6:]
		verb = verb[:strings.IndexByte(verb, '"')]
		total += int(v)
		byVerb[strings.ToLower(verb)] += int(v)
	}
	return total, byVerb
}

// TestAppOperatorOnRealControlPlane runs the example binary on a real
// kube-apiserver with kube-controller-manager (garbage collector,
// deployment and ReplicaSet controllers), under the RBAC of deploy/ and the
// ServiceAccount's own token, with the API server's audit log on.
func TestAppOperatorOnRealControlPlane(t *testing.T) {
	cp := controlplane.StartForTest(t, controlplane.Options{ControllerManager: true, AuditLog: true})
	ctx := context.Background()
	cfg := cp.Config()
	cs := kubernetes.NewForConfigOrDie(cfg)
	if err := controlplane.ApplyCRDs(ctx, cfg, crdYAML); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"deployment.yaml", "rbac.yaml"} {
		testpeers.ApplyFile(t, cfg, filepath.Join("deploy", f))
	}
	const ns = "shop"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "operator.kubeconfig")
	if err := cp.WriteKubeconfigWithToken(kc, testpeers.ServiceAccountToken(t, cfg, "apps-system", "apps-operator")); err != nil {
		t.Fatal(err)
	}
	addr, out, stop := startOperator(t, kc, "--namespace="+ns)
	apps := appClient{t: t, rc: cs.CoreV1().RESTClient(), ns: ns}
	deployments, services := cs.AppsV1().Deployments(ns), cs.CoreV1().Services(ns)
	eventually := func(what string, within time.Duration, cond func() string) {
		t.Helper()
		testpeers.Eventually(t, within, func() string {
			if why := cond(); why != "" {
				return what + ": " + why + "\noperator log:\n" + tail(out.String())
			}
			return ""
		})
	}

	app := apps.create("web", AppSpec{Image: "nginx:1.27", Replicas: 2, Port: 8080})

	// Creation: a Deployment and a Service controlled by the App.
	var dep *appsv1.Deployment
	eventually("children created", 30*time.Second, func() string {
		d, err := deployments.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		s, err := services.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		for _, o := range []metav1.Object{d, s} {
			ref := metav1.GetControllerOf(o)
			if ref == nil || ref.UID != app.UID || ref.Kind != "App" || ref.APIVersion != "apps.example.com/v1" {
				return fmt.Sprintf("%s controller owner = %+v, want the App %s", o.GetName(), ref, app.UID)
			}
		}
		if *d.Spec.Replicas != 2 || d.Spec.Template.Spec.Containers[0].Image != "nginx:1.27" {
			return fmt.Sprintf("deployment spec %+v", d.Spec)
		}
		if s.Spec.Ports[0].Port != 8080 {
			return fmt.Sprintf("service ports %+v", s.Spec.Ports)
		}
		dep = d
		return ""
	})

	// Ready carries observedGeneration once the deployment controller has
	// rolled out (Pods are created; with no kubelet none becomes available).
	eventually("Ready condition", 30*time.Second, func() string {
		a, err := apps.get("web")
		if err != nil {
			return err.Error()
		}
		c := operator.FindCondition(a.Status.Conditions, ConditionReady)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != a.Generation {
			return fmt.Sprintf("Ready = %+v at generation %d", c, a.Generation)
		}
		return ""
	})

	// Liveness and readiness pass for an operator whose children are only
	// watched (they have no queue).
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}

	// Watching never writes to the children: no optel annotation, no
	// finalizer, and the generation stays put while the operator keeps
	// reconciling (the deployment controller's status writes wake it).
	// The audit log says the same: since creating them, the operator has
	// not written to a Deployment or Service at all.
	time.Sleep(2 * time.Second)
	evs, err := cp.AuditEvents(operatorUser)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if (e.ObjectRef.Resource == "deployments" || e.ObjectRef.Resource == "services") && e.Verb != "get" && e.Verb != "list" && e.Verb != "watch" && e.Verb != "create" {
			t.Errorf("the operator wrote to a child it only needed to watch: %s %s", e.Verb, e.RequestURI)
		}
	}
	d, _ := deployments.Get(ctx, "web", metav1.GetOptions{})
	s, _ := services.Get(ctx, "web", metav1.GetOptions{})
	rsList, _ := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	objs := []metav1.Object{d, s}
	for i := range rsList.Items {
		objs = append(objs, &rsList.Items[i])
	}
	if len(rsList.Items) == 0 {
		t.Error("no ReplicaSet: the deployment controller did not run")
	}
	for _, o := range objs {
		for k := range o.GetAnnotations() {
			if strings.HasPrefix(k, "optel.dev/") {
				t.Errorf("%s carries optel annotation %s", o.GetName(), k)
			}
		}
		if len(o.GetFinalizers()) > 0 {
			t.Errorf("%s has finalizers %v", o.GetName(), o.GetFinalizers())
		}
	}
	if d.Generation != dep.Generation || d.Generation != 1 {
		t.Errorf("Deployment generation %d (first seen %d), want 1: something wrote its spec", d.Generation, dep.Generation)
	}

	// Scaling.
	apps.patchSpec("web", map[string]any{"replicas": 3})
	eventually("scaled", 10*time.Second, func() string {
		d, err := deployments.Get(ctx, "web", metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 3 {
			return fmt.Sprintf("replicas %v %v", d.Spec.Replicas, err)
		}
		return ""
	})
	eventually("Ready observes the scaled generation", 30*time.Second, func() string {
		a, err := apps.get("web")
		if err != nil {
			return err.Error()
		}
		c := operator.FindCondition(a.Status.Conditions, ConditionReady)
		if a.Generation != 2 || c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != 2 || a.Status.ObservedGeneration != 2 {
			return fmt.Sprintf("generation %d, status.observedGeneration %d, Ready %+v", a.Generation, a.Status.ObservedGeneration, c)
		}
		return ""
	})

	// Drift: a deleted Deployment comes back, and a hand-edited replica
	// count is reverted, each within 5 s.
	uid := d.UID
	start := time.Now()
	if err := deployments.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("deleted Deployment recreated", 5*time.Second, func() string {
		d, err := deployments.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if d.UID == uid {
			return "still the old Deployment"
		}
		return ""
	})
	t.Logf("deleted Deployment recreated in %s", time.Since(start).Round(time.Millisecond))
	eventually("recreated Deployment is current", 10*time.Second, func() string {
		d, err := deployments.Get(ctx, "web", metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 3 {
			return fmt.Sprint(err)
		}
		return ""
	})
	start = time.Now()
	if _, err := deployments.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":7}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("hand-edited replicas reverted", 5*time.Second, func() string {
		d, err := deployments.Get(ctx, "web", metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 3 {
			return fmt.Sprintf("replicas %v %v", d.Spec.Replicas, err)
		}
		return ""
	})
	t.Logf("hand-edited replicas reverted in %s", time.Since(start).Round(time.Millisecond))

	// A forced handler failure: a port the API server rejects for a
	// Service. optel posts HandlerFailed, then HandlerRecovered once fixed.
	apps.create("broken", AppSpec{Image: "nginx:1.27", Replicas: 1, Port: 70000})
	eventually("HandlerFailed event", 30*time.Second, func() string { return wantEvent(t, cs, ns, "broken", corev1.EventTypeWarning, "HandlerFailed") })
	apps.patchSpec("broken", map[string]any{"port": 8081})
	eventually("HandlerRecovered event", 60*time.Second, func() string { return wantEvent(t, cs, ns, "broken", corev1.EventTypeNormal, "HandlerRecovered") })
	for _, reason := range []string{ReasonCreated, ReasonDriftRepaired, ReasonScaled} {
		if why := wantEvent(t, cs, ns, "web", corev1.EventTypeNormal, reason); why != "" {
			t.Error(why)
		}
	}
	// Normal operation (scaling, drift repair against a busy deployment
	// controller) fails no handler run.
	if why := wantEvent(t, cs, ns, "web", corev1.EventTypeWarning, "HandlerFailed"); why == "" {
		t.Error("App web got a HandlerFailed event in normal operation")
	}
	dNow, err := deployments.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sNow, err := services.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []metav1.Object{dNow, sNow} {
		for k := range o.GetAnnotations() {
			if strings.HasPrefix(k, "optel.dev/") {
				t.Errorf("after repairs, %s carries optel annotation %s", o.GetName(), k)
			}
		}
	}

	// Deleting the App removes the children through the real garbage
	// collector (the operator has no delete rights on them).
	apps.delete("web")
	eventually("children garbage-collected", 60*time.Second, func() string {
		_, derr := deployments.Get(ctx, "web", metav1.GetOptions{})
		_, serr := services.Get(ctx, "web", metav1.GetOptions{})
		if !apierrors.IsNotFound(derr) || !apierrors.IsNotFound(serr) {
			return fmt.Sprintf("deployment: %v, service: %v", derr, serr)
		}
		return ""
	})

	// Every API request the operator made is counted: its own
	// optel.api.requests equals the API server's audit record of its user.
	// Wait until the operator is quiet (two equal counts), stop it (its
	// watches end and are logged), then compare.
	var counted int
	var byVerb map[string]int
	eventually("operator quiet", 30*time.Second, func() string {
		a, _ := apiRequests(t, addr)
		time.Sleep(time.Second)
		b, verbs := apiRequests(t, addr)
		counted, byVerb = b, verbs
		if a != b {
			return fmt.Sprintf("still making requests (%d then %d)", a, b)
		}
		return ""
	})
	stop()
	var audited []controlplane.AuditEvent
	eventually("audit log complete", 10*time.Second, func() string {
		evs, err := cp.AuditEvents(operatorUser)
		if err != nil {
			return err.Error()
		}
		audited = evs
		if len(evs) < counted {
			return fmt.Sprintf("%d audited, %d counted", len(evs), counted)
		}
		return ""
	})
	auditVerbs := map[string]int{}
	for _, e := range audited {
		auditVerbs[httpVerb(e.Verb)]++
		if e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden {
			t.Errorf("the operator was refused under its RBAC: %d %s %s", e.Code, e.Verb, e.RequestURI)
		}
	}
	if len(audited) != counted || !maps.Equal(auditVerbs, byVerb) {
		t.Errorf("optel.api.requests counted %d requests (%v); the audit log has %d for %s (%v)", counted, byVerb, len(audited), operatorUser, auditVerbs)
	} else {
		t.Logf("optel.api.requests = audit log = %d requests %v", counted, byVerb)
	}

	// Run as deployed: the Deployment's flags (leader election in
	// apps-system, --metrics-secure) under the same RBAC.
	health := testpeers.FreeAddr(t)
	addr2, out2, _ := startOperator(t, kc, "--namespace="+ns, "--leader-elect", "--leader-election-namespace=apps-system", "--metrics-secure", "--health-probe-bind-address="+health)
	apps.create("web2", AppSpec{Image: "nginx:1.27", Replicas: 1, Port: 8080})
	testpeers.Eventually(t, 60*time.Second, func() string {
		if _, err := deployments.Get(ctx, "web2", metav1.GetOptions{}); err != nil {
			return "not converged with the deployment's flags: " + err.Error() + "\n" + tail(out2.String())
		}
		return ""
	})
	if lease, err := cs.CoordinationV1().Leases("apps-system").Get(ctx, "apps-operator", metav1.GetOptions{}); err != nil || lease.Spec.HolderIdentity == nil {
		t.Errorf("leader-election Lease: %v %v", lease, err)
	}
	if resp, err := http.Get("http://" + health + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("plain /healthz with --metrics-secure: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer tlsClient.CloseIdleConnections()
	for _, tc := range []struct {
		token string
		want  int
	}{{"", 401}, {testpeers.ServiceAccountToken(t, cfg, "apps-system", "apps-operator"), 403}} {
		req, _ := http.NewRequest("GET", "https://"+addr2+"/metrics", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := tlsClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// 403 for the operator's own account proves its TokenReview and
		// SubjectAccessReview rights (a missing right would be a 503).
		if resp.StatusCode != tc.want {
			t.Errorf("secure /metrics with token %v: %d, want %d", tc.token != "", resp.StatusCode, tc.want)
		}
	}
}

// httpVerb maps an audit verb to the HTTP method the client sent.
func httpVerb(v string) string {
	switch v {
	case "get", "list", "watch":
		return "get"
	case "create":
		return "post"
	case "update":
		return "put"
	case "deletecollection":
		return "delete"
	}
	return v
}

func wantEvent(t *testing.T, cs kubernetes.Interface, ns, app, typ, reason string) string {
	t.Helper()
	evs, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.kind=App,involvedObject.name=" + app})
	if err != nil {
		return err.Error()
	}
	var seen []string
	for _, e := range evs.Items {
		if e.Type == typ && e.Reason == reason {
			return ""
		}
		seen = append(seen, e.Type+"/"+e.Reason)
	}
	sort.Strings(seen)
	return fmt.Sprintf("no %s %s event on App %s; events: %v", typ, reason, app, seen)
}

func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}

// TestEmbeddedDemo runs the binary without KUBECONFIG, as `make
// demo-apps` does: it starts its own control plane with the controller
// manager and converges the demo App.
func TestEmbeddedDemo(t *testing.T) {
	if err := controlplane.RequireBinaries(controlplane.Options{ControllerManager: true}); err != nil {
		if controlplane.SkipMissing() {
			t.Skip("skipped: " + controlplane.EnvSkip + " is set and CI is not: " + err.Error())
		}
		t.Fatal(err)
	}
	addr := testpeers.FreeAddr(t)
	out := &testpeers.SyncBuffer{}
	cmd := exec.Command(binary, "--metrics-bind-address="+addr)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("exit: %v\n%s", err, out)
		}
	}()
	testpeers.Eventually(t, 90*time.Second, func() string {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), `optel_handler_invocations_total{cause="reconcile",handler="converge",outcome="success",resource="apps.apps.example.com"}`) {
			return "no successful converge yet\n" + tail(out.String())
		}
		return ""
	})
}
