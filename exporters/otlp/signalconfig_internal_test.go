package otlp

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestSignalPrecedence checks, for the traces and logs exporters, the order
// SignalConfig documents: a given flag, then per-signal code, then shared
// code, then the per-signal variable, then the generic one, then the
// default.
func TestSignalPrecedence(t *testing.T) {
	cases := []struct {
		name         string
		env          map[string]string
		flags        []string
		edit         func(*Config)
		wantEndpoint string
		wantAppend   bool
		wantProtocol Protocol
	}{
		{name: "defaults", wantProtocol: GRPC},
		{name: "generic env appends the signal path", env: map[string]string{EnvEndpoint: "http://c:4318", EnvProtocol: "http/protobuf"}, wantEndpoint: "http://c:4318", wantAppend: true, wantProtocol: HTTPProtobuf},
		{name: "signal env beats generic and is used as is", env: map[string]string{EnvEndpoint: "http://c:4318", EnvTracesEndpoint: "http://t:4318/x", EnvLogsEndpoint: "http://t:4318/x", EnvTracesProtocol: "http/protobuf", EnvLogsProtocol: "http/protobuf"}, wantEndpoint: "http://t:4318/x", wantProtocol: HTTPProtobuf},
		{name: "metrics-only env does not leak into traces", env: map[string]string{EnvMetricsEndpoint: "http://m:4317"}, wantProtocol: GRPC},
		{name: "shared code beats signal env", env: map[string]string{EnvTracesEndpoint: "http://t:4317", EnvLogsEndpoint: "http://t:4317"}, edit: func(c *Config) { c.Endpoint.Set("code:4317") }, wantEndpoint: "code:4317", wantProtocol: GRPC},
		{name: "signal code beats shared code", edit: func(c *Config) {
			c.Endpoint.Set("code:4317")
			c.Traces.Endpoint.Set("sig:4317")
			c.Logs.Endpoint.Set("sig:4317")
		}, wantEndpoint: "sig:4317", wantProtocol: GRPC},
		{name: "flag beats everything", env: map[string]string{EnvTracesEndpoint: "http://t:4317", EnvLogsEndpoint: "http://t:4317", EnvTracesProtocol: "http/protobuf", EnvLogsProtocol: "http/protobuf"}, flags: []string{"--otlp-endpoint=flag:4317", "--otlp-protocol=grpc"}, edit: func(c *Config) {
			c.Traces.Endpoint.Set("sig:4317")
			c.Logs.Endpoint.Set("sig:4317")
		}, wantEndpoint: "flag:4317", wantProtocol: GRPC},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConfig()
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			c.BindFlags(fs)
			if err := fs.Parse(tc.flags); err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(c)
			}
			if err := c.Resolve(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }); err != nil {
				t.Fatal(err)
			}
			for signal, opts := range map[string][]Option{"traces": c.TraceOptions(), "logs": c.LogOptions()} {
				var got config
				for _, o := range opts {
					o.apply(&got)
				}
				if got.endpoint != tc.wantEndpoint || got.appendPath != tc.wantAppend || got.protocol != tc.wantProtocol {
					t.Errorf("%s: endpoint %q append %v protocol %q, want %q %v %q", signal, got.endpoint, got.appendPath, got.protocol, tc.wantEndpoint, tc.wantAppend, tc.wantProtocol)
				}
			}
		})
	}
}

func TestSignalEnvErrorsNameTheVariable(t *testing.T) {
	c := NewConfig()
	err := c.Resolve(func(k string) (string, bool) {
		if k == EnvTracesProtocol {
			return "carrier-pigeon", true
		}
		return "", false
	})
	if err == nil || !strings.Contains(err.Error(), EnvTracesProtocol) || !strings.Contains(err.Error(), "http/protobuf") {
		t.Fatalf("err = %v, want it to name %s and what is accepted", err, EnvTracesProtocol)
	}
}
