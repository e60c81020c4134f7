package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/optel-dev/optel/server"
)

// TestKubeAuthCaching checks the decision caches with a fake clock (the real
// API server path is TestSecureMetricsOnRealAPIServer): tokens 1m, allows
// 5m, denies 30s; and the token never appears in a response.
func TestKubeAuthCaching(t *testing.T) {
	cs := fake.NewClientset()
	var reviews, sars atomic.Int32
	var allow atomic.Bool
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		reviews.Add(1)
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		tr.Status = authnv1.TokenReviewStatus{Authenticated: tr.Spec.Token == "good", User: authnv1.UserInfo{Username: "alice"}}
		return true, tr, nil
	})
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sars.Add(1)
		sar := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview)
		if sar.Spec.NonResourceAttributes == nil || sar.Spec.NonResourceAttributes.Path != "/metrics" || sar.Spec.NonResourceAttributes.Verb != "get" || sar.Spec.User != "alice" {
			t.Errorf("unexpected review %+v", sar.Spec)
		}
		sar.Status.Allowed = allow.Load()
		return true, sar, nil
	})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	auth := server.NewKubeAuth(cs)
	auth.SetClock(func() time.Time { return now })
	h := auth.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	call := func(token string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		h.ServeHTTP(rec, req)
		if strings.Contains(rec.Body.String(), token) {
			t.Errorf("response reveals the token: %q", rec.Body)
		}
		return rec.Code
	}
	steps := []struct {
		advance         time.Duration
		allow           bool
		token           string
		want            int
		reviews, checks int32
	}{
		{0, false, "good", 403, 1, 1},
		{20 * time.Second, true, "good", 403, 1, 1},  // deny cached 30s
		{15 * time.Second, true, "good", 200, 1, 2},  // deny expired; token still cached (1m)
		{4 * time.Minute, false, "good", 200, 2, 2},  // allow cached 5m; token re-reviewed after 1m
		{90 * time.Second, false, "good", 403, 3, 3}, // allow expired
		{0, false, "bad", 401, 4, 3},
		{10 * time.Second, false, "bad", 401, 4, 3}, // failed authentication cached too
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		allow.Store(s.allow)
		if got := call(s.token); got != s.want {
			t.Errorf("step %d: status %d, want %d", i, got, s.want)
		}
		if reviews.Load() != s.reviews || sars.Load() != s.checks {
			t.Errorf("step %d: %d token reviews and %d access reviews, want %d and %d", i, reviews.Load(), sars.Load(), s.reviews, s.checks)
		}
	}
}

// TestKubeAuthUnavailableAndMethods: an API server that cannot be asked
// gives 503 without the client's error text; methods other than GET and
// HEAD get 405 before any review.
func TestKubeAuthUnavailableAndMethods(t *testing.T) {
	cs := fake.NewClientset()
	var reviews atomic.Int32
	cs.PrependReactor("create", "tokenreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		reviews.Add(1)
		return true, nil, errors.New("dial tcp 10.0.0.1:443: connect: connection refused")
	})
	h := server.NewKubeAuth(cs).Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tc := range []struct {
		method string
		code   int
	}{{"GET", 503}, {"HEAD", 503}, {"POST", 405}, {"M1", 405}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(tc.method, "/metrics", nil)
		req.Header.Set("Authorization", "Bearer t-"+tc.method)
		h.ServeHTTP(rec, req)
		if rec.Code != tc.code {
			t.Errorf("%s: %d, want %d", tc.method, rec.Code, tc.code)
		}
		if strings.Contains(rec.Body.String(), "dial tcp") || strings.Contains(rec.Body.String(), "10.0.0.1") {
			t.Errorf("%s: the response reveals the client error: %q", tc.method, rec.Body)
		}
	}
	if reviews.Load() != 2 {
		t.Errorf("%d token reviews, want 2 (none for refused methods)", reviews.Load())
	}
}

