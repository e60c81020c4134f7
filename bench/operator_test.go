package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/server"
	"github.com/optel-dev/optel/telemetry"
)

const gadgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.bench.optel.dev
spec:
  group: bench.optel.dev
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`

var (
	gadgets   = schema.GroupVersionResource{Group: "bench.optel.dev", Version: "v1", Resource: "gadgets"}
	gadgetGVK = schema.GroupVersionKind{Group: "bench.optel.dev", Version: "v1", Kind: "Gadget"}

	cpOnce sync.Once
	cp     *controlplane.ControlPlane
	cpErr  error
	nsSeq  atomic.Int32
)

func TestMain(m *testing.M) {
	if os.Getenv(driverEnv) != "" {
		os.Exit(runDriver())
	}
	if os.Getenv(operatorEnv) != "" {
		os.Exit(runOperatorChild())
	}
	code := m.Run()
	if cp != nil {
		_ = cp.Stop()
	}
	os.Exit(code)
}

// controlPlane starts the embedded kube-apiserver and etcd once, on first
// use, so benchmarks that do not need them (and the tests) do not wait.
func controlPlane(b *testing.B) *controlplane.ControlPlane {
	b.Helper()
	cpOnce.Do(func() {
		cp, cpErr = controlplane.Start(context.Background(), controlplane.Options{})
		if cpErr == nil {
			cpErr = controlplane.ApplyCRDs(context.Background(), cp.Config(), []byte(gadgetCRD))
		}
		ctrl.SetLogger(logr.Discard())
	})
	if errors.Is(cpErr, controlplane.ErrBinaryMissing) && controlplane.SkipMissing() {
		b.Skip("skipped because " + controlplane.EnvSkip + " is set and CI is not: " + cpErr.Error())
	}
	if cpErr != nil {
		b.Fatal(cpErr)
	}
	return cp
}

// The operator workload: n objects exist before the operator starts, so it
// lists them and handles each creation; then all n are updated and each
// update is handled. Handling a change means what both frameworks need to
// remember it: one PATCH storing the handled state in an annotation (optel's
// last-handled-configuration; the controller-runtime reconciler below does
// the same by hand, the usual idiom). A change counts as handled, on both
// sides alike, when that PATCH has returned successfully, as seen by one
// transport wrapper (apiCounter) around each variant's client, which also
// counts every API request the variant makes. 8 workers, client rate limits
// lifted. Each variant runs in a process of its own; the creates and the
// updates come from other processes and are not counted.
const opObjects = 1000

type variant struct {
	name string
	// run starts the operator; flush delivers what it has recorded (spans
	// still queued) and is called before its CPU is read; stop stops it.
	run func(ctx context.Context, cfg *rest.Config, ns string) (flush func(), stop func() error, err error)
}

var operatorVariants = []variant{
	{"optel-telemetry-on", optelRunner("prometheus,json", "none")},
	{"optel-telemetry-off", optelRunner("none", "none")},
	{"controller-runtime", controllerRuntimeRunner(false, false)},
	// The same reconciler with GenerationChangedPredicate, as careful
	// users configure it: like optel, it does not reconcile the echo of
	// its own annotation write (which does not bump the generation).
	{"controller-runtime-predicate", controllerRuntimeRunner(true, false)},
	// And with the patch built by hand (client.RawPatch), as optel builds
	// its own, instead of client.MergeFrom's copy, marshal and diff.
	{"controller-runtime-rawpatch", controllerRuntimeRunner(true, true)},
}

// tracingVariants compare optel with metrics on and traces off against the
// same with every handler run traced (always_on sampler) and exported over
// OTLP http/protobuf to a loopback receiver in this process that decodes
// nothing and answers success (its CPU is counted with the operator's,
// which overstates tracing's cost), and against the default json exporter
// (the in-memory view). Queued spans are flushed before the CPU is read.
// The workload's handlers make no API call, so each change is one handler
// span: child API spans are not part of this measurement.
var tracingVariants = []variant{
	{"optel-tracing-off", optelRunner("prometheus,json", "none")},
	{"optel-tracing-on", optelRunner("prometheus,json", "otlp")},
	{"optel-tracing-json", optelRunner("prometheus,json", "json")},
}

// The rotations advance once per sample (each -count), so with
// -benchtime=1x, where b.N is 1, successive samples still start with a
// different variant.
var (
	rotation        atomic.Int64
	tracingRotation atomic.Int64
)

// sample runs one sample: every variant of vs (those only keeps) once, in
// order(vs, k), k taken from rot. It returns the names in the order run
// called them, which the benchmarks log ("order <bench> <k>: a,b,c") for
// cmd/benchtable to check; TestOperatorOrderRotates checks that over the
// samples every two variants run in each order equally often.
func sample(vs []variant, rot *atomic.Int64, run func(variant)) (k int, names []string) {
	k = int(rot.Add(1) - 1)
	for _, v := range only(order(vs, k)) {
		names = append(names, v.name)
		run(v)
	}
	return k, names
}

// order is the k-th sample's order: the variants shifted by k/2, reversed
// in odd samples. A shift alone would keep each variant's neighbours (with
// four variants, the last would run before the first in three samples of
// four); with the reversal, every two variants run in each order exactly
// once in samples 2m and 2m+1.
func order(vs []variant, k int) []variant {
	out := rotated(vs, k/2)
	if k%2 == 1 {
		slices.Reverse(out)
	}
	return out
}

// only keeps the variants named in OPTEL_BENCH_VARIANTS (comma-separated),
// or all of them when it is unset: for profiling one variant alone. The
// ratio table needs them all.
func only(vs []variant) []variant {
	names := os.Getenv("OPTEL_BENCH_VARIANTS")
	if names == "" {
		return vs
	}
	var out []variant
	for _, v := range vs {
		if slices.Contains(strings.Split(names, ","), v.name) {
			out = append(out, v)
		}
	}
	return out
}

// rotated is the order of the k-th sample: the variants shifted by k.
func rotated(vs []variant, k int) []variant {
	out := make([]variant, 0, len(vs))
	for j := range vs {
		out = append(out, vs[(k+j)%len(vs)])
	}
	return out
}

// BenchmarkOperatorThroughput runs the workload with optel (self-telemetry
// on, and off) and with a controller-runtime v0.25 reconciler reading from
// its cache, on the same API server, rotating the order every sample so the
// server's drift favours none. Run it with -benchtime=1x -count=N: each
// sample reports changes per second, CPU per change and API calls per
// change for each variant.
func BenchmarkOperatorThroughput(b *testing.B) {
	cp := controlPlane(b)
	rates := make(map[string][]float64)
	cpu := make(map[string][]float64)
	calls := make(map[string][]float64)
	for range b.N {
		k, names := sample(operatorVariants, &rotation, func(v variant) {
			r := runWorkload(b, cp, v)
			rates[v.name] = append(rates[v.name], float64(2*opObjects)/r.wall.Seconds())
			cpu[v.name] = append(cpu[v.name], float64(r.cpu.Microseconds())/(2*opObjects))
			calls[v.name] = append(calls[v.name], float64(r.requests)/(2*opObjects))
		})
		b.Logf("order BenchmarkOperatorThroughput %d: %s", k, strings.Join(names, ","))
	}
	for _, v := range only(operatorVariants) {
		b.ReportMetric(medianOf(rates[v.name]), v.name+"-changes/s")
		b.ReportMetric(medianOf(cpu[v.name]), v.name+"-cpu-µs/change")
		b.ReportMetric(medianOf(calls[v.name]), v.name+"-api-calls/change")
	}
}

// BenchmarkOperatorTracing runs the workload with tracing off and on, in
// rotated order, as BenchmarkOperatorThroughput does: run it with
// -benchtime=1x -count=N for N pairs.
func BenchmarkOperatorTracing(b *testing.B) {
	cp := controlPlane(b)
	cpu := make(map[string][]float64)
	rates := make(map[string][]float64)
	for range b.N {
		k, names := sample(tracingVariants, &tracingRotation, func(v variant) {
			r := runWorkload(b, cp, v)
			rates[v.name] = append(rates[v.name], float64(2*opObjects)/r.wall.Seconds())
			cpu[v.name] = append(cpu[v.name], float64(r.cpu.Microseconds())/(2*opObjects))
		})
		b.Logf("order BenchmarkOperatorTracing %d: %s", k, strings.Join(names, ","))
	}
	for _, v := range only(tracingVariants) {
		b.ReportMetric(medianOf(rates[v.name]), v.name+"-changes/s")
		b.ReportMetric(medianOf(cpu[v.name]), v.name+"-cpu-µs/change")
	}
}

var (
	discardOnce    sync.Once
	discardURL     string
	discardedSpans atomic.Int64
)

// discardOTLP starts, once, a loopback OTLP/HTTP receiver that reads each
// request's body, counts the requests, and answers an empty success.
func discardOTLP() string {
	discardOnce.Do(func() {
		ok, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			discardedSpans.Add(1)
			w.Header().Set("Content-Type", "application/x-protobuf")
			_, _ = w.Write(ok)
		}))
		discardURL = srv.URL
	})
	return discardURL
}

// apiCounter counts a variant's API requests and its successful PATCHes of
// gadgets: the point where a change is handled, for both frameworks.
type apiCounter struct {
	next     http.RoundTripper
	requests atomic.Int64
	handled  atomic.Int64
}

func (a *apiCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := a.next.RoundTrip(req)
	a.requests.Add(1)
	if err == nil && req.Method == http.MethodPatch && resp.StatusCode < 300 && strings.Contains(req.URL.Path, "/gadgets/") {
		a.handled.Add(1)
	}
	return resp, err
}

// processCPU is the user plus system CPU time this process has used. The
// API server and etcd are other processes, and so are the parent that
// creates the objects and the driver that updates them, so in the operator
// process it is the operator's own cost, which drifts far less than wall
// time on a shared machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

type workloadResult struct {
	wall, cpu time.Duration
	requests  int64
}

// runWorkload runs one variant on a fresh namespace. The operator runs in
// a process of its own (this test binary run again, runOperatorChild), so
// that what it uses is measured alone: no garbage, goroutines, caches or
// connections of the variants before it share its heap or its CPU time.
// The parent creates the objects before the child starts and the driver
// process makes the updates, so neither is counted.
func runWorkload(b *testing.B, cp *controlplane.ControlPlane, v variant) workloadResult {
	b.StopTimer()
	defer b.StartTimer()
	ctx := context.Background()
	cfg := rest.CopyConfig(cp.Config())
	cfg.QPS, cfg.Burst = 1e6, 1e6
	ns := fmt.Sprintf("bench%d", nsSeq.Add(1))
	dc := dynamic.NewForConfigOrDie(cfg)
	if _, err := dc.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx,
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}},
		metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	ri := dc.Resource(gadgets).Namespace(ns)
	parallel(b, opObjects, func(i int) error {
		_, err := ri.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "bench.optel.dev/v1", "kind": "Gadget",
			"metadata": map[string]any{"name": fmt.Sprintf("g%d", i)},
			"spec":     map[string]any{"v": int64(0)},
		}}, metav1.CreateOptions{})
		return err
	})

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), operatorEnv+"="+v.name, driverKubeconfig+"="+kubeconfig(b, cp), driverNS+"="+ns)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	next := func(want string) string {
		for lines.Scan() {
			if after, ok := strings.CutPrefix(lines.Text(), want); ok {
				return after
			}
		}
		_ = cmd.Wait()
		b.Fatalf("%s: the operator process ended before %q: %s", v.name, want, stderr.String())
		return ""
	}
	next(childReady)
	// The updates come from another process, so their CPU is not counted
	// as the operator's.
	updateFromDriver(b, cp, ns)
	var res workloadResult
	var wall, cpu int64
	if _, err := fmt.Sscan(next(childResult), &wall, &cpu, &res.requests); err != nil {
		b.Fatalf("%s: unreadable result: %v", v.name, err)
	}
	res.wall, res.cpu = time.Duration(wall), time.Duration(cpu)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("%s: the operator process: %v\n%s", v.name, err, stderr.String())
	}
	// Leave etcd as it was, so later runs do not work on a bigger store.
	if err := ri.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		b.Fatal(err)
	}
	return res
}

// The operator process: this test binary run again with operatorEnv set to
// a variant's name (TestMain). It starts the variant on the namespace in
// driverNS through the kubeconfig in driverKubeconfig, prints childReady
// once the creations are handled, and childResult with its wall time, its
// CPU time (both from just before the operator starts) and its API calls
// once the updates are handled too, then stops the operator and exits.
const (
	operatorEnv = "OPTEL_BENCH_OPERATOR"
	profileEnv  = "OPTEL_BENCH_CPUPROFILE_DIR" // set by whoever profiles; make bench does not

	childReady  = "ready"
	childResult = "result "
)

func runOperatorChild() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "operator process:", err); return 1 }
	var v *variant
	for _, c := range slices.Concat(operatorVariants, tracingVariants) {
		if c.name == os.Getenv(operatorEnv) {
			v = &c
		}
	}
	if v == nil {
		return fail(fmt.Errorf("no variant %q", os.Getenv(operatorEnv)))
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv(driverKubeconfig))
	if err != nil {
		return fail(err)
	}
	cfg.QPS, cfg.Burst = 1e6, 1e6
	ctrl.SetLogger(logr.Discard())
	counter := &apiCounter{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter })
	ctx := context.Background()
	if dir := os.Getenv(profileEnv); dir != "" {
		// For profiling where a variant's CPU goes: one profile per
		// operator process, named after the variant and the namespace.
		f, err := os.Create(filepath.Join(dir, v.name+"-"+os.Getenv(driverNS)+".pprof"))
		if err != nil {
			return fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	goruntime.GC()
	start, startCPU := time.Now(), processCPU()
	flush, stop, err := v.run(ctx, cfg, os.Getenv(driverNS))
	if err != nil {
		return fail(err)
	}
	wait := func(want int64) error {
		deadline := time.Now().Add(5 * time.Minute)
		for counter.handled.Load() < want {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: handled %d of %d", v.name, counter.handled.Load(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return nil
	}
	if err := wait(opObjects); err != nil {
		return fail(err)
	}
	fmt.Println(childReady)
	if err := wait(2 * opObjects); err != nil {
		return fail(err)
	}
	flush()
	wall, cpu := time.Since(start), processCPU()-startCPU
	fmt.Printf("%s%d %d %d\n", childResult, wall.Nanoseconds(), cpu.Nanoseconds(), counter.requests.Load())
	if err := stop(); err != nil {
		return fail(err)
	}
	if v.name == "optel-tracing-on" && discardedSpans.Load() == 0 {
		return fail(errors.New("the loopback OTLP receiver got no spans: tracing was not exported"))
	}
	return 0
}

func optelRunner(exporters, traces string) func(context.Context, *rest.Config, string) (func(), func() error, error) {
	return func(ctx context.Context, cfg *rest.Config, ns string) (func(), func() error, error) {
		opts := []telemetry.Option{telemetry.WithExporters(exporters), telemetry.WithTracesExporters(traces),
			telemetry.WithEnvironment(func(string) (string, bool) { return "", false })}
		if traces == "otlp" {
			opts = append(opts, telemetry.WithSampler(sdktrace.AlwaysSample()),
				telemetry.WithExporterConfig(telemetry.ExporterOTLP, func(c *otlp.Config) {
					c.Protocol.Set(otlp.HTTPProtobuf)
					c.Endpoint.Set(discardOTLP())
				}))
		}
		tp, err := telemetry.New(ctx, opts...)
		if err != nil {
			return nil, nil, err
		}
		op, err := operator.New(cfg, operator.Options{
			Namespaces: []string{ns}, Telemetry: tp, Workers: 8,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Server: server.Options{BindAddress: "0", HealthProbeBindAddress: "0"},
		})
		if err != nil {
			return nil, nil, err
		}
		_ = op.OnCreate(gadgets, "create", func(context.Context, *operator.Event) error { return nil })
		_ = op.OnUpdate(gadgets, "update", func(context.Context, *operator.Event) error { return nil })
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- op.Run(runCtx) }()
		flush := func() { _ = tp.ForceFlush(ctx) }
		return flush, func() error {
			cancel()
			err := <-done
			return errors.Join(err, tp.Shutdown(ctx))
		}, nil
	}
}

const handledAnnotation = "bench.optel.dev/last-handled"

// controllerRuntimeRunner is the equivalent controller-runtime operator: a
// reconciler that compares the spec with the last handled one stored in an
// annotation and patches the annotation. Its client reads unstructured
// objects from the informer cache (client.CacheOptions{Unstructured: true}),
// as controller-runtime users configure it: without that, every Get is a
// live API call. Its metrics go to controller-runtime's global registry, as
// they always do; the metrics server is off, like optel's listeners here.
func controllerRuntimeRunner(generationPredicate, rawPatch bool) func(context.Context, *rest.Config, string) (func(), func() error, error) {
	return func(ctx context.Context, cfg *rest.Config, ns string) (func(), func() error, error) {
		return runControllerRuntime(ctx, cfg, ns, generationPredicate, rawPatch)
	}
}

func runControllerRuntime(ctx context.Context, cfg *rest.Config, ns string, generationPredicate, rawPatch bool) (func(), func() error, error) {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Client:                 client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		Scheme:                 runtime.NewScheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Logger:                 logr.Discard(),
	})
	if err != nil {
		return nil, nil, err
	}
	c := mgr.GetClient()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gadgetGVK)
	skip := true
	var forOpts []builder.ForOption
	if generationPredicate {
		forOpts = append(forOpts, builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	}
	err = ctrl.NewControllerManagedBy(mgr).Named("gadget").For(u, forOpts...).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8, SkipNameValidation: &skip}).
		Complete(reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
			obj := &unstructured.Unstructured{}
			obj.SetGroupVersionKind(gadgetGVK)
			if err := c.Get(ctx, req.NamespacedName, obj); err != nil {
				return reconcile.Result{}, client.IgnoreNotFound(err)
			}
			spec, err := json.Marshal(obj.Object["spec"])
			if err != nil {
				return reconcile.Result{}, err
			}
			if obj.GetAnnotations()[handledAnnotation] == string(spec) {
				return reconcile.Result{}, nil
			}
			if rawPatch {
				patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{handledAnnotation: string(spec)}}})
				if err != nil {
					return reconcile.Result{}, err
				}
				return reconcile.Result{}, c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
			}
			base := obj.DeepCopy()
			ann := obj.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann[handledAnnotation] = string(spec)
			obj.SetAnnotations(ann)
			return reconcile.Result{}, c.Patch(ctx, obj, client.MergeFrom(base))
		}))
	if err != nil {
		return nil, nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(runCtx) }()
	return func() {}, func() error { cancel(); return <-done }, nil
}

// The driver is this test binary run again with driverEnv set: it updates
// every gadget of the namespace in driverNS through the kubeconfig in
// driverKubeconfig, 16 at a time, and exits (TestMain).
const (
	driverEnv        = "OPTEL_BENCH_DRIVER"
	driverKubeconfig = "OPTEL_BENCH_DRIVER_KUBECONFIG"
	driverNS         = "OPTEL_BENCH_DRIVER_NAMESPACE"
)

var (
	kubeconfigOnce sync.Once
	kubeconfigErr  error
)

// kubeconfig writes, once, the control plane's admin kubeconfig for the
// operator and driver processes, and returns its path.
func kubeconfig(b *testing.B, cp *controlplane.ControlPlane) string {
	kc := filepath.Join(os.TempDir(), fmt.Sprintf("optel-bench-%d.kubeconfig", os.Getpid()))
	kubeconfigOnce.Do(func() { kubeconfigErr = cp.WriteKubeconfig(kc) })
	if kubeconfigErr != nil {
		b.Fatal(kubeconfigErr)
	}
	return kc
}

func updateFromDriver(b *testing.B, cp *controlplane.ControlPlane, ns string) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), driverEnv+"=1", driverKubeconfig+"="+kubeconfig(b, cp), driverNS+"="+ns)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("benchmark driver: %v\n%s", err, out)
	}
}

func runDriver() int {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv(driverKubeconfig))
	if err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		return 1
	}
	cfg.QPS, cfg.Burst = 1e6, 1e6
	ri := dynamic.NewForConfigOrDie(cfg).Resource(gadgets).Namespace(os.Getenv(driverNS))
	ctx := context.Background()
	var failed atomic.Int64
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= opObjects {
					return
				}
				obj, err := ri.Get(ctx, fmt.Sprintf("g%d", i), metav1.GetOptions{})
				if err == nil {
					_ = unstructured.SetNestedField(obj.Object, int64(1), "spec", "v")
					_, err = ri.Update(ctx, obj, metav1.UpdateOptions{})
				}
				if err != nil {
					failed.Add(1)
					fmt.Fprintln(os.Stderr, "driver:", err)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return 1
	}
	return 0
}

func parallel(b *testing.B, n int, fn func(i int) error) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	var next atomic.Int64
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// TestOperatorOrderRotates checks the orders the operator benchmarks run
// and log, by running sample as they do with a run that records the calls:
// the logged order is the order of the calls, and over every two
// consecutive samples each two variants run in each order once, so over
// the 10 samples make bench runs each side of a comparison runs first in 5.
func TestOperatorOrderRotates(t *testing.T) {
	t.Setenv("OPTEL_BENCH_VARIANTS", "")
	for _, tc := range []struct {
		name string
		vs   []variant
	}{{"throughput", operatorVariants}, {"tracing", tracingVariants}} {
		t.Run(tc.name, func(t *testing.T) {
			var rot atomic.Int64
			first := map[[2]string]int{} // {a, b}: samples where a ran before b
			const samples = 10
			for want := range samples {
				var ran []string
				k, recorded := sample(tc.vs, &rot, func(v variant) { ran = append(ran, v.name) })
				if k != want {
					t.Errorf("sample %d recorded as sample %d", want, k)
				}
				if !slices.Equal(recorded, ran) || len(ran) != len(tc.vs) {
					t.Fatalf("sample %d recorded order %v, but ran %v", k, recorded, ran)
				}
				for i := range ran {
					for j := i + 1; j < len(ran); j++ {
						first[[2]string{ran[i], ran[j]}]++
					}
				}
			}
			for i, a := range tc.vs {
				for _, b := range tc.vs[i+1:] {
					ab, ba := first[[2]string{a.name, b.name}], first[[2]string{b.name, a.name}]
					if ab != samples/2 || ba != samples/2 {
						t.Errorf("%s ran before %s in %d samples and after it in %d, want %d and %d", a.name, b.name, ab, ba, samples/2, samples/2)
					}
				}
			}
		})
	}
}
