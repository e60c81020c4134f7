package operator

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition statuses.
const (
	ConditionTrue    = metav1.ConditionTrue
	ConditionFalse   = metav1.ConditionFalse
	ConditionUnknown = metav1.ConditionUnknown
)

// SetCondition sets the condition of type typ in conditions, stamping
// observedGeneration with obj's metadata.generation so readers can tell a
// condition about the current spec from a stale one. lastTransitionTime
// changes only when the status does, so calling it on every reconcile with
// the same values changes nothing (and UpdateStatus then writes nothing).
// It reports whether conditions changed.
func SetCondition(conditions *[]metav1.Condition, obj Object, typ string, status metav1.ConditionStatus, reason, message string) bool {
	return meta.SetStatusCondition(conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message,
		ObservedGeneration: obj.GetGeneration(),
	})
}

// FindCondition returns the condition of type typ, or nil.
func FindCondition(conditions []metav1.Condition, typ string) *metav1.Condition {
	return meta.FindStatusCondition(conditions, typ)
}
