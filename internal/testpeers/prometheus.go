package testpeers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	prometheusBin  = "/usr/bin/prometheus"
	promtoolBin    = "/usr/bin/promtool"
	installPromMsg = "run `make tools` (apt-get install -y --no-install-recommends prometheus)"
)

// Prometheus is a real Prometheus server scraping the given targets.
type Prometheus struct {
	URL  string
	proc *process
}

// ScrapeAuth configures an HTTPS scrape with a bearer token.
type ScrapeAuth struct {
	BearerToken string
	// CAFile verifies the target's certificate; empty skips verification.
	CAFile string
}

// StartPrometheus starts Prometheus with a 1s scrape of each target
// (host:port, path /metrics) and waits until its API answers.
func StartPrometheus(t testing.TB, targets ...string) *Prometheus {
	t.Helper()
	return StartPrometheusWithAuth(t, nil, targets...)
}

// StartPrometheusWithAuth is StartPrometheus scraping over HTTPS with a
// bearer token when auth is non-nil.
func StartPrometheusWithAuth(t testing.TB, auth *ScrapeAuth, targets ...string) *Prometheus {
	t.Helper()
	return StartPrometheusJob(t, "optel", auth, targets...)
}

// StartPrometheusJob is StartPrometheusWithAuth with the scrape job named
// job (the "job" label of every series).
func StartPrometheusJob(t testing.TB, job string, auth *ScrapeAuth, targets ...string) *Prometheus {
	t.Helper()
	return startPrometheus(t, job, auth, nil, targets)
}

// StartPrometheusWithFeatures is StartPrometheus with feature flags
// enabled (--enable-feature), for example "exemplar-storage".
func StartPrometheusWithFeatures(t testing.TB, features []string, targets ...string) *Prometheus {
	t.Helper()
	return startPrometheus(t, "optel", nil, []string{"--enable-feature=" + strings.Join(features, ",")}, targets)
}