// TestKubeAuthBudgets: attackers at many addresses exhaust the shared cap of
// reviews for unknown tokens, but a reader whose address was served keeps
// getting its rotated token reviewed (the reserve); and one valid token
// cannot buy unbounded SubjectAccessReviews by asking for ever new paths.
func TestKubeAuthBudgets(t *testing.T) {
	f := newFakeReviewer(t, func(token string) (string, bool) { return "prometheus", strings.HasPrefix(token, "reader-") }, func(string) bool { return true })
	call, sars := f.call, &f.sars

	if code := call("10.0.0.1", "reader-1", "/metrics"); code != 200 {
		t.Fatalf("reader before the flood: %d", code)
	}
	// Ten attacking addresses, each within its own budget, together exceed
	// the shared cap (5 × the burst) at a frozen clock.
	codes := map[int]int{}
	for a := range 10 {
		for i := range server.DefaultReviewBurst {
			codes[call(fmt.Sprintf("10.0.1.%d", a), fmt.Sprintf("garbage-%d-%d", a, i), "/metrics")]++
		}
	}
	capacity := server.DefaultReviewBurst*server.GlobalReviewFactor - 1 // the reader's first review came from the shared cap
	if codes[401] != capacity || codes[429] != 10*server.DefaultReviewBurst-capacity {
		t.Errorf("flood from 10 addresses: %v, want %d×401 (the shared cap) and the rest 429", codes, capacity)
	}
	// The shared cap is spent: a new address gets 429 for an unknown token,
	// but the served reader's rotated token is reviewed from the reserve.
	if code := call("10.0.2.1", "reader-new-address", "/metrics"); code != 429 {
		t.Errorf("unknown token from a new address after the flood: %d, want 429", code)
	}
	if code := call("10.0.0.1", "reader-2", "/metrics"); code != 200 {
		t.Errorf("rotated reader token from the served address after the flood: %d, want 200", code)
	}

	// Distinct paths with one valid token: at most the burst of access
	// reviews, then 429 without a review.
	before := sars.Load()
	codes = map[int]int{}
	for i := range 3 * server.DefaultReviewBurst {
		codes[call("10.0.0.1", "reader-2", fmt.Sprintf("/debug/x%d", i))]++
	}
	if got := sars.Load() - before; got > int32(server.DefaultReviewBurst) {
		t.Errorf("%d access reviews for distinct paths with one token, want at most %d", got, server.DefaultReviewBurst)
	}
	if codes[429] == 0 {
		t.Errorf("distinct paths: %v, want some 429", codes)
	}
	if code := call("10.0.0.1", "reader-2", "/metrics"); code != 200 {
		t.Errorf("the reader's cached path after the path flood: %d, want 200", code)
	}
}

// TestKubeAuthUnauthorizedTokensStayBudgeted: tokens that authenticate but
// are never authorized (any ServiceAccount token does) do not become
// "known": replayed after their cache entries expire, they are charged to
// the address's budget again, and their access reviews to a shared cap.
// A reader that was served keeps its exemption.
func TestKubeAuthUnauthorizedTokensStayBudgeted(t *testing.T) {
	f := newFakeReviewer(t, func(token string) (string, bool) { return token, true }, func(user string) bool { return user == "reader" })
	reviews, sars := &f.reviews, &f.sars
	call := func(token string) int { return f.call("10.0.3.1", token, "/metrics") }
	if code := call("reader"); code != 200 {
		t.Fatalf("reader: %d", code)
	}
	// 60 valid but unauthorized tokens, built up within the budget.
	const n = 60
	for i := range n {
		f.now = f.now.Add(200 * time.Millisecond)
		if code := call(fmt.Sprintf("tenant-%d", i)); code != 403 {
			t.Fatalf("tenant token %d: %d, want 403", i, code)
		}
	}
	// Their token cache entries expire; then all are replayed at once.
	f.now = f.now.Add(2 * time.Minute)
	beforeTR, beforeSAR := reviews.Load(), sars.Load()
	codes := map[int]int{}
	for i := range n {
		codes[call(fmt.Sprintf("tenant-%d", i))]++
	}
	tr, sar := reviews.Load()-beforeTR, sars.Load()-beforeSAR
	t.Logf("replay of %d unauthorized tokens: %v; %d token reviews, %d access reviews", n, codes, tr, sar)
	if tr > server.DefaultReviewBurst {
		t.Errorf("%d token reviews for the replay, want at most the address's burst %d", tr, server.DefaultReviewBurst)
	}
	if sar > server.DefaultReviewBurst {
		t.Errorf("%d access reviews for the replay, want at most %d", sar, server.DefaultReviewBurst)
	}
	if codes[429] == 0 {
		t.Errorf("replay: %v, want some 429", codes)
	}
	// The served reader is still re-reviewed outside the budget.
	if code := call("reader"); code != 200 {
		t.Errorf("served reader after the replay: %d, want 200", code)
	}
}

