package setting_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/optel-dev/optel/telemetry/setting"
)

// TestVarPrecedence: a given flag beats code, code beats the environment
// (most specific variable first, blank counts as unset), the environment
// beats the default; Check applies whatever the source; bad values name it.
func TestVarPrecedence(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		set        *time.Duration
		env        map[string]string
		want       time.Duration
		wantSource string
		wantErrIn  []string
	}{
		{name: "default", want: time.Second, wantSource: "default"},
		{name: "generic variable", env: map[string]string{"OTEL_TIMEOUT": "2000"}, want: 2 * time.Second, wantSource: "OTEL_TIMEOUT"},
		{name: "specific variable first", env: map[string]string{"OTEL_TIMEOUT": "2000", "OTEL_METRICS_TIMEOUT": "3000"}, want: 3 * time.Second, wantSource: "OTEL_METRICS_TIMEOUT"},
		{name: "blank variable is unset", env: map[string]string{"OTEL_METRICS_TIMEOUT": "  ", "OTEL_TIMEOUT": "2000"}, want: 2 * time.Second, wantSource: "OTEL_TIMEOUT"},
		{name: "code beats environment", set: ptr(4 * time.Second), env: map[string]string{"OTEL_TIMEOUT": "2000"}, want: 4 * time.Second, wantSource: "x.Config.Timeout"},
		{name: "flag beats code", args: []string{"--timeout=5s"}, set: ptr(4 * time.Second), want: 5 * time.Second, wantSource: "--timeout"},
		{name: "flag at its default still counts as given", args: []string{"--timeout=1s"}, env: map[string]string{"OTEL_TIMEOUT": "2000"}, want: time.Second, wantSource: "--timeout"},
		{name: "bad variable names itself", env: map[string]string{"OTEL_TIMEOUT": "2s"}, wantErrIn: []string{"OTEL_TIMEOUT", `"2s"`, "accepted"}},
		{name: "check applies to code", set: ptr(-time.Second), wantErrIn: []string{"x.Config.Timeout", "accepted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := setting.Var[time.Duration]{
				Flag: "timeout", FlagType: "duration", FlagDefault: "1s", Usage: "Timeout.",
				Option: "x.Config.Timeout", Env: []string{"OTEL_METRICS_TIMEOUT", "OTEL_TIMEOUT"},
				Default: time.Second, Parse: setting.ParseDuration, ParseEnv: setting.ParseMillis, Check: setting.Positive,
			}
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			v.BindFlag(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if tt.set != nil {
				v.Set(*tt.set)
			}
			err := v.Resolve(func(k string) (string, bool) { s, ok := tt.env[k]; return s, ok })
			if len(tt.wantErrIn) > 0 {
				if err == nil || !errors.Is(err, setting.ErrInvalid) {
					t.Fatalf("error %v, want one wrapping ErrInvalid", err)
				}
				for _, w := range tt.wantErrIn {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Value() != tt.want || v.Source() != tt.wantSource {
				t.Errorf("got %s from %s, want %s from %s", v.Value(), v.Source(), tt.want, tt.wantSource)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
