package main

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/optel-dev/optel/operator"
)

// App is the apps.example.com/v1 custom resource: a container image run as
// a Deployment and exposed by a Service. It is a plain Go struct with JSON
// tags; optel decodes it from the cache, so it needs no generated code.
type App struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AppSpec   `json:"spec"`
	Status            AppStatus `json:"status,omitempty"`
}

// AppSpec is what the user asks for.
type AppSpec struct {
	Image    string `json:"image"`
	Replicas int32  `json:"replicas"`
	Port     int32  `json:"port"`
}

// AppStatus is what the operator reports.
type AppStatus struct {
	// ObservedGeneration is the generation of the spec the children were
	// last converged to.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Replicas and AvailableReplicas are copied from the Deployment.
	Replicas          int32              `json:"replicas"`
	AvailableReplicas int32              `json:"availableReplicas"`
	Conditions        []metav1.Condition `json:"conditions,omitempty"`
}

var appsResource = operator.Resource{Group: "apps.example.com", Version: "v1", Resource: "apps"}

// ConditionReady is the App's readiness condition. It is True when the
// Deployment and Service match the spec and the deployment controller has
// rolled out the current template to every replica (observedGeneration and
// updatedReplicas). Availability, which needs a kubelet, is reported
// separately in status.availableReplicas.
const ConditionReady = "Ready"

// Event reasons the operator posts on Apps (besides optel's own
// HandlerFailed, HandlerFailedPermanently and HandlerRecovered).
const (
	ReasonCreated       = "Created"
	ReasonUpdated       = "Updated"
	ReasonDriftRepaired = "DriftRepaired"
	ReasonScaled        = "Scaled"
)
