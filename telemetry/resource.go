package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
)

// Resource attribute keys optel sets (OTel semantic conventions).
const (
	attrServiceName    = attribute.Key("service.name")
	attrServiceVersion = attribute.Key("service.version")
	attrPodName        = attribute.Key("k8s.pod.name")
	attrNamespace      = attribute.Key("k8s.namespace.name")
)

// buildResource layers, lowest precedence first: the program's service name
// and version, the downward-API POD_NAME/POD_NAMESPACE,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME, then WithResourceAttributes.
func buildResource(ctx context.Context, c *config) (*resource.Resource, error) {
	kvs := []attribute.KeyValue{attrServiceName.String(c.serviceName)}
	if c.serviceVersion != "" {
		kvs = append(kvs, attrServiceVersion.String(c.serviceVersion))
	}
	if v, ok := c.env(EnvPodName); ok {
		kvs = append(kvs, attrPodName.String(v))
	}
	if v, ok := c.env(EnvPodNamespace); ok {
		kvs = append(kvs, attrNamespace.String(v))
	}
	if v, ok := c.env(EnvResourceAttributes); ok {
		attrs, err := parseResourceAttributes(EnvResourceAttributes, v)
		if err != nil {
			return nil, err
		}
		kvs = append(kvs, attrs...)
	}
	if v, ok := c.env(EnvServiceName); ok {
		kvs = append(kvs, attrServiceName.String(v))
	}
	kvs = append(kvs, c.resourceAttrs...)
	// NewSet keeps the last value for a duplicated key, which implements the
	// layering above.
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithAttributes(kvs...))
	if err != nil {
		return nil, fmt.Errorf("build telemetry resource: %w", err)
	}
	return res, nil
}