func startPrometheus(t testing.TB, job string, auth *ScrapeAuth, args, targets []string) *Prometheus {
	t.Helper()
	Need(t, prometheusBin, installPromMsg)
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: " + job + "\n    static_configs:\n      - targets: [")
	for i, tg := range targets {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", tg)
	}
	b.WriteString("]\n")
	if auth != nil {
		tok := filepath.Join(dir, "token")
		if err := os.WriteFile(tok, []byte(auth.BearerToken), 0o600); err != nil {
			t.Fatal(err)
		}
		b.WriteString("    scheme: https\n    authorization:\n      type: Bearer\n      credentials_file: " + tok + "\n    tls_config:\n")
		if auth.CAFile != "" {
			b.WriteString("      ca_file: " + auth.CAFile + "\n")
		} else {
			b.WriteString("      insecure_skip_verify: true\n")
		}
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	p := &Prometheus{URL: "http://" + addr}
	p.proc = start(t, prometheusBin, append([]string{"--config.file=" + cfg, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--log.level=warn"}, args...)...)
	t.Cleanup(p.proc.stop)
	Eventually(t, 30*time.Second, func() string {
		if p.proc.exited() {
			t.Fatalf("prometheus exited: %s", trimLog(p.proc.Output()))
		}
		resp, err := http.Get(p.URL + "/-/ready")
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return resp.Status
		}
		return ""
	})
	return p
}

// Target is one entry of /api/v1/targets.
type Target struct {
	ScrapeURL string `json:"scrapeUrl"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
}

// Targets returns the active targets.
func (p *Prometheus) Targets(t testing.TB) []Target {
	t.Helper()
	var r struct {
		Data struct {
			ActiveTargets []Target `json:"activeTargets"`
		} `json:"data"`
	}
	p.get(t, "/api/v1/targets", &r)
	return r.Data.ActiveTargets
}

// WaitTargetsUp waits until every target is healthy with no scrape error.
func (p *Prometheus) WaitTargetsUp(t testing.TB) {
	t.Helper()
	Eventually(t, 30*time.Second, func() string {
		ts := p.Targets(t)
		if len(ts) == 0 {
			return "no active targets"
		}
		for _, tg := range ts {
			if tg.Health != "up" || tg.LastError != "" {
				return fmt.Sprintf("target %s health=%q lastError=%q", tg.ScrapeURL, tg.Health, tg.LastError)
			}
		}
		return ""
	})
}

// Sample is one element of an instant-vector result.
type Sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// Float is the sample value.
func (s Sample) Float() float64 {
	var f float64
	str, _ := s.Value[1].(string)
	_, _ = fmt.Sscan(str, &f)
	return f
}

// Query runs an instant query and returns the vector; a query error fails.
func (p *Prometheus) Query(t testing.TB, q string) []Sample {
	t.Helper()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	p.get(t, "/api/v1/query?query="+url.QueryEscape(q), &r)
	if r.Status != "success" {
		t.Fatalf("query %q: %s", q, r.Error)
	}
	var out []Sample
	if r.Data.ResultType == "vector" {
		if err := json.Unmarshal(r.Data.Result, &out); err != nil {
			t.Fatalf("query %q: decode result: %v", q, err)
		}
	}
	return out
}

// WaitQuery waits until q returns at least one sample and returns them.
func (p *Prometheus) WaitQuery(t testing.TB, q string) []Sample {
	t.Helper()
	var out []Sample
	Eventually(t, 30*time.Second, func() string {
		out = p.Query(t, q)
		if len(out) == 0 {
			return "query " + q + " returned no data"
		}
		return ""
	})
	return out
}

// ExemplarSeries is one element of a /api/v1/query_exemplars result.
type ExemplarSeries struct {
	SeriesLabels map[string]string `json:"seriesLabels"`
	Exemplars    []Exemplar        `json:"exemplars"`
}

// Exemplar is one stored exemplar.
type Exemplar struct {
	Labels    map[string]string `json:"labels"`
	Value     string            `json:"value"`
	Timestamp float64           `json:"timestamp"`
}

// QueryExemplars returns the exemplars stored for the series q selects
// between start and end (Prometheus needs --enable-feature=exemplar-storage
// to store any); a query error fails.
func (p *Prometheus) QueryExemplars(t testing.TB, q string, start, end time.Time) []ExemplarSeries {
	t.Helper()
	var r struct {
		Status string           `json:"status"`
		Error  string           `json:"error"`
		Data   []ExemplarSeries `json:"data"`
	}
	v := url.Values{"query": {q}, "start": {start.UTC().Format(time.RFC3339Nano)}, "end": {end.UTC().Format(time.RFC3339Nano)}}
	p.get(t, "/api/v1/query_exemplars?"+v.Encode(), &r)
	if r.Status != "success" {
		t.Fatalf("query_exemplars %q: %s", q, r.Error)
	}
	return r.Data
}

func (p *Prometheus) get(t testing.TB, path string, into any) {
	t.Helper()
	resp, err := http.Get(p.URL + path)
	if err != nil {
		t.Fatalf("prometheus %s: %v", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatalf("prometheus %s: decode: %v", path, err)
	}
}

// PromtoolRules runs `promtool check rules` on a rules file and returns its
// output and whether it passed.
func PromtoolRules(t testing.TB, path string) (string, bool) {
	t.Helper()
	Need(t, promtoolBin, installPromMsg)
	out, err := exec.Command(promtoolBin, "check", "rules", path).CombinedOutput()
	return string(out), err == nil
}

// Promtool runs `promtool check metrics` on an exposition and returns its
// combined output and whether it passed.
func Promtool(t testing.TB, exposition []byte) (string, bool) {
	t.Helper()
	Need(t, promtoolBin, installPromMsg)
	cmd := exec.Command(promtoolBin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// PromtoolOpenMetrics checks an OpenMetrics exposition with Prometheus's
// own OpenMetrics parser, which `promtool check metrics` (2.42) lacks: that
// command reads the text format only, and fails on an exemplar ("expected
// integer as timestamp, got #"). The parser is reached through `promtool
// tsdb create-blocks-from openmetrics`, which wants a timestamp on every
// sample, so each sample line gets one (the same for all) after its value;
// everything else, exemplars included, is passed as it is. It returns the
// combined output and whether promtool accepted the input.
func PromtoolOpenMetrics(t testing.TB, exposition []byte) (string, bool) {
	t.Helper()
	Need(t, promtoolBin, installPromMsg)
	dir := t.TempDir()
	in := filepath.Join(dir, "exposition.om")
	stamped, err := stampSamples(exposition, "1700000000")
	if err != nil {
		return err.Error(), false
	}
	if err := os.WriteFile(in, stamped, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtoolBin, "tsdb", "create-blocks-from", "openmetrics", in, filepath.Join(dir, "blocks")).CombinedOutput()
	return string(out), err == nil
}

// stampSamples inserts " "+ts after the value of every sample line.
func stampSamples(b []byte, ts string) ([]byte, error) {
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 || line[0] == '#' {
			out.Write(line)
			continue
		}
		end, err := sampleValueEnd(line)
		if err != nil {
			return nil, err
		}
		out.Write(line[:end])
		out.WriteString(" " + ts)
		out.Write(line[end:])
	}
	return out.Bytes(), nil
}

// sampleValueEnd returns the offset just past the value of a sample line:
// the name, the labels (whose quoted values may hold spaces and braces),
// a space and the value.
func sampleValueEnd(line []byte) (int, error) {
	i := bytes.IndexAny(line, " {")
	if i < 0 {
		return 0, fmt.Errorf("sample line without a value: %q", line)
	}
	if line[i] == '{' {
		if i = labelsEnd(line, i); i < 0 {
			return 0, fmt.Errorf("unterminated labels: %q", line)
		}
	}
	if i >= len(line) || line[i] != ' ' {
		return 0, fmt.Errorf("no space before the value: %q", line)
	}
	i++
	j := bytes.IndexAny(line[i:], " \n")
	if j < 0 {
		return len(line), nil
	}
	return i + j, nil
}

// labelsEnd returns the offset just past the "}" that closes the labels
// opening at line[open], or -1.
func labelsEnd(line []byte, open int) int {
	quoted := false
	for i := open + 1; i < len(line); i++ {
		switch c := line[i]; {
		case quoted && c == '\\':
			i++ // an escaped byte
		case c == '"':
			quoted = !quoted
		case !quoted && c == '}':
			return i + 1
		}
	}
	return -1
}
