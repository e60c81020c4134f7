package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/lru"
)

// Cache lifetimes for KubeAuth decisions, as controller-runtime uses.
const (
	DefaultTokenTTL = time.Minute
	DefaultAllowTTL = 5 * time.Minute
	DefaultDenyTTL  = 30 * time.Second
)

// Limits on what unauthenticated callers can make KubeAuth do.
const (
	// DefaultReviewRate and DefaultReviewBurst bound TokenReviews for
	// tokens KubeAuth has never seen authenticate, per client address: a
	// flood of distinct garbage tokens from one address costs the API
	// server at most this many reviews per second; the excess gets 429 at
	// once, without a request. A reader at another address keeps its own
	// budget. All addresses together are capped at GlobalReviewFactor times
	// the rate and burst; addresses that were recently served (a token
	// authenticated and authorized from them) draw instead on a reserve of
	// the same size, so attackers at many addresses who exhaust the shared
	// cap cannot keep a known reader's rotated token out.
	//
	// The same rate and burst bound SubjectAccessReviews per token: the
	// decision cache is keyed by path, and a valid token must not buy an
	// unbounded number of reviews by asking for ever new paths under a
	// subtree route.
	DefaultReviewRate  = 10
	DefaultReviewBurst = 20
	GlobalReviewFactor = 5
	// DefaultCacheSize bounds each decision cache; the least recently
	// used entries are evicted first, so a flood evicts garbage before
	// a reader that keeps scraping.
	DefaultCacheSize = 4096
)

// KubeAuth protects handlers the way the API server protects its own
// non-resource URLs: the bearer token is checked with a TokenReview, then a
// SubjectAccessReview asks whether that user may <verb> the request path
// (verb is the lower-case HTTP method). Missing or invalid tokens get 401,
// denied users 403, an API server that cannot be asked 503 (with no
// client error text), and unknown tokens beyond the review rate 429.
//
// Decisions are cached (tokens 1m, allows 5m, denies 30s) in LRU caches
// keyed by a SHA-256 of the token, which is never logged or stored in clear.
// Concurrent requests with one token share one review (single flight).
// Tokens that were served before (authenticated and authorized) are
// re-reviewed outside the rate limits, so a reader's refresh is never
// starved by a flood of garbage; a token that authenticates but was never
// authorized is charged like an unknown one.
//
// Give it a clientset of its own (NewKubeAuth's caller builds it from the
// operator's config): client-go queues requests behind one client-side rate
// limiter per clientset, and reviews must never wait behind, or delay, the
// leader-election Lease renewals.
type KubeAuth struct {
	client kubernetes.Interface
	now    func() time.Time
	log    *slog.Logger

	tokenTTL, allowTTL, denyTTL time.Duration

	tokens  *lru.Cache // [32]byte -> tokenEntry
	access  *lru.Cache // accessKey -> accessEntry
	flights singleflight.Group

	rate     rate.Limit
	burst    int
	mu       sync.Mutex // makes get-or-create of a limiter atomic
	clients  *lru.Cache // client address -> *rate.Limiter (TokenReviews)
	global   *rate.Limiter
	reserve  *rate.Limiter
	served   *lru.Cache // client address -> time.Time until which it draws on reserve
	perToken *lru.Cache // [32]byte -> *rate.Limiter (SubjectAccessReviews)
	// sarGlobal caps SubjectAccessReviews of tokens never served;
	// sarReserve does for such tokens from addresses that were served.
	sarGlobal, sarReserve *rate.Limiter
}

// servedTTL is how long an address that was served keeps its claim on the
// reserve budget.
const servedTTL = 10 * time.Minute

type tokenEntry struct {
	user    authnv1.UserInfo
	ok      bool
	served  bool // a request with this token was authorized and served
	expires time.Time
}

type accessKey struct {
	token      [32]byte
	verb, path string
}

type accessEntry struct {
	allowed bool
	reason  string
	expires time.Time
}

// KubeAuthOption configures NewKubeAuth.
type KubeAuthOption interface{ apply(*KubeAuth) }

type kubeAuthOptionFunc func(*KubeAuth)

func (f kubeAuthOptionFunc) apply(a *KubeAuth) { f(a) }

// WithReviewRate sets the rate (per second) and burst of TokenReviews for
// unknown tokens. Defaults DefaultReviewRate and DefaultReviewBurst;
// non-positive values keep the defaults.
func WithReviewRate(perSecond float64, burst int) KubeAuthOption {
	return kubeAuthOptionFunc(func(a *KubeAuth) {
		if perSecond > 0 && burst > 0 {
			a.rate, a.burst = rate.Limit(perSecond), burst
		}
	})
}

