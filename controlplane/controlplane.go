package controlplane

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/optel-dev/optel/internal/child"
)

// Built-in users. Admin is in system:masters; Unprivileged is authenticated
// but has no RBAC grants, so it gets 403 on everything it asks for.
const (
	Admin        = "admin"
	Unprivileged = "unprivileged"
)

// ErrBinaryMissing is returned (wrapped) by Start and RequireBinaries when
// etcd, kube-apiserver or, with Options.ControllerManager,
// kube-controller-manager cannot be found. The wrapping message names the
// directories searched and says how to build the binaries, in optel's
// repository (`make controlplane`) and from another module.
var ErrBinaryMissing = errors.New("control-plane binary missing")

// Binary names looked up in Options.BinDir.
const (
	etcdBinary              = "etcd"
	apiserverBinary         = "kube-apiserver"
	controllerManagerBinary = "kube-controller-manager"
)

// User is an extra identity with a static bearer token.
type User struct {
	Name   string
	Groups []string
}

// Options configure Start. Zero values take the documented defaults.
type Options struct {
	// BinDir holds etcd, kube-apiserver and, with ControllerManager,
	// kube-controller-manager. Default: $OPTEL_BIN_DIR, else bin/ in the
	// nearest parent directory that has one with all of them.
	BinDir string
	// Users are added to Admin and Unprivileged.
	Users []User
	// StartTimeout bounds waiting for /readyz. Default 90s.
	StartTimeout time.Duration
	// APIServerFlags are appended to the kube-apiserver command line.
	APIServerFlags []string
	// ControllerManager also starts kube-controller-manager with the
	// garbagecollector, deployment, replicaset and namespace controllers, so
	// dependents of a deleted owner are garbage-collected, Deployments get
	// ReplicaSets and Pod objects, and deleted namespaces are emptied and
	// finalized. There is still no scheduler and no kubelet: Pods are never
	// scheduled or run, so a Deployment's ready and available replicas stay
	// 0. It authenticates as Admin, so Admin's audit events include its
	// traffic. Default false.
	ControllerManager bool
	// AuditLog makes the API server write an audit log of every request, once
	// each (level Metadata, stage ResponseComplete), for AuditEvents to read.
	// Default false.
	AuditLog bool
}

// ControlPlane is a running etcd, kube-apiserver and, with
// Options.ControllerManager, kube-controller-manager on loopback.
type ControlPlane struct {
	dir     string
	bins    binaries
	opts    Options
	etcdURL string
	apiPort int
	caData  []byte
	tokens  map[string]string
	groups  map[string][]string

	mu                sync.Mutex
	etcd              *proc
	apiserver         *proc
	controllerManager *proc
	stopped           bool
}

