// Package operatortest is a harness for testing an optel operator's handlers
// against a real API server, and for asserting on the telemetry they record.
//
// New starts (or reuses) an embedded control plane (see package
// controlplane), applies CRDs, creates a fresh namespace, and builds an
// operator that watches only that namespace and records into an in-memory
// telemetrytest.Reader. Register handlers on h.Operator, Start it, drive
// objects with Create, Update and Delete, and wait with WaitHandled, which
// waits on the operator's own optel.handler.invocations counter, and
// WaitGone. Then assert on h.Metrics.
//
// What it does not cover: the HTTP server (off in the harness; test it
// with package server), leader election across processes, and anything
// that needs controllers the embedded control plane lacks (no scheduler,
// kubelet, garbage collector or namespace finalization). Namespaces created
// by the harness are left behind; the control plane is discarded after the
// test.
package operatortest
