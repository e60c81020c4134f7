// Command benchtable reads `go test -bench` output (several -count runs of
// optel's bench suite) and prints the ratio table of docs/benchmarks.md:
// every optel figure divided by its anchor's from the same run, with the
// issue's target and whether it is met. Medians are used throughout; the
// spread column is the half-range of the samples relative to the median.
//
//	go test -run '^$' -bench . -count 5 ./bench | tee out.txt
//	go run ./cmd/benchtable out.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// samples maps benchmark name (without the -GOMAXPROCS suffix) and unit to
// the values seen.
type samples map[string]map[string][]float64

var procsSuffix = regexp.MustCompile(`-\d+$`)

func parse(r io.Reader, into samples) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := procsSuffix.ReplaceAllString(f[0], "")
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			if into[name] == nil {
				into[name] = map[string][]float64{}
			}
			into[name][f[i+1]] = append(into[name][f[i+1]], v)
		}
	}
	return sc.Err()
}

type stat struct {
	median, spread float64
	n              int
	ok             bool
}

func (s samples) get(name, unit string) stat {
	v := s[name][unit]
	if len(v) == 0 {
		return stat{}
	}
	c := slices.Clone(v)
	slices.Sort(c)
	m := c[len(c)/2]
	if len(c)%2 == 0 {
		m = (c[len(c)/2-1] + c[len(c)/2]) / 2
	}
	sp := 0.0
	if m != 0 {
		sp = (c[len(c)-1] - c[0]) / 2 / m
	}
	return stat{median: m, spread: sp, n: len(c), ok: true}
}

