// Package telemetrytest helps operator authors assert on the telemetry
// their code records, without an exporter or a network.
//
// NewProvider returns a telemetry.Provider with no exporters plus an
// in-memory Reader; inject the provider (or its MeterProvider) into the code
// under test, then assert:
//
//	tp, r := telemetrytest.NewProvider(t)
//	... run code that records through tp ...
//	r.Sum(t, "widgets.created", 3)
//	r.Sum(t, "optel.handler.invocations", 1, attribute.String("outcome", "success"))
//	r.HistogramCount(t, "optel.handler.duration", 1, attribute.String("handler", "provision"))
//
// Every assertion collects afresh, so collect-time callbacks run as they
// would for a scrape. Attributes match by inclusion: the listed ones must be
// present with those values, and others are ignored. Values of matching
// series are summed.
//
// What it does not cover: exporter formats (names after Prometheus
// translation, OTLP encoding, the JSON shape), which their own packages test
// against real peers; exemplars; and temporality other than cumulative.
package telemetrytest