// WithCacheSize bounds each decision cache. Default DefaultCacheSize.
func WithCacheSize(n int) KubeAuthOption {
	return kubeAuthOptionFunc(func(a *KubeAuth) {
		if n > 0 {
			a.tokens, a.access = lru.New(n), lru.New(n)
		}
	})
}

// WithAuthLogger receives review failures (the API server unreachable),
// which callers see only as 503. Default slog.Default().
func WithAuthLogger(l *slog.Logger) KubeAuthOption {
	return kubeAuthOptionFunc(func(a *KubeAuth) {
		if l != nil {
			a.log = l
		}
	})
}

// NewKubeAuth returns an authenticator/authorizer backed by client. The
// caller's account needs create on tokenreviews (authentication.k8s.io)
// and subjectaccessreviews (authorization.k8s.io).
func NewKubeAuth(client kubernetes.Interface, opts ...KubeAuthOption) *KubeAuth {
	a := &KubeAuth{
		client: client, now: time.Now, log: slog.Default(),
		tokenTTL: DefaultTokenTTL, allowTTL: DefaultAllowTTL, denyTTL: DefaultDenyTTL,
		tokens: lru.New(DefaultCacheSize), access: lru.New(DefaultCacheSize),
		rate: DefaultReviewRate, burst: DefaultReviewBurst, clients: lru.New(DefaultCacheSize),
		served: lru.New(DefaultCacheSize), perToken: lru.New(DefaultCacheSize),
	}
	for _, o := range opts {
		o.apply(a)
	}
	a.global = rate.NewLimiter(a.rate*GlobalReviewFactor, a.burst*GlobalReviewFactor)
	a.reserve = rate.NewLimiter(a.rate*GlobalReviewFactor, a.burst*GlobalReviewFactor)
	a.sarGlobal = rate.NewLimiter(a.rate*GlobalReviewFactor, a.burst*GlobalReviewFactor)
	a.sarReserve = rate.NewLimiter(a.rate*GlobalReviewFactor, a.burst*GlobalReviewFactor)
	return a
}

var (
	errUnauthenticated = errors.New("unauthenticated")
	errRateLimited     = errors.New("too many reviews of unknown tokens")
	errTooManyPaths    = errors.New("too many access reviews")
)