// Start launches etcd and kube-apiserver (then, with
// Options.ControllerManager, kube-controller-manager) on free loopback ports
// with fresh data and certificate directories, and waits until all are
// ready, at most StartTimeout each. Call Stop to end them and remove the
// directory. A missing binary returns an error wrapping ErrBinaryMissing.
func Start(ctx context.Context, opts Options) (*ControlPlane, error) {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 90 * time.Second
	}
	bins, err := findBinaries(opts.BinDir, opts.ControllerManager)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "optel-controlplane-")
	if err != nil {
		return nil, fmt.Errorf("create control-plane directory: %w", err)
	}
	c := &ControlPlane{dir: dir, bins: bins, opts: opts, tokens: map[string]string{}, groups: map[string][]string{}}
	if err := c.writeCredentials(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if opts.AuditLog {
		if err := os.WriteFile(c.path(auditPolicyFile), []byte(auditPolicy), 0o600); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("write audit policy: %w", err)
		}
	}
	if err := c.startEtcd(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		_ = c.Stop()
		return nil, err
	}
	c.apiPort = ports[0]
	if err := c.startAPIServer(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	if opts.ControllerManager {
		if err := c.startControllerManager(ctx); err != nil {
			_ = c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// binaries are the absolute paths of the executables Start runs.
type binaries struct {
	etcd, apiserver, controllerManager string // controllerManager is "" unless needed
}

// findBinaries returns the first directory, in search order, holding every
// binary needed.
func findBinaries(binDir string, controllerManager bool) (binaries, error) {
	var dirs []string
	if binDir != "" {
		dirs = append(dirs, binDir)
	} else if d := os.Getenv(EnvBinDir); d != "" {
		dirs = append(dirs, d)
	} else if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, filepath.Join(d, "bin"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	names := []string{etcdBinary, apiserverBinary}
	if controllerManager {
		names = append(names, controllerManagerBinary)
	}
	for _, d := range dirs {
		if !slices.ContainsFunc(names, func(n string) bool { return !isFile(filepath.Join(d, n)) }) {
			b := binaries{etcd: filepath.Join(d, etcdBinary), apiserver: filepath.Join(d, apiserverBinary)}
			if controllerManager {
				b.controllerManager = filepath.Join(d, controllerManagerBinary)
			}
			return b, nil
		}
	}
	return binaries{}, fmt.Errorf("%w: need %s in one of %v.\n%s", ErrBinaryMissing, strings.Join(names, ", "), dirs, buildHelp)
}

// EnvBinDir names the environment variable that sets Options.BinDir's
// default.
const EnvBinDir = "OPTEL_BIN_DIR"

// buildHelp ends ErrBinaryMissing's message. Outside optel's repository the
// tools modules come from the module proxy: they are nested modules, so they
// are not inside optel's own module (cache) directory, and their replace
// directives rule out `go install pkg@version`. They build in place in the
// read-only module cache.
const buildHelp = `In optel's repository, ` + "`make controlplane`" + ` (part of ` + "`make tools`" + `) builds them into bin/.
From your own module, build them from optel's tools modules (Go 1.26; about 15 minutes
cold on 2 cores; they use replace directives, so ` + "`go install`" + ` cannot build them):

	export OPTEL_BIN_DIR="$HOME/.cache/optel/bin"; mkdir -p "$OPTEL_BIN_DIR"
	for m in etcd kube-apiserver; do
	  d=$(go mod download -json github.com/optel-dev/optel/hack/$m@latest | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
	  (cd "$d" && go build -o "$OPTEL_BIN_DIR/" ./...)
	done

(kube-apiserver's module also builds kube-controller-manager), then keep OPTEL_BIN_DIR set
for go test, or set Options.BinDir.`

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func (c *ControlPlane) writeCredentials() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generate service-account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.path("sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(c.path("sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		return err
	}
	users := append([]User{{Name: Admin, Groups: []string{"system:masters"}}, {Name: Unprivileged}}, c.opts.Users...)
	var csv bytes.Buffer
	for i, u := range users {
		if u.Name == "" || strings.ContainsAny(u.Name, ",\"\n") {
			return fmt.Errorf("user %q: name must be non-empty without commas, quotes or newlines", u.Name)
		}
		if _, dup := c.tokens[u.Name]; dup {
			return fmt.Errorf("user %q declared twice", u.Name)
		}
		tok := randomToken()
		c.tokens[u.Name] = tok
		c.groups[u.Name] = u.Groups
		fmt.Fprintf(&csv, "%s,%s,%d", tok, u.Name, 1000+i)
		if len(u.Groups) > 0 {
			fmt.Fprintf(&csv, ",\"%s\"", strings.Join(u.Groups, ","))
		}
		csv.WriteByte('\n')
	}
	return os.WriteFile(c.path("tokens.csv"), csv.Bytes(), 0o600)
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *ControlPlane) path(name string) string { return filepath.Join(c.dir, name) }

func (c *ControlPlane) startEtcd(ctx context.Context) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	c.etcdURL = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	p, err := startProc(c.bins.etcd, c.path("etcd.log"),
		"--data-dir="+c.path("etcd-data"),
		"--listen-client-urls="+c.etcdURL, "--advertise-client-urls="+c.etcdURL,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=default="+peer,
		"--unsafe-no-fsync", "--log-level=warn",
	)
	if err != nil {
		return err
	}
	c.etcd = p
	return waitFor(ctx, c.opts.StartTimeout, p, func() error {
		resp, err := http.Get(c.etcdURL + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
}

func (c *ControlPlane) startAPIServer(ctx context.Context) error {
	args := []string{
		"--etcd-servers=" + c.etcdURL,
		"--secure-port=" + strconv.Itoa(c.apiPort),
		"--bind-address=127.0.0.1",
		"--cert-dir=" + c.path("certs"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + c.path("sa.pub"),
		"--service-account-signing-key-file=" + c.path("sa.key"),
		"--token-auth-file=" + c.path("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--disable-admission-plugins=ServiceAccount",
		"--enable-priority-and-fairness=false",
		// End open watches on shutdown: otherwise, with watching clients
		// (informers, kube-controller-manager), the HTTP drain waits up to
		// --request-timeout (60s) and StopAPIServer ends in SIGKILL after 10s.
		"--shutdown-watch-termination-grace-period=2s",
	}
	if c.opts.AuditLog {
		args = append(args, auditFlags(c.dir)...)
	}
	args = append(args, c.opts.APIServerFlags...)
	p, err := startProc(c.bins.apiserver, c.path("kube-apiserver.log"), args...)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.apiserver = p
	c.mu.Unlock()
	return waitFor(ctx, c.opts.StartTimeout, p, func() error {
		if c.caData == nil {
			ca, err := os.ReadFile(filepath.Join(c.path("certs"), "apiserver.crt"))
			if err != nil {
				return fmt.Errorf("serving certificate not written yet: %w", err)
			}
			c.caData = ca
		}
		cs, err := rest.HTTPClientFor(c.Config())
		if err != nil {
			return err
		}
		defer cs.CloseIdleConnections()
		resp, err := cs.Get(c.URL() + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz %s: %s", resp.Status, body)
		}
		return nil
	})
}

// URL is the API server's base URL.
func (c *ControlPlane) URL() string { return "https://127.0.0.1:" + strconv.Itoa(c.apiPort) }

// Dir is the control plane's working directory: data, certificates, the
// logs (etcd.log, kube-apiserver.log, kube-controller-manager.log) and, with
// Options.AuditLog, audit.log.
func (c *ControlPlane) Dir() string { return c.dir }

// Config returns a fresh admin (system:masters) client configuration.
func (c *ControlPlane) Config() *rest.Config {
	cfg, _ := c.UserConfig(Admin)
	return cfg
}

// UserConfig returns a fresh client configuration authenticating as user.
func (c *ControlPlane) UserConfig(user string) (*rest.Config, error) {
	tok, ok := c.tokens[user]
	if !ok {
		return nil, fmt.Errorf("unknown user %q (known: %v)", user, c.Users())
	}
	return &rest.Config{
		Host:            c.URL(),
		BearerToken:     tok,
		TLSClientConfig: rest.TLSClientConfig{CAData: slices.Clone(c.caData)},
		QPS:             200,
		Burst:           400,
	}, nil
}

// Token returns user's bearer token.
func (c *ControlPlane) Token(user string) string { return c.tokens[user] }

// Users lists the users with tokens.
func (c *ControlPlane) Users() []string {
	names := make([]string, 0, len(c.tokens))
	for n := range c.tokens {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// WriteKubeconfig writes an admin kubeconfig to path, for kubectl or for
// running an operator binary against this control plane.
func (c *ControlPlane) WriteKubeconfig(path string) error {
	return c.WriteKubeconfigWithToken(path, c.tokens[Admin])
}

// WriteKubeconfigWithToken writes a kubeconfig authenticating with token,
// e.g. a ServiceAccount token from the TokenRequest API, to run a binary
// with exactly that identity's permissions.
func (c *ControlPlane) WriteKubeconfigWithToken(path, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["optel"] = &clientcmdapi.Cluster{Server: c.URL(), CertificateAuthorityData: c.caData}
	cfg.AuthInfos[Admin] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["optel"] = &clientcmdapi.Context{Cluster: "optel", AuthInfo: Admin, Namespace: "default"}
	cfg.CurrentContext = "optel"
	return clientcmd.WriteToFile(*cfg, path)
}

// StopAPIServer stops only the API server (etcd keeps the data), to test
// watch recovery; StartAPIServer brings it back on the same port, with the
// same serving certificate and tokens. kube-controller-manager, if started,
// keeps running and reconnects by itself, as its informers re-list.
func (c *ControlPlane) StopAPIServer() {
	c.mu.Lock()
	p := c.apiserver
	c.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// CrashAPIServer kills only the API server with SIGKILL, as a crash or an
// OOM kill would: every connection drops at once, with no graceful close of
// watches and no window in which a dying server still accepts requests.
// StartAPIServer brings it back.
func (c *ControlPlane) CrashAPIServer() {
	c.mu.Lock()
	p := c.apiserver
	c.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// StartAPIServer restarts the API server after StopAPIServer or
// CrashAPIServer.
func (c *ControlPlane) StartAPIServer(ctx context.Context) error {
	return c.startAPIServer(ctx)
}

// Stop ends the processes, clients first (kube-controller-manager, then
// kube-apiserver, then etcd), and removes the directory. It is idempotent.
func (c *ControlPlane) Stop() error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	kcm, api, etcd := c.controllerManager, c.apiserver, c.etcd
	c.mu.Unlock()
	if kcm != nil {
		kcm.stop()
	}
	if api != nil {
		api.stop()
	}
	if etcd != nil {
		etcd.stop()
	}
	return os.RemoveAll(c.dir)
}

// proc is a child process with its log file.
type proc struct {
	*child.Process
	log string
}

func startProc(bin, logPath string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	c, err := child.Start(bin, f, args...)
	if err != nil {
		f.Close()
		return nil, err
	}
	go func() { <-c.Done(); f.Close() }()
	return &proc{Process: c, log: logPath}, nil
}

func (p *proc) stop() { p.Stop(10 * time.Second) }

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

func waitFor(ctx context.Context, timeout time.Duration, p *proc, ready func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited during start-up: %s", p.Name(), p.tail())
		}
		if last = ready(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %v (last: %v)\n%s", p.Name(), ctx.Err(), last, p.tail())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
