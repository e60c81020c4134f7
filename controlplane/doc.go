// Package controlplane runs a real Kubernetes control plane (etcd,
// kube-apiserver and, optionally, kube-controller-manager) on loopback for
// tests and demos. It is optel's envtest: no downloads, no containers, the
// binaries are built from Go modules: `make controlplane` (part of `make
// tools`) in optel's repository, or the recipe in ErrBinaryMissing's message
// from any other module.
//
// What it is: a genuine API server with RBAC, TokenReview,
// SubjectAccessReview, CRDs with status subresources, watches and
// resourceVersion semantics, so tests exercise what a cluster does. Static
// token users are built in: Admin (system:masters) and Unprivileged (no
// grants); Options.Users adds more. With Options.ControllerManager,
// kube-controller-manager runs the garbagecollector, deployment, replicaset
// and namespace controllers: dependents of a deleted owner are
// garbage-collected, Deployments get ReplicaSets and Pod objects, and deleted
// namespaces are emptied and finalized. With Options.AuditLog, the API server
// logs every request once and AuditEvents returns them, so a test can compare
// an operator's own request count with the server's record.
//
// What it is not: a cluster. There is no scheduler and no kubelet, so Pods
// are never scheduled or run and a Deployment's ready replicas stay 0.
// Without Options.ControllerManager there are no controllers at all:
// Deployments get no ReplicaSets, owner references are not garbage-collected
// and deleted namespaces stay Terminating. The ServiceAccount admission
// plugin is disabled.
//
// Lifecycle: Start launches the processes on free ports with a fresh
// temporary directory and waits until each is ready (the API server's
// /readyz; kube-controller-manager's controllers logged as started); Stop
// ends them, clients first, and removes the directory (idempotent).
// StopAPIServer (graceful) or CrashAPIServer (SIGKILL) and StartAPIServer
// restart only the API server, keeping etcd's data, to test watch recovery;
// kube-controller-manager reconnects by itself. CompactStorage compacts
// etcd's history, so a watch from an older resource version gets 410 Gone.
//
// Tests: StartForTest wires this to testing.TB. A missing binary fails the
// test, with the build recipe, unless EnvSkip (OPTEL_SKIP_CONTROLPLANE=1)
// is set and CI is not true; then it skips. TestMain functions use
// RequireBinaries and SkipMissing for the same rule.
package controlplane
