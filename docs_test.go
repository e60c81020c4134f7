package optel_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/optel-dev/optel/internal/observ"
	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/telemetry"
)

var update = flag.Bool("update", false, "regenerate the generated sections of docs/")

const (
	beginMarker = "<!-- BEGIN GENERATED: do not edit; `make docs` regenerates it -->\n"
	endMarker   = "<!-- END GENERATED -->\n"
)

// checkGenerated compares (or with -update rewrites) the generated section of
// a doc, so the reference stays true to the code.
func checkGenerated(t *testing.T, path, generated string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, beginMarker), strings.Index(doc, endMarker)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-section markers", path)
	}
	current := doc[i+len(beginMarker) : j]
	if current == generated {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(doc[:i+len(beginMarker)]+generated+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date with the code; run `make docs`.\nwant:\n%s", path, generated)
}

func TestDocsConfiguration(t *testing.T) {
	fs := pflag.NewFlagSet("optel", pflag.ContinueOnError)
	var opts operator.Options // binds the operator, server and telemetry flags
	opts.BindFlags(fs)
	var b strings.Builder
	b.WriteString("### Flags\n\n| Flag | Default | Description |\n|---|---|---|\n")
	fs.VisitAll(func(f *pflag.Flag) {
		def := f.DefValue
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s |\n", f.Name, def, strings.ReplaceAll(f.Usage, "|", "\\|"))
	})
	b.WriteString("\n### Environment\n\n| Variable | Default | Description |\n|---|---|---|\n")
	for _, e := range telemetry.DefaultExporterRegistry.Environment() {
		def := e.Default
		if def == "" {
			def = "(unset)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", e.Name, def, e.Description)
	}
	checkGenerated(t, "docs/configuration.md", b.String())
}

func TestDocsMetrics(t *testing.T) {
	var b strings.Builder
	b.WriteString("| Instrument | Prometheus name | Kind | Unit | Attributes | Description |\n|---|---|---|---|---|---|\n")
	for _, s := range observ.Catalog {
		attrs := make([]string, len(s.Attributes))
		for i, a := range s.Attributes {
			attrs[i] = "`" + string(a) + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s | %s |\n", s.Name, s.PrometheusName(), s.Kind, orDash(s.Unit), orDash(strings.Join(attrs, ", ")), s.Description)
	}
	checkGenerated(t, "docs/metrics.md", b.String())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
