package operator_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/probes"
)

// A complete operator: handlers, a timer, a probe. (Compiled, not run: it
// needs a cluster; see examples/widgets for a runnable one.)
func Example() {
	widgets := operator.Resource{Group: "example.com", Version: "v1", Resource: "widgets"}
	var cfg *rest.Config // from Options.RESTConfig()
	op, err := operator.New(cfg, operator.Options{Name: "widgets-operator"})
	if err != nil {
		panic(err)
	}
	_ = op.OnCreate(widgets, "provision", func(ctx context.Context, ev *operator.Event) error {
		created, _ := operator.Meter(ctx).Int64Counter("widgets.created")
		created.Add(ctx, 1)
		return ev.PatchStatus(ctx, map[string]any{"phase": "Provisioned"})
	})
	_ = op.OnUpdate(widgets, "resize", func(ctx context.Context, ev *operator.Event) error {
		if !ev.Diff.Changed("spec.size") {
			return nil
		}
		if ready := false; !ready {
			return operator.Temporary(errors.New("backend busy"), 10*time.Second)
		}
		return nil
	})
	_ = op.Timer(widgets, "health", time.Minute, func(ctx context.Context, ev *operator.Event) error {
		operator.Logger(ctx).Info("checking", "widget", ev.Object.GetName())
		return nil
	}, operator.WithIdle(5*time.Minute))
	_ = op.Probe("backend", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) { return "ok", nil }))
	_ = op.Run(context.Background())
}

// Diff describes what an update changed.
func ExampleDiff_Changed() {
	d := operator.Diff{{Op: operator.DiffChange, Path: []string{"spec", "size"}, Old: 1.0, New: 3.0}}
	fmt.Println(d.Changed("spec.size"), d.Changed("spec"), d.Changed("spec.color"), d[0])
	// Output: true true false change spec.size: 1 -> 3
}

// Handler errors decide retries, as in kopf.
func ExampleTemporary() {
	err := operator.Temporary(errors.New("quota exceeded"), 30*time.Second)
	var te *operator.TemporaryError
	fmt.Println(errors.As(err, &te), te.Delay)
	fmt.Println(operator.Permanent(errors.New("spec.size must be positive")))
	// Output:
	// true 30s
	// permanent error: spec.size must be positive
}

// Shop is a user's own custom resource: a struct with JSON tags, no
// generated code.
type Shop struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Replicas int32 `json:"replicas"`
	} `json:"spec"`
	Status struct {
		Conditions []metav1.Condition `json:"conditions,omitempty"`
	} `json:"status,omitempty"`
}

// A typed operator that owns Deployments: reconcile reads from caches and
// writes only what differs. (Compiled, not run; see examples/apps.)
func ExampleFor() {
	var cfg *rest.Config
	op, _ := operator.New(cfg, operator.Options{Name: "shops"})
	shops := operator.For[*Shop](op, operator.Resource{Group: "example.com", Version: "v1", Resource: "shops"})
	deployments := operator.ForBuiltin[*appsv1.Deployment](op)
	_ = shops.Owns(deployments)
	_ = shops.Reconcile("converge", func(ctx context.Context, ev *operator.TypedEvent[*Shop]) (operator.Result, error) {
		shop := ev.Object
		_, res, err := deployments.CreateOrUpdate(ctx, ev.Key(), func(d *appsv1.Deployment) error {
			d.Spec.Replicas = &shop.Spec.Replicas
			return operator.Adopt(shop, d)
		})
		if err != nil {
			return operator.Result{}, err
		}
		if res == operator.OperationCreated {
			ev.Eventf(operator.EventNormal, "Created", "Created Deployment %s", shop.Name)
		}
		return operator.Result{}, ev.UpdateStatus(ctx, func(s *Shop) error {
			operator.SetCondition(&s.Status.Conditions, s, "Ready", operator.ConditionTrue, "Reconciled", "children match the spec")
			return nil
		})
	})
	_ = op.Run(context.Background())
}

// Adopt makes an object the controller owner of another.
func ExampleAdopt() {
	shop := &Shop{
		TypeMeta:   metav1.TypeMeta{APIVersion: "example.com/v1", Kind: "Shop"},
		ObjectMeta: metav1.ObjectMeta{Name: "corner", Namespace: "town", UID: "1234"},
	}
	d := &appsv1.Deployment{}
	if err := operator.Adopt(shop, d); err != nil {
		panic(err)
	}
	ref := d.OwnerReferences[0]
	fmt.Println(d.Namespace, d.Name, ref.Kind, ref.Name, *ref.Controller)
	other := &Shop{TypeMeta: shop.TypeMeta, ObjectMeta: metav1.ObjectMeta{Name: "mall", Namespace: "town", UID: "5678"}}
	fmt.Println(errors.Is(operator.Adopt(other, d), operator.ErrAlreadyOwned))
	// Output:
	// town corner Shop corner true
	// true
}

// SetCondition stamps observedGeneration from the object.
func ExampleSetCondition() {
	shop := &Shop{ObjectMeta: metav1.ObjectMeta{Generation: 4}}
	operator.SetCondition(&shop.Status.Conditions, shop, "Ready", operator.ConditionFalse, "Progressing", "2/3 replicas")
	c := operator.FindCondition(shop.Status.Conditions, "Ready")
	fmt.Println(c.Status, c.Reason, c.ObservedGeneration)
	// Output: False Progressing 4
}
