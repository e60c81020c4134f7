package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/internal/testpeers"
	"github.com/optel-dev/optel/server"
	"github.com/optel-dev/optel/telemetry"
)

// grantMetricsReader binds user to a ClusterRole allowing get on /metrics,
// as deploy manifests do for Prometheus's service account.
func grantMetricsReader(t *testing.T, cs kubernetes.Interface, user string) {
	t.Helper()
	ctx := context.Background()
	_, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "metrics-reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func insecureClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

// TestSecureMetricsOnRealAPIServer: TLS plus TokenReview and
// SubjectAccessReview against a real kube-apiserver, then a real
// Prometheus scraping with a bearer token over TLS.
func TestSecureMetricsOnRealAPIServer(t *testing.T) {
	cp := controlplane.StartForTest(t, controlplane.Options{Users: []controlplane.User{{Name: "prometheus"}}})
	admin := kubernetes.NewForConfigOrDie(cp.Config())
	grantMetricsReader(t, admin, "prometheus")

	// Real telemetry behind the filter, so the authorized response is a real
	// exposition.
	tp, err := telemetry.New(context.Background(), telemetry.WithExporters("prometheus"),
		telemetry.WithEnvironment(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(context.Background())
	up, _ := tp.Meter("secure").Int64Gauge("up.demo", metric.WithDescription("A demo gauge."))
	up.Record(context.Background(), 1)
	srv, err := server.New(server.Options{
		BindAddress: "127.0.0.1:0", HealthProbeBindAddress: "127.0.0.1:0",
		SecureServing: true, MetricsFilter: server.NewKubeAuth(admin).Wrap,
	}, tp.Routes(),
		server.Routes{"/healthz": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })})
	if err != nil {
		t.Fatal(err)
	}
	run(t, srv)
	client := insecureClient()
	defer client.CloseIdleConnections()
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"garbage token", "not-a-real-token", http.StatusUnauthorized},
		{"authenticated without rights", cp.Token(controlplane.Unprivileged), http.StatusForbidden},
		{"metrics-reader role", cp.Token("prometheus"), http.StatusOK},
		{"cached allow", cp.Token("prometheus"), http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "https://"+srv.MetricsAddr()+"/metrics", nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			if tc.want == 200 {
				if out, ok := testpeers.Promtool(t, body); !ok || !strings.Contains(string(body), "up_demo 1") {
					t.Errorf("authorized response is not a valid exposition with up_demo: %s\n%s", out, body)
				}
			}
			if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 || resp.ProtoMajor != 1 {
				t.Errorf("want TLS >= 1.2 and HTTP/1.1 (HTTP/2 off by default), got %+v proto %s", resp.TLS, resp.Proto)
			}
		})
	}
	// Plain HTTP on the metrics port is refused; kubelet probes stay plain.
	if resp, err := http.Get("http://" + srv.MetricsAddr() + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("metrics served over plain HTTP")
		}
	}
	// With --metrics-secure the plain health listener answers with the
	// summary only (see TestProbeDetailsNeedAuthorization).
	if code, body := get(t, "http://"+srv.HealthAddr()+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("plain /healthz = %d %q", code, body)
	}

	prom := testpeers.StartPrometheusWithAuth(t, &testpeers.ScrapeAuth{BearerToken: cp.Token("prometheus")}, srv.MetricsAddr())
	prom.WaitTargetsUp(t)
	prom.WaitQuery(t, "up_demo == 1")
}

// TestCertDirIsReloaded: a certificate from --metrics-cert-dir is served
// and replaced when the files change, without a restart.
func TestCertDirIsReloaded(t *testing.T) {
	dir := t.TempDir()
	writePair := func(cn string) {
		cert, key := selfSignedPEM(t, cn)
		if err := os.WriteFile(filepath.Join(dir, "tls.crt"), cert, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tls.key"), key, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writePair("first")
	srv, err := server.New(server.Options{BindAddress: "127.0.0.1:0", SecureServing: true, CertDir: dir, AllowUnauthenticated: true},
		server.Routes{"/metrics": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, srv)
	served := func() string {
		conn, err := tls.Dial("tcp", srv.MetricsAddr(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := served(); cn != "first" {
		t.Fatalf("served %q", cn)
	}
	time.Sleep(1100 * time.Millisecond) // the files are checked at most once a second
	writePair("second")
	testpeers.Eventually(t, 10*time.Second, func() string {
		if cn := served(); cn != "second" {
			return "still serving " + cn
		}
		return ""
	})
	if _, err := server.New(server.Options{BindAddress: "127.0.0.1:0", SecureServing: true, CertDir: t.TempDir(), AllowUnauthenticated: true}, nil, nil); err == nil || !strings.Contains(err.Error(), "tls.crt") {
		t.Errorf("empty cert dir: %v, want an error naming tls.crt", err)
	}
}

func selfSignedPEM(t *testing.T, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	pair, err := server.SelfSignedForTest(cn)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(pair.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pair.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})
}