// TestKubeAuthAccessReviewCap: attackers at several addresses holding valid
// but unauthorized tokens (ordinary ServiceAccount tokens) spend the shared
// cap on access reviews of never-served tokens, each within its address's
// budget; then a new attacking token gets 429 without a review, while a
// reader's rotated token at the served address is reviewed from the
// reserve and served.
func TestKubeAuthAccessReviewCap(t *testing.T) {
	f := newFakeReviewer(t, func(token string) (string, bool) {
		if strings.HasPrefix(token, "reader-") {
			return "reader", true
		}
		return "tenant", true
	}, func(user string) bool { return user == "reader" })
	call, sars := f.call, &f.sars
	if code := call("10.0.4.1", "reader-1", "/metrics"); code != 200 {
		t.Fatalf("reader: %d", code)
	}
	before := sars.Load()
	codes := map[int]int{}
	// 10 addresses × 10 tokens × 2 paths: 200 access reviews asked for,
	// each address within its own token budget (burst 20).
	for a := range 10 {
		for i := range 10 {
			for _, p := range []string{"/metrics", "/metrics.json"} {
				codes[call(fmt.Sprintf("10.0.5.%d", a), fmt.Sprintf("tenant-%d-%d", a, i), p)]++
			}
		}
	}
	capBurst := server.DefaultReviewBurst*server.GlobalReviewFactor - 1 // the reader's first access review came from the shared cap
	if got := sars.Load() - before; got != int32(capBurst) {
		t.Errorf("%d access reviews for never-served tokens, want exactly the shared cap's burst %d", got, capBurst)
	}
	if codes[403] != capBurst || codes[429] != 200-capBurst {
		t.Errorf("attack: %v, want %d×403 and the rest 429", codes, capBurst)
	}
	if code := call("10.0.5.99", "tenant-new", "/metrics"); code != 429 {
		t.Errorf("a new never-served token after the cap was spent: %d, want 429", code)
	}
	if code := call("10.0.4.1", "reader-2", "/metrics"); code != 200 {
		t.Errorf("the reader's rotated token at the served address: %d, want 200 (reserve)", code)
	}
}

// fakeReviewer is KubeAuth over a fake API server: authn answers
// TokenReviews (the user a token belongs to, and whether it authenticates),
// allow answers SubjectAccessReviews for a user. The clock stands still
// until the test moves now; reviews and sars count the reviews sent.
type fakeReviewer struct {
	h             http.Handler
	now           time.Time
	reviews, sars atomic.Int32
}

func newFakeReviewer(t *testing.T, authn func(token string) (user string, ok bool), allow func(user string) bool) *fakeReviewer {
	t.Helper()
	f := &fakeReviewer{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cs := fake.NewClientset()
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		f.reviews.Add(1)
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		user, ok := authn(tr.Spec.Token)
		tr.Status = authnv1.TokenReviewStatus{Authenticated: ok, User: authnv1.UserInfo{Username: user}}
		return true, tr, nil
	})
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		f.sars.Add(1)
		sar := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview)
		sar.Status.Allowed = allow(sar.Spec.User)
		return true, sar, nil
	})
	auth := server.NewKubeAuth(cs)
	auth.SetClock(func() time.Time { return f.now })
	f.h = auth.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	return f
}

// call makes a GET of path from addr with token and returns the status.
func (f *fakeReviewer) call(addr, token, path string) int {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = addr + ":40000"
	req.Header.Set("Authorization", "Bearer "+token)
	f.h.ServeHTTP(rec, req)
	return rec.Code
}
