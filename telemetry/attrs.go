package telemetry

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Attributes is an attribute set with its measurement options built once.
// Passing the prebuilt option slices to an SDK instrument avoids the
// per-call allocations of metric.WithAttributes (sorting, de-duplication and
// the variadic slice), which is what makes the record path allocation-free:
//
//	ok := telemetry.NewAttributes(attribute.String("outcome", "success"))
//	counter.Add(ctx, 1, ok.Add()...)
//
// The zero value records with no attributes. Attributes is immutable and
// safe for concurrent use.
type Attributes struct {
	set     attribute.Set
	add     []metric.AddOption
	record  []metric.RecordOption
	observe []metric.ObserveOption
}

// NewAttributes builds the set once.
func NewAttributes(kv ...attribute.KeyValue) Attributes {
	set := attribute.NewSet(kv...)
	opt := metric.WithAttributeSet(set)
	return Attributes{
		set:     set,
		add:     []metric.AddOption{opt},
		record:  []metric.RecordOption{opt},
		observe: []metric.ObserveOption{opt},
	}
}

// Set returns the attribute set.
func (a Attributes) Set() attribute.Set { return a.set }

// Add returns options for Counter.Add and UpDownCounter.Add.
func (a Attributes) Add() []metric.AddOption { return a.add }

// Record returns options for Histogram.Record and Gauge.Record.
func (a Attributes) Record() []metric.RecordOption { return a.record }

// Observe returns options for Observer.ObserveInt64/ObserveFloat64.
func (a Attributes) Observe() []metric.ObserveOption { return a.observe }
