package bench

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

func scrapeParsed(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", acceptText)
	h.ServeHTTP(rec, req)
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		slices.SortFunc(mf.Metric, func(a, b *dto.Metric) int {
			return strings.Compare(a.String(), b.String())
		})
	}
	return mfs
}

// TestDatasetsIdentical: the scrape benchmarks compare like with like. The
// optel encoder, the stock exporter and client_golang render the same
// families, series and values from the benchmark dataset.
func TestDatasetsIdentical(t *testing.T) {
	build := func(sys system) *dataset {
		d, err := buildDataset(400, sys)
		if err != nil {
			t.Fatal(err)
		}
		if d.mp != nil {
			t.Cleanup(func() { _ = d.mp.Shutdown(t.Context()) })
		}
		return d
	}
	want := scrapeParsed(t, build(sysClientGolang).handler)
	if len(want) != 2 || len(want["requests_total"].GetMetric()) != 200 || len(want["latency_seconds"].GetMetric()) != 200 {
		t.Fatalf("client_golang dataset is not 200 counters + 200 histograms: %v", want)
	}
	for name, sys := range map[string]system{"optel": sysOptel, "stock": sysStock} {
		got := scrapeParsed(t, build(sys).handler)
		if len(got) != len(want) {
			t.Errorf("%s: %d families, client_golang %d", name, len(got), len(want))
		}
		for fam, w := range want {
			if !proto.Equal(got[fam], w) {
				t.Errorf("%s: family %s differs from client_golang's", name, fam)
			}
		}
	}
}
