package controlplane

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

const (
	auditPolicyFile = "audit-policy.yaml"
	auditLogFile    = "audit.log"
	// auditBarrier prefixes the request URI of the marker request
	// AuditEvents makes; its events are never returned.
	auditBarrier = "/version?optel-audit-barrier="
)

// auditPolicy logs each request once, when its response is complete. Panic
// is omitted too, so a request that panics is not logged.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted, Panic]
rules:
  - level: Metadata
`

// auditFlags make the API server append JSON lines to dir/audit.log,
// synchronously (blocking mode, no batching) and without rotation
// (maxsize 0), so nothing is delayed or moved away.
func auditFlags(dir string) []string {
	return []string{
		"--audit-policy-file=" + filepath.Join(dir, auditPolicyFile),
		"--audit-log-path=" + filepath.Join(dir, auditLogFile),
		"--audit-log-format=json",
		"--audit-log-mode=blocking",
		"--audit-log-maxsize=0",
	}
}

// ErrAuditLogDisabled is returned by AuditEvents when Options.AuditLog was
// not set.
var ErrAuditLogDisabled = errors.New("audit log not enabled (set Options.AuditLog)")

// AuditEvent is one request as the API server's audit log recorded it, at
// stage ResponseComplete. It is a subset of audit.k8s.io/v1 Event.
type AuditEvent struct {
	Stage      string // always "ResponseComplete"
	Verb       string // get, list, watch, create, update, patch, delete, deletecollection
	RequestURI string // path and query, e.g. /api/v1/namespaces/default/configmaps?limit=500
	User       string // authenticated username
	UserAgent  string
	Code       int            // HTTP status of the response
	ObjectRef  AuditObjectRef // zero for non-resource requests such as /version
	// RequestReceivedTimestamp is when the API server received the request
	// (microsecond precision).
	RequestReceivedTimestamp time.Time
}

// AuditObjectRef is the object an audited request addressed.
type AuditObjectRef struct {
	Resource    string `json:"resource"`
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	Subresource string `json:"subresource"`
	APIGroup    string `json:"apiGroup"` // "" for the core group
}

// auditLine is the part of an audit.k8s.io/v1 Event that AuditEvent keeps.
type auditLine struct {
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	UserAgent      string          `json:"userAgent"`
	ObjectRef      *AuditObjectRef `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
}

// AuditEvents returns user's requests from the audit log in the order they
// completed; an empty user returns everyone's. It needs Options.AuditLog,
// else it returns ErrAuditLogDisabled.
//
// The API server logs a request just after sending its response, so a
// client could read the log before its last request is in it. AuditEvents
// therefore first makes a marker request (as Admin, never returned) and
// waits, up to 10 s, until the marker is logged: every request answered
// before the call is then included. If the API server is down (after
// StopAPIServer) it reads the log as it is. Admin's events include the
// control plane's own traffic (readiness probes, kube-controller-manager),
// so count a dedicated user's requests (Options.Users). It is safe for
// concurrent use.
func (c *ControlPlane) AuditEvents(user string) ([]AuditEvent, error) {
	if !c.opts.AuditLog {
		return nil, ErrAuditLogDisabled
	}
	marker := auditBarrier + randomToken()
	if err := c.adminGet(marker); err != nil {
		events, _, err := c.readAudit(user, marker)
		return events, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		events, logged, err := c.readAudit(user, marker)
		if err != nil || logged {
			return events, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("audit log: marker request %s not logged within 10s", marker)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// adminGet makes one GET request as Admin.
func (c *ControlPlane) adminGet(uri string) error {
	hc, err := rest.HTTPClientFor(c.Config())
	if err != nil {
		return err
	}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(c.URL() + uri)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", uri, resp.Status)
	}
	return nil
}

// readAudit parses the audit log and reports whether marker was logged. A
// last line without its newline is still being written and is ignored.
func (c *ControlPlane) readAudit(user, marker string) ([]AuditEvent, bool, error) {
	b, err := os.ReadFile(c.path(auditLogFile))
	if err != nil {
		return nil, false, fmt.Errorf("read audit log: %w", err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	var (
		events []AuditEvent
		logged bool
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		var l auditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, false, fmt.Errorf("audit log line %d: %w", n, err)
		}
		if l.Stage != "ResponseComplete" {
			continue
		}
		if strings.HasPrefix(l.RequestURI, auditBarrier) {
			logged = logged || l.RequestURI == marker
			continue
		}
		if user != "" && l.User.Username != user {
			continue
		}
		e := AuditEvent{
			Stage: l.Stage, Verb: l.Verb, RequestURI: l.RequestURI, User: l.User.Username,
			UserAgent: l.UserAgent, RequestReceivedTimestamp: l.RequestReceivedTimestamp,
		}
		if l.ObjectRef != nil {
			e.ObjectRef = *l.ObjectRef
		}
		if l.ResponseStatus != nil {
			e.Code = l.ResponseStatus.Code
		}
		events = append(events, e)
	}
	return events, logged, sc.Err()
}