// Wrap returns h guarded by authentication and authorization.
func (a *KubeAuth) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Only reads are served; any other method would also be a new
		// SubjectAccessReview cache key (the verb), so refuse it first.
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "Method not allowed (accepted: GET, HEAD)", http.StatusMethodNotAllowed)
			return
		}
		token, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="optel"`)
			http.Error(w, "Unauthorized: a bearer token is required", http.StatusUnauthorized)
			return
		}
		sum := sha256.Sum256([]byte(token))
		user, err := a.authenticate(r.Context(), token, sum, clientAddress(r))
		switch {
		case errors.Is(err, errUnauthenticated):
			w.Header().Set("WWW-Authenticate", `Bearer realm="optel"`)
			http.Error(w, "Unauthorized: the token is not valid", http.StatusUnauthorized)
			return
		case errors.Is(err, errRateLimited):
			w.Header().Set("Retry-After", "1")
			http.Error(w, "Too many requests with unknown tokens; retry later", http.StatusTooManyRequests)
			return
		case err != nil:
			a.log.Warn("metrics authentication unavailable", "error", err)
			http.Error(w, "Service unavailable: authentication is unavailable", http.StatusServiceUnavailable)
			return
		}
		verb := strings.ToLower(r.Method)
		allowed, reason, err := a.authorize(r.Context(), user, sum, clientAddress(r), verb, r.URL.Path)
		if errors.Is(err, errTooManyPaths) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "Too many requests for distinct paths; retry later", http.StatusTooManyRequests)
			return
		}
		if err != nil {
			a.log.Warn("metrics authorization unavailable", "error", err)
			http.Error(w, "Service unavailable: authorization is unavailable", http.StatusServiceUnavailable)
			return
		}
		if !allowed {
			msg := fmt.Sprintf("Forbidden: user %q may not %s %s", user.Username, verb, r.URL.Path)
			if reason != "" {
				msg += ": " + reason
			}
			http.Error(w, msg, http.StatusForbidden)
			return
		}
		a.markServed(clientAddress(r), sum)
		h.ServeHTTP(w, r)
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// clientAddress is the caller's IP, the key of its review budget.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limiter returns the limiter kept under key in c, creating it.
func (a *KubeAuth) limiter(c *lru.Cache, key any) *rate.Limiter {
	a.mu.Lock()
	defer a.mu.Unlock()
	if v, ok := c.Get(key); ok {
		return v.(*rate.Limiter)
	}
	l := rate.NewLimiter(a.rate, a.burst)
	c.Add(key, l)
	return l
}

// markServed records that a request from client with the token sum was
// authenticated and authorized: the address's unknown tokens draw on the
// reserve for a while, and the token's own re-reviews skip the budgets.
func (a *KubeAuth) markServed(client string, sum [32]byte) {
	a.served.Add(client, a.now().Add(servedTTL))
	a.mu.Lock()
	defer a.mu.Unlock()
	if v, ok := a.tokens.Get(sum); ok {
		if e := v.(tokenEntry); !e.served {
			e.served = true
			a.tokens.Add(sum, e)
		}
	}
}

// wasServed reports whether a request with the token sum was served.
func (a *KubeAuth) wasServed(sum [32]byte) bool {
	v, ok := a.tokens.Get(sum)
	return ok && v.(tokenEntry).served
}

// allowUnknown spends one review of client's budget, then of the reserve
// if client was recently served, or else of the shared cap.
func (a *KubeAuth) allowUnknown(client string) bool {
	now := a.now()
	if !a.limiter(a.clients, client).AllowN(now, 1) {
		return false
	}
	return a.sharedLimiter(client, a.global, a.reserve).AllowN(now, 1)
}

// sharedLimiter is reserve for an address that was recently served, else
// shared.
func (a *KubeAuth) sharedLimiter(client string, shared, reserve *rate.Limiter) *rate.Limiter {
	if v, ok := a.served.Get(client); ok && a.now().Before(v.(time.Time)) {
		return reserve
	}
	return shared
}

func (a *KubeAuth) authenticate(ctx context.Context, token string, sum [32]byte, client string) (authnv1.UserInfo, error) {
	now := a.now()
	// Only a token that was served before is re-reviewed outside the
	// budgets: one that authenticates but was never authorized (any
	// ServiceAccount token does) is charged like an unknown one.
	known := false
	if v, ok := a.tokens.Get(sum); ok {
		e := v.(tokenEntry)
		if now.Before(e.expires) {
			if !e.ok {
				return authnv1.UserInfo{}, errUnauthenticated
			}
			return e.user, nil
		}
		known = e.ok && e.served
	}
	v, err, _ := a.flights.Do("t"+string(sum[:]), func() (any, error) {
		if !known && !a.allowUnknown(client) {
			return nil, errRateLimited
		}
		// The review outlives one caller's cancellation: others may share it.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		tr, err := a.client.AuthenticationV1().TokenReviews().Create(rctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("token review: %w", err)
		}
		e := tokenEntry{user: tr.Status.User, ok: tr.Status.Authenticated, served: known && tr.Status.Authenticated, expires: now.Add(a.tokenTTL)}
		a.mu.Lock()
		a.tokens.Add(sum, e)
		a.mu.Unlock()
		return e, nil
	})
	if err != nil {
		return authnv1.UserInfo{}, err
	}
	e := v.(tokenEntry)
	if !e.ok {
		return authnv1.UserInfo{}, errUnauthenticated
	}
	return e.user, nil
}

func (a *KubeAuth) authorize(ctx context.Context, u authnv1.UserInfo, sum [32]byte, client, verb, path string) (bool, string, error) {
	now := a.now()
	k := accessKey{token: sum, verb: verb, path: path}
	if v, ok := a.access.Get(k); ok {
		if e := v.(accessEntry); now.Before(e.expires) {
			return e.allowed, e.reason, nil
		}
	}
	v, err, _ := a.flights.Do("a"+string(sum[:])+verb+" "+path, func() (any, error) {
		if !a.limiter(a.perToken, sum).AllowN(now, 1) {
			return nil, errTooManyPaths
		}
		// Tokens never served share one cap, as unknown tokens do; from an
		// address that was served they draw on a reserve instead, so
		// attackers spending the cap cannot keep a reader's rotated token
		// out.
		if !a.wasServed(sum) && !a.sharedLimiter(client, a.sarGlobal, a.sarReserve).AllowN(now, 1) {
			return nil, errTooManyPaths
		}
		extra := map[string]authzv1.ExtraValue{}
		for key, v := range u.Extra {
			extra[key] = authzv1.ExtraValue(v)
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		sar, err := a.client.AuthorizationV1().SubjectAccessReviews().Create(rctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra,
			NonResourceAttributes: &authzv1.NonResourceAttributes{Path: path, Verb: verb},
		}}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("subject access review: %w", err)
		}
		ttl := a.denyTTL
		if sar.Status.Allowed {
			ttl = a.allowTTL
		}
		e := accessEntry{allowed: sar.Status.Allowed, reason: sar.Status.Reason, expires: now.Add(ttl)}
		a.access.Add(k, e)
		return e, nil
	})
	if err != nil {
		return false, "", err
	}
	e := v.(accessEntry)
	return e.allowed, e.reason, nil
}
