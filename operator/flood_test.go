package operator_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/server"
)

// tokenReviewsServed sums the API server's own apiserver_request_total for
// tokenreviews: what it really served, whatever the client thinks.
func tokenReviewsServed(t *testing.T, cs kubernetes.Interface) int {
	t.Helper()
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("API server /metrics: %v", err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "apiserver_request_total{") && strings.Contains(line, `resource="tokenreviews"`) {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			n += int(v)
		}
	}
	return n
}

// TestTokenFloodKeepsReadersAndLeadership floods a leader-elected
// operator's --metrics-secure /metrics with thousands of distinct garbage
// tokens from 50 connections at six addresses for 5 s, against the real API
// server. A legitimate reader keeps getting 200 quickly, a reader's rotated
// token is reviewed although the attackers spent the shared cap, the API server serves a
// bounded number of TokenReviews (its own apiserver_request_total), and
// the operator never loses its Lease.
func TestTokenFloodKeepsReadersAndLeadership(t *testing.T) {
	addr := freeAddr(t)
	e := newEnv(t, operator.Options{
		LeaderElect: true, LeaderElectionID: "flood-test", LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 500 * time.Millisecond,
		Server: server.Options{BindAddress: addr, SecureServing: true},
	})
	must(t, e.op.OnCreate(gadgets, "noop", func(context.Context, *operator.Event) error { return nil }))
	admin := kubernetes.NewForConfigOrDie(cp.Config())
	reader := grantReader(t, admin, e.ns)
	e.start()
	eventually(t, func() string {
		if !e.op.IsLeader() {
			return "not leader yet"
		}
		return ""
	})

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	scrape := func() (int, time.Duration) { return scrapeWith(client, addr, reader) }
	var baseline []time.Duration
	for range 5 {
		code, d := scrape()
		if code != 200 {
			t.Fatalf("reader before the flood: %d", code)
		}
		baseline = append(baseline, d)
	}
	slices.Sort(baseline)
	before := tokenReviewsServed(t, admin)

	// The flood: 50 connections, distinct garbage tokens, each request
	// giving up after 5 s, for 5 s.
	const conns, attackers = 50, 6
	floodCtx, stopFlood := context.WithTimeout(context.Background(), 5*time.Second)
	defer stopFlood()
	var sent atomic.Int64
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	floodStart := time.Now()
	for c := range conns {
		wg.Go(func() {
			// The attacker's connections come from six other loopback
			// addresses than the readers': together they exceed the
			// shared cap on reviews of unknown tokens.
			dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+c%attackers))}}
			fc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxConnsPerHost: 1}}
			defer fc.CloseIdleConnections()
			for i := 0; floodCtx.Err() == nil && i < 10000; i++ {
				req, _ := http.NewRequest("GET", "https://"+addr+"/metrics", nil)
				req.Header.Set("Authorization", fmt.Sprintf("Bearer garbage-%d-%d", c, i))
				sent.Add(1)
				code := 0
				if resp, err := fc.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		})
	}
	var during []time.Duration
	var lost []string
	// A reader KubeAuth has never seen arrives in the middle of the flood
	// (a rotated token at an address that was served): its first review is
	// not starved by the garbage.
	time.Sleep(time.Second)
	fresh := newReaderToken(t, admin, e.ns)
	freshCode, freshD := scrapeWith(client, addr, fresh)
	for floodCtx.Err() == nil {
		code, d := scrape()
		during = append(during, d)
		if code != 200 {
			lost = append(lost, fmt.Sprintf("status %d after %s", code, d))
		}
		if !e.op.IsLeader() {
			lost = append(lost, "leadership lost during the flood")
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	floodLasted := time.Since(floodStart)
	time.Sleep(3 * time.Second)
	afterCode, afterD := scrape()
	served := tokenReviewsServed(t, admin) - before
	slices.Sort(during)
	t.Logf("flood: %d garbage requests in %s, status counts %v; TokenReviews served by the API server: %d", sent.Load(), floodLasted.Round(time.Millisecond), codes, served)
	t.Logf("reader: baseline median %s; during the flood %d scrapes, median %s, max %s; 3 s after: %d in %s",
		baseline[len(baseline)/2], len(during), during[len(during)/2], during[len(during)-1], afterCode, afterD)
	if sent.Load() < 1000 {
		t.Errorf("only %d garbage requests sent; the flood is too weak to prove anything", sent.Load())
	}
	if len(lost) > 0 {
		t.Errorf("legitimate reader or leadership hurt during the flood: %v", lost)
	}
	if max := during[len(during)-1]; max > time.Second {
		t.Errorf("reader's slowest scrape during the flood took %s (baseline median %s); want under 1 s", max, baseline[len(baseline)/2])
	}
	t.Logf("a new reader's first scrape in the middle of the flood: %d in %s", freshCode, freshD)
	if freshCode != 200 || freshD > time.Second {
		t.Errorf("a new reader's first scrape during the flood: %d in %s, want 200 within 1 s", freshCode, freshD)
	}
	if afterCode != 200 || afterD > time.Second {
		t.Errorf("reader 3 s after the flood: %d in %s", afterCode, afterD)
	}
	// The reviews of unknown tokens are bounded by the shared cap (six
	// addresses' own budgets add up to more): its burst plus its rate over
	// the flood, with slack for the readers' own.
	if bound := server.GlobalReviewFactor*(server.DefaultReviewBurst+server.DefaultReviewRate*6) + 5; served > bound {
		t.Errorf("the API server served %d TokenReviews during the flood, want at most %d", served, bound)
	}
	if codes[http.StatusTooManyRequests] == 0 {
		t.Errorf("no garbage request got 429: %v", codes)
	}
	if !e.op.IsLeader() {
		t.Error("leadership lost after the flood")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// grantReader creates a ServiceAccount allowed to get /metrics and returns
// a token of it.
func grantReader(t *testing.T, cs kubernetes.Interface, ns string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	name := "metrics-reader-" + ns
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "reader", &authnv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// newReaderToken mints a token of another ServiceAccount bound to the same
// metrics-reader role.
func newReaderToken(t *testing.T, cs kubernetes.Interface, ns string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	name := "metrics-reader2-" + ns
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "metrics-reader-" + ns},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader2", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "reader2", &authnv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

func scrapeWith(client *http.Client, addr, token string) (int, time.Duration) {
	req, _ := http.NewRequest("GET", "https://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, time.Since(start)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}
