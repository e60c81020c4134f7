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
	// Compared as built, then after two rounds of churn (every value
	// changed, 1 % new series each round).
	cg := build(sysClientGolang)
	others := map[string]*dataset{"optel": build(sysOptel), "stock": build(sysStock)}
	for round := range 3 {
		if round > 0 {
			cg.churn()
			for _, d := range others {
				d.churn()
			}
		}
		want := scrapeParsed(t, cg.handler)
		if n := 200 + 2*round; len(want) != 2 || len(want["requests_total"].GetMetric()) != n || len(want["latency_seconds"].GetMetric()) != n {
			t.Fatalf("round %d: client_golang dataset is not %d counters + %d histograms", round, n, n)
		}
		for name, d := range others {
			got := scrapeParsed(t, d.handler)
			if len(got) != len(want) {
				t.Errorf("round %d: %s: %d families, client_golang %d", round, name, len(got), len(want))
			}
			for fam, w := range want {
				if !proto.Equal(got[fam], w) {
					t.Errorf("round %d: %s: family %s differs from client_golang's", round, name, fam)
				}
			}
		}
	}
}
