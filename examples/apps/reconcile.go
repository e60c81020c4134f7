package main

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/optel-dev/optel/operator"
)

// controller converges each App's Deployment and Service. All reads come
// from the operator's caches and all writes go through its measured
// clients, so every API request is counted in optel.api.requests.
type controller struct {
	apps        *operator.Kind[*App]
	deployments *operator.Kind[*appsv1.Deployment]
	services    *operator.Kind[*corev1.Service]
	repairs     metric.Int64Counter
}

// register wires the App operator: a level-based reconcile that owns a
// Deployment and a Service, and a field handler that reports scaling.
func register(op *operator.Operator) (*controller, error) {
	repairs, err := op.Meter().Int64Counter("apps.drift.repairs",
		metric.WithDescription("Children of an App written back to its spec after someone else changed or deleted them, by kind."))
	if err != nil {
		return nil, err
	}
	c := &controller{
		apps:        operator.For[*App](op, appsResource),
		deployments: operator.ForBuiltin[*appsv1.Deployment](op),
		services:    operator.ForBuiltin[*corev1.Service](op),
		repairs:     repairs,
	}
	return c, errors.Join(
		c.apps.Reconcile("converge", c.converge),
		c.apps.Owns(c.deployments),
		c.apps.Owns(c.services),
		c.apps.OnField("spec.replicas", "report-scaling", c.reportScaling),
	)
}

func labelsFor(app *App) map[string]string {
	return map[string]string{"app.kubernetes.io/name": app.Name, "app.kubernetes.io/managed-by": "apps-operator"}
}

// converge makes the children match the App. A child written because the
// App's spec changed since the last successful converge
// (metadata.generation ahead of status.observedGeneration) is created or
// updated; a child written while the spec stood still had drifted, and is
// repaired.
func (c *controller) converge(ctx context.Context, ev *operator.TypedEvent[*App]) (operator.Result, error) {
	app := ev.Object
	key := operator.Key{Namespace: app.Namespace, Name: app.Name}
	specChanged := app.Status.ObservedGeneration != app.Generation
	labels := labelsFor(app)

	dep, depOp, err := c.deployments.CreateOrUpdate(ctx, key, func(d *appsv1.Deployment) error {
		if err := operator.Adopt(app, d); err != nil {
			return err
		}
		d.Labels = merge(d.Labels, labels)
		d.Spec.Replicas = &app.Spec.Replicas
		if d.Spec.Selector == nil { // immutable once set
			d.Spec.Selector = &metav1.LabelSelector{MatchLabels: labels}
		}
		d.Spec.Template.Labels = merge(d.Spec.Template.Labels, labels)
		ctr := container(&d.Spec.Template.Spec, "app")
		ctr.Image = app.Spec.Image
		ctr.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: app.Spec.Port, Protocol: corev1.ProtocolTCP}}
		return nil
	})
	if err != nil {
		return operator.Result{}, c.notReady(ctx, ev, "DeploymentFailed", err)
	}
	c.report(ev, "Deployment", key.Name, depOp, specChanged)

	_, svcOp, err := c.services.CreateOrUpdate(ctx, key, func(s *corev1.Service) error {
		if err := operator.Adopt(app, s); err != nil {
			return err
		}
		s.Labels = merge(s.Labels, labels)
		s.Spec.Selector = labels
		s.Spec.Ports = []corev1.ServicePort{{
			Name: "http", Port: app.Spec.Port, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP,
		}}
		return nil
	})
	if err != nil {
		return operator.Result{}, c.notReady(ctx, ev, "ServiceFailed", err)
	}
	c.report(ev, "Service", key.Name, svcOp, specChanged)

	rolledOut := dep.Status.ObservedGeneration >= dep.Generation && dep.Status.UpdatedReplicas == app.Spec.Replicas
	// The status describes the spec that was converged: app, the object
	// this run started from, not a fresher copy UpdateStatus may read.
	return operator.Result{}, ev.UpdateStatus(ctx, func(a *App) error {
		a.Status.ObservedGeneration = app.Generation
		a.Status.Replicas = dep.Status.Replicas
		a.Status.AvailableReplicas = dep.Status.AvailableReplicas
		if rolledOut {
			operator.SetCondition(&a.Status.Conditions, app, ConditionReady, operator.ConditionTrue, "RolledOut",
				fmt.Sprintf("Deployment %s has %d/%d replicas on the current template; %d available", dep.Name, dep.Status.UpdatedReplicas, app.Spec.Replicas, dep.Status.AvailableReplicas))
		} else {
			operator.SetCondition(&a.Status.Conditions, app, ConditionReady, operator.ConditionFalse, "Progressing",
				fmt.Sprintf("Deployment %s has %d/%d replicas on the current template", dep.Name, dep.Status.UpdatedReplicas, app.Spec.Replicas))
		}
		return nil
	})
}

// report posts an Event and counts repairs for a child that was written.
func (c *controller) report(ev *operator.TypedEvent[*App], kind, name string, op operator.OperationResult, specChanged bool) {
	switch {
	case op == operator.OperationNone:
	case specChanged && op == operator.OperationCreated:
		ev.Eventf(operator.EventNormal, ReasonCreated, "Created %s %s", kind, name)
	case specChanged:
		ev.Eventf(operator.EventNormal, ReasonUpdated, "Updated %s %s to the App's spec", kind, name)
	default:
		c.repairs.Add(context.Background(), 1, metric.WithAttributes(attribute.String("kind", kind)))
		ev.Eventf(operator.EventNormal, ReasonDriftRepaired, "%s %s was %s by someone else; %s it", kind, name,
			map[operator.OperationResult]string{operator.OperationCreated: "deleted", operator.OperationUpdated: "changed"}[op],
			map[operator.OperationResult]string{operator.OperationCreated: "recreated", operator.OperationUpdated: "reverted"}[op])
	}
}

// notReady records a failed converge in the Ready condition and returns the
// error, so the run is retried with backoff (and optel posts its
// HandlerFailed event).
func (c *controller) notReady(ctx context.Context, ev *operator.TypedEvent[*App], reason string, cause error) error {
	msg := cause.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	if err := ev.UpdateStatus(ctx, func(a *App) error {
		operator.SetCondition(&a.Status.Conditions, ev.Object, ConditionReady, operator.ConditionFalse, reason, msg)
		return nil
	}); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// reportScaling posts a Scaled event when spec.replicas changes.
func (c *controller) reportScaling(_ context.Context, ev *operator.TypedEvent[*App]) error {
	if ev.Cause == operator.CauseUpdate && ev.Old != nil {
		ev.Eventf(operator.EventNormal, ReasonScaled, "Scaled from %d to %d replicas", ev.Old.Spec.Replicas, ev.Object.Spec.Replicas)
	}
	return nil
}

// container returns the named container of a pod spec, adding it if
// missing, so other fields the API server defaulted stay as they are.
func container(spec *corev1.PodSpec, name string) *corev1.Container {
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	spec.Containers = append(spec.Containers, corev1.Container{Name: name})
	return &spec.Containers[len(spec.Containers)-1]
}

func merge(dst, src map[string]string) map[string]string {
	if dst == nil {
		dst = map[string]string{}
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}
