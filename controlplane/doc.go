// Package controlplane runs a real Kubernetes control plane (etcd and
// kube-apiserver) on loopback for tests and demos. It is optel's envtest: no
// downloads, no containers, the binaries are built from Go modules by
// `make tools` into bin/.
//
// What it is: a genuine API server with RBAC, TokenReview,
// SubjectAccessReview, CRDs with status subresources, watches and
// resourceVersion semantics, so tests exercise what a cluster does. Static
// token users are built in: Admin (system:masters) and Unprivileged (no
// grants); Options.Users adds more.
//
// What it is not: a cluster. There is no scheduler, controller manager or
// kubelet, so Pods never run, Deployments never roll out, garbage collection
// of owner references does not happen, and namespaces are never finalized
// after deletion. The ServiceAccount admission plugin is disabled.
//
// Lifecycle: Start launches both processes on free ports with a fresh
// temporary directory and waits for /readyz; Stop ends them and removes the
// directory (idempotent). StopAPIServer/StartAPIServer restart only the API
// server, keeping etcd's data, to test watch recovery. StartForTest wires
// this to testing.TB, failing under CI=true when the binaries are missing.
package controlplane
