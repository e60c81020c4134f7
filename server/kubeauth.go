package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Cache lifetimes for KubeAuth decisions, as controller-runtime uses.
const (
	DefaultTokenTTL = time.Minute
	DefaultAllowTTL = 5 * time.Minute
	DefaultDenyTTL  = 30 * time.Second
)

// KubeAuth protects handlers the way the API server protects its own
// non-resource URLs: the bearer token is checked with a TokenReview, then a
// SubjectAccessReview asks whether that user may <verb> the request path
// (verb is the lower-case HTTP method). Missing or invalid tokens get 401,
// denied users 403. Decisions are cached (tokens 1m, allows 5m, denies 30s)
// keyed by a SHA-256 of the token, which is never logged or stored in clear.
type KubeAuth struct {
	client kubernetes.Interface
	now    func() time.Time

	tokenTTL, allowTTL, denyTTL time.Duration

	mu     sync.Mutex
	tokens map[[32]byte]tokenEntry
	access map[accessKey]accessEntry
}

type tokenEntry struct {
	user    authnv1.UserInfo
	ok      bool
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

// NewKubeAuth returns an authenticator/authorizer backed by client. The
// operator's service account needs create on tokenreviews
// (authentication.k8s.io) and subjectaccessreviews (authorization.k8s.io).
func NewKubeAuth(client kubernetes.Interface) *KubeAuth {
	return &KubeAuth{
		client: client, now: time.Now,
		tokenTTL: DefaultTokenTTL, allowTTL: DefaultAllowTTL, denyTTL: DefaultDenyTTL,
		tokens: map[[32]byte]tokenEntry{}, access: map[accessKey]accessEntry{},
	}
}

// Wrap returns h guarded by authentication and authorization.
func (a *KubeAuth) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="optel"`)
			http.Error(w, "Unauthorized: a bearer token is required", http.StatusUnauthorized)
			return
		}
		sum := sha256.Sum256([]byte(token))
		user, err := a.authenticate(r.Context(), token, sum)
		if err != nil {
			if errors.Is(err, errUnauthenticated) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="optel"`)
				http.Error(w, "Unauthorized: the token is not valid", http.StatusUnauthorized)
			} else {
				http.Error(w, "authentication unavailable: "+err.Error(), http.StatusInternalServerError)
			}
			return
		}
		verb := strings.ToLower(r.Method)
		allowed, reason, err := a.authorize(r.Context(), user, sum, verb, r.URL.Path)
		if err != nil {
			http.Error(w, "authorization unavailable: "+err.Error(), http.StatusInternalServerError)
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
		h.ServeHTTP(w, r)
	})
}

var errUnauthenticated = errors.New("unauthenticated")

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func (a *KubeAuth) authenticate(ctx context.Context, token string, sum [32]byte) (authnv1.UserInfo, error) {
	now := a.now()
	a.mu.Lock()
	e, ok := a.tokens[sum]
	a.mu.Unlock()
	if ok && now.Before(e.expires) {
		if !e.ok {
			return authnv1.UserInfo{}, errUnauthenticated
		}
		return e.user, nil
	}
	tr, err := a.client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return authnv1.UserInfo{}, fmt.Errorf("token review: %w", err)
	}
	e = tokenEntry{user: tr.Status.User, ok: tr.Status.Authenticated, expires: now.Add(a.tokenTTL)}
	a.mu.Lock()
	a.tokens[sum] = e
	pruneExpired(a.tokens, now, func(e tokenEntry) time.Time { return e.expires })
	a.mu.Unlock()
	if !e.ok {
		return authnv1.UserInfo{}, errUnauthenticated
	}
	return e.user, nil
}

func (a *KubeAuth) authorize(ctx context.Context, u authnv1.UserInfo, sum [32]byte, verb, path string) (bool, string, error) {
	now := a.now()
	k := accessKey{token: sum, verb: verb, path: path}
	a.mu.Lock()
	e, ok := a.access[k]
	a.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.allowed, e.reason, nil
	}
	extra := map[string]authzv1.ExtraValue{}
	for key, v := range u.Extra {
		extra[key] = authzv1.ExtraValue(v)
	}
	sar, err := a.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra,
		NonResourceAttributes: &authzv1.NonResourceAttributes{Path: path, Verb: verb},
	}}, metav1.CreateOptions{})
	if err != nil {
		return false, "", fmt.Errorf("subject access review: %w", err)
	}
	ttl := a.denyTTL
	if sar.Status.Allowed {
		ttl = a.allowTTL
	}
	e = accessEntry{allowed: sar.Status.Allowed, reason: sar.Status.Reason, expires: now.Add(ttl)}
	a.mu.Lock()
	a.access[k] = e
	pruneExpired(a.access, now, func(e accessEntry) time.Time { return e.expires })
	a.mu.Unlock()
	return e.allowed, e.reason, nil
}

// maxCacheEntries bounds each decision cache, so a flood of distinct (e.g.
// garbage) tokens cannot grow memory without limit.
const maxCacheEntries = 4096

func pruneExpired[K comparable, V any](m map[K]V, now time.Time, expires func(V) time.Time) {
	if len(m) <= maxCacheEntries {
		return
	}
	for k, v := range m {
		if !now.Before(expires(v)) {
			delete(m, k)
		}
	}
	if len(m) > maxCacheEntries {
		clear(m) // all live: start over rather than grow
	}
}