func fmtNs(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func fmtBytes(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// cell describes one benchmark's median time with its allocations.
func (s samples) cell(name string) string {
	t := s.get(name, "ns/op")
	if !t.ok {
		return "not run"
	}
	out := fmt.Sprintf("%s ±%.0f%%", fmtNs(t.median), 100*t.spread)
	if a := s.get(name, "allocs/op"); a.ok {
		out += fmt.Sprintf(", %.0f allocs", a.median)
	}
	if b := s.get(name, "B/op"); b.ok && b.median >= 1<<10 {
		out += ", " + fmtBytes(b.median)
	}
	if p := s.get(name, "peak-heap-MiB"); p.ok {
		out += fmt.Sprintf(", peak +%.0f MiB", p.median)
	}
	if r := s.get(name, "retained-MiB"); r.ok && r.median >= 1 {
		out += fmt.Sprintf(", keeps %.0f MiB", r.median)
	}
	return out
}

type row struct {
	what, optel, anchor string
	unit                string
	target              float64 // ratio optel/anchor must be <= target (or >= with atLeast)
	atLeast             bool
	fewerAllocs         bool // also require fewer allocations than the anchor
}

func (s samples) print(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| Comparison | optel | anchor | ratio | target | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	skipped := 0
	defer func() {
		if skipped > 0 {
			fmt.Fprintf(w, "\n%d comparisons had no optel figure in this output (the 1M cases of `make bench-1m` come in their own file; pass both).\n", skipped)
		}
	}()
	for _, r := range rows {
		unit := r.unit
		if unit == "" {
			unit = "ns/op"
		}
		o, a := s.get(r.optel, unit), s.get(r.anchor, unit)
		oc, ac := s.cell(r.optel), s.cell(r.anchor)
		if unit != "ns/op" {
			oc, ac = fmt.Sprintf("%.1f %s", o.median, unit), fmt.Sprintf("%.1f %s", a.median, unit)
		}
		if !o.ok {
			skipped++
			continue
		}
		if !a.ok || a.median == 0 {
			fmt.Fprintf(w, "| %s | %s | %s | - | %s | not run |\n", r.what, orNot(o.ok, oc), orNot(a.ok, ac), target(r))
			continue
		}
		ratio := o.median / a.median
		met := ratio <= r.target
		if r.atLeast {
			met = ratio >= r.target
		}
		if r.fewerAllocs {
			oa, aa := s.get(r.optel, "allocs/op"), s.get(r.anchor, "allocs/op")
			met = met && oa.ok && aa.ok && oa.median < aa.median
		}
		verdict := "**yes**"
		if !met {
			verdict = "**NO**"
		}
		if r.target == 0 {
			verdict = "-"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.2f | %s | %s |\n", r.what, oc, ac, ratio, target(r), verdict)
	}
}

func orNot(ok bool, s string) string {
	if ok {
		return s
	}
	return "not run"
}

func target(r row) string {
	switch {
	case r.target == 0:
		return "-"
	case r.atLeast:
		return fmt.Sprintf("≥ %.2f", r.target)
	case r.fewerAllocs:
		return fmt.Sprintf("≤ %.2f, fewer allocs", r.target)
	}
	return fmt.Sprintf("≤ %.2f", r.target)
}

func rows() []row {
	var rs []row
	for _, op := range []struct{ bench, what string }{
		{"BenchmarkCounterAdd", "Counter add"},
		{"BenchmarkHistogramRecord", "Histogram record"},
		{"BenchmarkUpDownAdd", "UpDownCounter add"},
	} {
		for _, attrs := range []string{"precomputed", "per-call"} {
			o := op.bench + "/optel/" + attrs
			tgt := 0.0
			if attrs == "precomputed" {
				tgt = 1.0
			}
			rs = append(rs,
				row{what: op.what + ", " + attrs + " attributes, vs raw SDK", optel: o, anchor: op.bench + "/sdk/" + attrs, target: tgt},
				row{what: op.what + ", " + attrs + " attributes, vs raw SDK with exemplars off", optel: o, anchor: op.bench + "/sdk-exemplars-off/" + attrs},
				row{what: op.what + ", " + attrs + " attributes, vs client_golang", optel: o, anchor: op.bench + "/client_golang/" + attrs},
			)
		}
	}
	for _, size := range []struct{ name, n string }{{"4k", "4000"}, {"100k", "100000"}, {"1M", "1000000"}} {
		for _, f := range []string{"text", "openmetrics"} {
			sub := "/" + f + "/series=" + size.n
			o := "BenchmarkScrapeOptel" + size.name + sub
			rs = append(rs,
				row{what: "Scrape " + size.name + " series, " + f + ", vs client_golang", optel: o, anchor: "BenchmarkScrapeClientGolang" + size.name + sub, target: 0.5, fewerAllocs: true},
				row{what: "Scrape " + size.name + " series, " + f + ", vs stock OTel exporter", optel: o, anchor: "BenchmarkScrapeStock" + size.name + sub},
			)
		}
		rs = append(rs,
			row{what: "JSON /metrics.json " + size.name + " series, vs client_golang text", optel: "BenchmarkExport" + size.name + "/json/series=" + size.n, anchor: "BenchmarkScrapeClientGolang" + size.name + "/text/series=" + size.n},
			row{what: "OTLP/HTTP export " + size.name + " series, vs client_golang text", optel: "BenchmarkExport" + size.name + "/otlp-http/series=" + size.n, anchor: "BenchmarkScrapeClientGolang" + size.name + "/text/series=" + size.n},
		)
	}
	return rs
}

func main() {
	s := samples{}
	if len(os.Args) < 2 {
		if err := parse(os.Stdin, s); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for _, p := range os.Args[1:] {
		f, err := os.Open(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		err = parse(f, s)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	s.print(os.Stdout, rows())
	s.printOperator(os.Stdout)
}

// printOperator adds the operator rows, whose figures are custom metrics of
// one benchmark rather than separate benchmarks.
func (s samples) printOperator(w io.Writer) {
	const b = "BenchmarkOperatorThroughput"
	on, off, cr := s.get(b, "optel-telemetry-on-changes/s"), s.get(b, "optel-telemetry-off-changes/s"), s.get(b, "controller-runtime-changes/s")
	fmt.Fprintln(w)
	if !on.ok || !off.ok || !cr.ok {
		fmt.Fprintln(w, "Operator throughput: not run.")
		return
	}
	fmt.Fprintln(w, "| Operator (1000 creations + 1000 updates, real API server) | changes/s (median, spread) |")
	fmt.Fprintln(w, "|---|---|")
	fmt.Fprintf(w, "| optel, self-telemetry on | %.0f ±%.0f%% (n=%d) |\n", on.median, 100*on.spread, on.n)
	fmt.Fprintf(w, "| optel, self-telemetry off | %.0f ±%.0f%% |\n", off.median, 100*off.spread)
	fmt.Fprintf(w, "| controller-runtime v0.25 reconciler | %.0f ±%.0f%% |\n", cr.median, 100*cr.spread)
	onCPU, offCPU, crCPU := s.get(b, "optel-telemetry-on-cpu-µs/change"), s.get(b, "optel-telemetry-off-cpu-µs/change"), s.get(b, "controller-runtime-cpu-µs/change")
	if onCPU.ok && offCPU.ok && crCPU.ok {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| Operator CPU (this process: operator plus the benchmark's own requests) | µs per change (median, spread) |")
		fmt.Fprintln(w, "|---|---|")
		fmt.Fprintf(w, "| optel, self-telemetry on | %.0f ±%.0f%% |\n", onCPU.median, 100*onCPU.spread)
		fmt.Fprintf(w, "| optel, self-telemetry off | %.0f ±%.0f%% |\n", offCPU.median, 100*offCPU.spread)
		fmt.Fprintf(w, "| controller-runtime v0.25 reconciler | %.0f ±%.0f%% |\n", crCPU.median, 100*crCPU.spread)
	}
	overhead := 100 * (off.median - on.median) / off.median
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- self-telemetry overhead, throughput: %.1f%% (target ≤ 3%%: %s)\n", overhead, yesNo(overhead <= 3))
	if onCPU.ok && offCPU.ok {
		cpuOver := 100 * (onCPU.median - offCPU.median) / offCPU.median
		fmt.Fprintf(w, "- self-telemetry overhead, CPU per change: %.1f%% (target ≤ 3%%: %s)\n", cpuOver, yesNo(cpuOver <= 3))
	}
	ratio := on.median / cr.median
	fmt.Fprintf(w, "- optel / controller-runtime: %.2f (target ≥ 0.90: %s)\n", ratio, yesNo(ratio >= 0.9))
}

func yesNo(b bool) string {
	if b {
		return "**yes**"
	}
	return "**NO**"
}
