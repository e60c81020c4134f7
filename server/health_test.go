package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/server"
)

// TestProbeDetailsNeedAuthorization: with --metrics-secure, anonymous
// callers (a kubelet) get only the status code and "ok"/"failed" from
// /healthz; the detailed report and ?format=kopf need the same
// authorization as /metrics (TokenReview and SubjectAccessReview on the
// real API server): get on /metrics, because Kubernetes' default RBAC
// (system:public-info-viewer) lets every user get /healthz. A separate
// plain health listener never shows details.
func TestProbeDetailsNeedAuthorization(t *testing.T) {
	cp := controlplane.StartForTest(t, controlplane.Options{Users: []controlplane.User{{Name: "ops"}}})
	admin := kubernetes.NewForConfigOrDie(cp.Config())
	ctx := context.Background()
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "health-details-reader"},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "health-details-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "health-details-reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "ops"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const secret = `{"checks":{"db":{"status":"failed","error":"queue widgets.example.com depth 7"}}}`
	detailed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, secret+" format="+r.URL.Query().Get("format"))
	})
	auth := server.NewKubeAuth(admin).Wrap
	shared, err := server.New(server.Options{BindAddress: "127.0.0.1:0", SecureServing: true, MetricsFilter: auth},
		server.Routes{}, server.Routes{"/healthz": detailed})
	if err != nil {
		t.Fatal(err)
	}
	run(t, shared)
	split, err := server.New(server.Options{BindAddress: "127.0.0.1:0", HealthProbeBindAddress: "127.0.0.1:0", SecureServing: true, MetricsFilter: auth},
		server.Routes{}, server.Routes{"/healthz": detailed})
	if err != nil {
		t.Fatal(err)
	}
	run(t, split)
	client := insecureClient()
	defer client.CloseIdleConnections()
	for _, tc := range []struct {
		name, url, token string
		code             int
		details          bool
	}{
		{"anonymous on the TLS listener", "https://" + shared.HealthAddr() + "/healthz", "", 503, false},
		{"anonymous asks for kopf format", "https://" + shared.HealthAddr() + "/healthz?format=kopf", "", 401, false},
		{"anonymous asks for verbose", "https://" + shared.HealthAddr() + "/healthz?verbose", "", 401, false},
		{"garbage token", "https://" + shared.HealthAddr() + "/healthz", "garbage", 401, false},
		{"authenticated without rights", "https://" + shared.HealthAddr() + "/healthz", cp.Token(controlplane.Unprivileged), 403, false},
		{"authorized reader", "https://" + shared.HealthAddr() + "/healthz", cp.Token("ops"), 503, true},
		{"authorized reader, kopf format", "https://" + shared.HealthAddr() + "/healthz?format=kopf", cp.Token("ops"), 503, true},
		{"plain health listener, anonymous", "http://" + split.HealthAddr() + "/healthz", "", 503, false},
		{"plain health listener, even with a token", "http://" + split.HealthAddr() + "/healthz?format=kopf", cp.Token("ops"), 503, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tc.url, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.code, body)
			}
			if got := strings.Contains(string(body), "widgets.example.com"); got != tc.details {
				t.Errorf("details shown=%v, want %v: %q", got, tc.details, body)
			}
			if !tc.details && tc.code == 503 && string(body) != "failed\n" {
				t.Errorf("summary body %q, want \"failed\\n\"", body)
			}
		})
	}
}
