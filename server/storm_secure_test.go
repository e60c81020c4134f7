package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"k8s.io/client-go/kubernetes"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/internal/testpeers"
	"github.com/optel-dev/optel/server"
	"github.com/optel-dev/optel/telemetry"
)

// TestSecureScrapeStorm is the scrape storm as deployed: 50 concurrent
// scrapers with a bearer token, over TLS, through server.New and KubeAuth
// against the real API server, for OPTEL_STORM_SECONDS (default 20). Every
// scrape succeeds, and the heap stays bounded; the figures are logged for
// docs/reliability.md. It runs alone in make test's slow step.
func TestSecureScrapeStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("runs alone in make test's slow step (-run TestSecureScrapeStorm), not in the -short race pass")
	}
	dur := 20 * time.Second
	if s := os.Getenv("OPTEL_STORM_SECONDS"); s != "" {
		var n int
		_, _ = fmt.Sscan(s, &n)
		dur = time.Duration(n) * time.Second
	}
	cp := controlplane.StartForTest(t, controlplane.Options{Users: []controlplane.User{{Name: "prometheus"}}})
	admin := kubernetes.NewForConfigOrDie(cp.Config())
	grantMetricsReader(t, admin, "prometheus")
	ctx := context.Background()
	tp, err := telemetry.New(ctx, telemetry.WithExporters("prometheus"), telemetry.WithEnvironment(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(ctx)
	c, _ := tp.Meter("storm").Int64Counter("storm.requests", metric.WithDescription("r"))
	h, _ := tp.Meter("storm").Float64Histogram("storm.latency", metric.WithUnit("s"), metric.WithDescription("l"))
	for i := range 1000 {
		o := metric.WithAttributes(attribute.Int("id", i))
		c.Add(ctx, 1, o)
		h.Record(ctx, 0.1, o)
	}
	reviews, err := kubernetes.NewForConfig(cp.Config())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{BindAddress: "127.0.0.1:0", HealthProbeBindAddress: "0", SecureServing: true, MetricsFilter: server.NewKubeAuth(reviews).Wrap}, tp.Routes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, srv)
	url := "https://" + srv.MetricsAddr() + "/metrics"
	token := cp.Token("prometheus")

	// 50 scrapers from 10 addresses (Prometheus replicas), 5 each: within
	// the per-client bound of 8.
	clients := make([]*http.Client, 10)
	for i := range clients {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 2, byte(10+i))}}
		clients[i] = &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 8, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 30 * time.Second}
		defer clients[i].CloseIdleConnections()
	}
	res := testpeers.Storm(50, dur, func(i int) error {
		client := clients[i%len(clients)]
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n == 0 {
			return fmt.Errorf("status %d, %d bytes", resp.StatusCode, n)
		}
		return nil
	}, func() { c.Add(ctx, 1, metric.WithAttributes(attribute.Int("id", 1))) })
	t.Logf("secure storm: %d scrapes in %s by 50 scrapers over TLS with KubeAuth, %d failures, max heap in use %.1f MiB",
		res.Scrapes, dur, res.Failures, float64(res.MaxHeapInUse)/(1<<20))
	if res.Failures != 0 {
		t.Errorf("%d scrapes failed; first errors: %q", res.Failures, res.FirstErrors)
	}
	if res.Scrapes == 0 {
		t.Error("no scrape succeeded")
	}
	if res.MaxHeapInUse > 1<<30 {
		t.Errorf("heap in use reached %.0f MiB", float64(res.MaxHeapInUse)/(1<<20))
	}
}
