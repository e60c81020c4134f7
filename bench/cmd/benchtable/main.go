// Command benchtable reads the output of `make bench` and prints the ratio
// tables of docs/benchmarks.md. Every comparison is paired: the k-th sample
// of optel and the k-th sample of its anchor were measured back to back
// (make bench runs the scrape benchmarks as rotated pairs of processes; the
// operator benchmark runs every variant in each sample, rotated;
// BenchmarkRecord pairs inside the benchmark). A row shows the median of
// the paired ratios and their range over the pairs. A target is met only
// when every pair meets it, not met when none does, and "not resolvable
// here" when the pairs straddle it.
//
//	make bench        # writes .cache/bench/<date>.txt and runs this
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

// orderKey is where the operator benchmarks' logged orders are kept: under
// orderKey+benchmark, one "unit" per sample order seen ("a,b,c"), its
// values the sample numbers.
const orderKey = "order "

var (
	procsSuffix = regexp.MustCompile(`-\d+$`)
	orderLine   = regexp.MustCompile(`order (Benchmark\w+) (\d+): (\S+)`)
)

func parse(r io.Reader, into samples) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := orderLine.FindStringSubmatch(sc.Text()); m != nil {
			k, _ := strconv.Atoi(m[2])
			name := orderKey + m[1]
			if into[name] == nil {
				into[name] = map[string][]float64{}
			}
			into[name][m[3]] = append(into[name][m[3]], float64(k))
			continue
		}
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

// paired returns the ratios a[k]/b[k] of the k-th samples of two
// benchmarks' units. Both must have the same number of samples, or the
// k-th ones may not have run back to back: then it returns none, and says
// so on stderr (and the row reads "not paired", see pairedCell).
func (s samples) paired(a, ua, b, ub string) []float64 {
	va, vb := s[a][ua], s[b][ub]
	if len(va) != len(vb) {
		fmt.Fprintf(os.Stderr, "benchtable: %s %s has %d samples and %s %s has %d: not paired\n", a, ua, len(va), b, ub, len(vb))
		return nil
	}
	out := make([]float64, 0, len(va))
	for k := range va {
		if vb[k] == 0 {
			fmt.Fprintf(os.Stderr, "benchtable: %s %s sample %d is 0: not paired\n", b, ub, k)
			return nil
		}
		out = append(out, va[k]/vb[k])
	}
	return out
}

// unpaired says why a comparison has no pairs, for its row.
func (s samples) unpaired(a, ua, b, ub string) string {
	return fmt.Sprintf("not paired (%d and %d samples)", len(s[a][ua]), len(s[b][ub]))
}

func med(v []float64) float64 {
	c := slices.Clone(v)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// minPairs is the fewest pairs a verdict is given on.
const minPairs = 10

// verdict judges paired ratios against a target (ratio ≤ target, or ≥ with
// atLeast): met only if every pair meets it, and only with minPairs pairs.
func verdictN(r []float64, target float64, atLeast bool) string {
	if target != 0 && len(r) < minPairs {
		return fmt.Sprintf("not resolvable here (%d pairs, fewer than %d)", len(r), minPairs)
	}
	return verdict(slices.Min(r), slices.Max(r), target, atLeast)
}

func verdict(lo, hi, target float64, atLeast bool) string {
	switch {
	case target == 0:
		return "-"
	case !atLeast && hi <= target, atLeast && lo >= target:
		return "**met**"
	case !atLeast && lo > target, atLeast && hi < target:
		return "**not met**"
	}
	return "not resolvable here"
}

func tgt(target float64, atLeast bool) string {
	switch {
	case target == 0:
		return "-"
	case atLeast:
		return fmt.Sprintf("≥ %.2f", target)
	}
	return fmt.Sprintf("≤ %.2f", target)
}

// ratioCell is "median [min–max], n pairs".
func ratioCell(r []float64) string {
	return fmt.Sprintf("%.2f [%.2f–%.2f], %d pairs", med(r), slices.Min(r), slices.Max(r), len(r))
}

// cell describes a benchmark's median time with its allocations, body size
// and memory.
func (s samples) cell(name string) string {
	t := s.get(name, "ns/op")
	if !t.ok {
		return "not run"
	}
	out := fmtNs(t.median)
	if a := s.get(name, "allocs/op"); a.ok {
		out += fmt.Sprintf(", %.0f allocs", a.median)
	}
	if b := s.get(name, "body-bytes"); b.ok {
		out += ", body " + fmtBytes(b.median)
	}
	if p := s.get(name, "peak-heap-MiB"); p.ok {
		out += fmt.Sprintf(", peak +%.0f MiB", p.median)
	}
	if r := s.get(name, "retained-MiB"); r.ok && r.median >= 1 {
		out += fmt.Sprintf(", keeps %.0f MiB", r.median)
	}
	return out
}

var recordCases = []string{"counter/precomputed", "counter/per-call", "histogram/precomputed", "histogram/per-call", "updown/precomputed", "updown/per-call"}

func (s samples) printRecord(w io.Writer) {
	fmt.Fprintln(w, "| Recording (optel vs anchor, rotated pairs in one process) | optel | anchor | paired ratio, median [range] | target | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, c := range recordCases {
		for _, a := range []struct{ name, what string }{
			{"vs-sdk", "raw SDK, options hoisted, exemplars off"},
			{"vs-sdk-default-exemplars", "raw SDK, options hoisted, default exemplar filter"},
			{"vs-client_golang", "client_golang"},
		} {
			name := "BenchmarkRecord/" + c + "/" + a.name
			m := s[name]
			if len(m["ratio-median"]) == 0 {
				continue
			}
			target := 0.0
			if a.name == "vs-sdk" && strings.HasSuffix(c, "precomputed") {
				target = 1.0
			}
			lo, hi := slices.Min(m["ratio-min"]), slices.Max(m["ratio-max"])
			v := verdict(lo, hi, target, false)
			if n := slices.Min(m["pairs"]); target != 0 && n < minPairs {
				v = fmt.Sprintf("not resolvable here (%.0f pairs, fewer than %d)", n, minPairs)
			}
			fmt.Fprintf(w, "| %s, %s | %.0f ns, %.0f allocs | %.0f ns, %.0f allocs | %.2f [%.2f–%.2f], %.0f pairs | %s | %s |\n",
				c, a.what, med(m["a-ns/op"]), med(m["a-allocs/op"]), med(m["b-ns/op"]), med(m["b-allocs/op"]),
				med(m["ratio-median"]), lo, hi, med(m["pairs"]), tgt(target, false), v)
		}
	}
}

var sizes = []struct{ name, n string }{{"4k", "4000"}, {"100k", "100000"}, {"1M", "1000000"}}

func (s samples) printScrape(w io.Writer) {
	fmt.Fprintln(w, "| Scrape (optel vs client_golang promhttp, rotated pairs of processes) | optel (median) | client_golang (median) | paired time ratio, median [range] | target | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, size := range sizes {
		for _, k := range []struct {
			name, what string
			target     float64
		}{
			{"prometheus-gzip", "as Prometheus scrapes (its Accept header, gzip)", 0.25},
			{"prometheus-gzip-churn", "as Prometheus scrapes, every value changed and 1 % new series before each of 20 scrapes", 0.25},
			{"text", "uncompressed text (separate measurement)", 0},
			{"openmetrics", "uncompressed OpenMetrics (separate measurement)", 0},
		} {
			sub := "/" + k.name + "/series=" + size.n
			o, a := "BenchmarkScrapeOptel"+size.name+sub, "BenchmarkScrapeClientGolang"+size.name+sub
			if k.name == "prometheus-gzip-churn" {
				o, a = "BenchmarkScrapeChurnOptel"+size.name+sub, "BenchmarkScrapeChurnClientGolang"+size.name+sub
			}
			if len(s[o]["ns/op"])+len(s[a]["ns/op"]) == 0 {
				continue
			}
			r := s.paired(o, "ns/op", a, "ns/op")
			if len(r) == 0 {
				fmt.Fprintf(w, "| %s series, %s | %s | %s | %s | %s | not resolvable here |\n", size.name, k.what, s.cell(o), s.cell(a), s.unpaired(o, "ns/op", a, "ns/op"), tgt(k.target, false))
				continue
			}
			fmt.Fprintf(w, "| %s series, %s | %s | %s | %s | %s | %s |\n", size.name, k.what, s.cell(o), s.cell(a), ratioCell(r), tgt(k.target, false), verdictN(r, k.target, false))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Memory (as Prometheus scrapes) | optel | client_golang | target | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, size := range sizes {
		sub := "/prometheus-gzip/series=" + size.n
		o, a := "BenchmarkScrapeOptel"+size.name+sub, "BenchmarkScrapeClientGolang"+size.name+sub
		ret, aret := s[o]["retained-MiB"], s[a]["retained-MiB"]
		if len(ret) == 0 {
			continue
		}
		rt := 0.0
		if size.name == "1M" {
			rt = 100
		}
		anchor := "not measured"
		if len(aret) > 0 {
			anchor = fmt.Sprintf("%.1f MiB [%.1f–%.1f]", med(aret), slices.Min(aret), slices.Max(aret))
		}
		kv := verdict(slices.Min(ret), slices.Max(ret), rt, false)
		if rt != 0 && len(ret) < minPairs {
			kv = fmt.Sprintf("not resolvable here (%d samples, fewer than %d)", len(ret), minPairs)
		}
		fmt.Fprintf(w, "| %s series, kept between scrapes, %d samples | %.1f MiB [%.1f–%.1f] | %s | %s | %s |\n", size.name, len(ret), med(ret), slices.Min(ret), slices.Max(ret), anchor, tgtMiB(rt), kv)
		if r := s.paired(o, "peak-heap-MiB", a, "peak-heap-MiB"); len(r) > 0 {
			fmt.Fprintf(w, "| %s series, peak heap during one scrape (paired ratio %s) | +%.0f MiB | +%.0f MiB | ≤ 1.00 | %s |\n", size.name, ratioCell(r), med(s[o]["peak-heap-MiB"]), med(s[a]["peak-heap-MiB"]), verdictN(r, 1, false))
		} else {
			fmt.Fprintf(w, "| %s series, peak heap during one scrape, %s | | | ≤ 1.00 | not resolvable here |\n", size.name, s.unpaired(o, "peak-heap-MiB", a, "peak-heap-MiB"))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Other encoders, for information (one process each, not paired) | optel | anchor | ratio of medians |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, size := range sizes {
		for _, r := range []struct{ what, o, a string }{
			{"Stock OTel exporter, as Prometheus scrapes", "BenchmarkScrapeOptel" + size.name + "/prometheus-gzip/series=" + size.n, "BenchmarkScrapeStock" + size.name + "/prometheus-gzip/series=" + size.n},
			{"JSON /metrics.json vs client_golang uncompressed text", "BenchmarkExport" + size.name + "/json/series=" + size.n, "BenchmarkScrapeClientGolang" + size.name + "/text/series=" + size.n},
			{"OTLP/HTTP export vs client_golang uncompressed text", "BenchmarkExport" + size.name + "/otlp-http/series=" + size.n, "BenchmarkScrapeClientGolang" + size.name + "/text/series=" + size.n},
		} {
			o, a := s.get(r.o, "ns/op"), s.get(r.a, "ns/op")
			if !o.ok || !a.ok {
				continue
			}
			fmt.Fprintf(w, "| %s series, %s | %s | %s | %.2f |\n", size.name, r.what, s.cell(r.o), s.cell(r.a), o.median/a.median)
		}
	}
}

func tgtMiB(t float64) string {
	if t == 0 {
		return "-"
	}
	return fmt.Sprintf("≤ %.0f MiB", t)
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
	s.printRecord(os.Stdout)
	fmt.Println()
	s.printScrape(os.Stdout)
	fmt.Println()
	s.printOperator(os.Stdout)
	fmt.Println()
	s.printTracing(os.Stdout)
}

// printTracing adds the cost of the third signal: operator CPU per change
// with every run traced and exported over OTLP against tracing off
// (BenchmarkOperatorTracing, rotated pairs), and the record path with
// exemplars on against off (BenchmarkRecordExemplars, rotated pairs).
func (s samples) printTracing(w io.Writer) {
	const b = "BenchmarkOperatorTracing"
	fmt.Fprintln(w, "| Tracing cost | tracing on | tracing off | paired ratio, median [range] | target | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	if len(s[b]["optel-tracing-on-cpu-µs/change"]) > 0 {
		rot, rotatedOK := s.rotation(b, len(s[b]["optel-tracing-off-cpu-µs/change"]))
		fmt.Fprintf(w, "| tracing samples: %s | | | | | |\n", rot)
		for _, v := range []struct{ name, what string }{{"optel-tracing-on", "OTLP to loopback, always_on"}, {"optel-tracing-json", "json (the in-memory view, the default)"}} {
			for _, u := range []struct {
				unit, what string
				target     float64
				atLeast    bool
			}{{"cpu-µs/change", "operator CPU µs per change", 1.10, false}, {"changes/s", "operator changes per second", 0, true}} {
				r := s.paired(b, v.name+"-"+u.unit, b, "optel-tracing-off-"+u.unit)
				if len(r) == 0 {
					fmt.Fprintf(w, "| %s, tracing %s | | | %s | %s | not resolvable here |\n", u.what, v.what, s.unpaired(b, v.name+"-"+u.unit, b, "optel-tracing-off-"+u.unit), tgt(u.target, u.atLeast))
					continue
				}
				vd := verdictN(r, u.target, u.atLeast)
				if !rotatedOK && u.target != 0 {
					vd = "not resolvable here (the order is not shown to rotate)"
				}
				fmt.Fprintf(w, "| %s, tracing %s | %.1f | %.1f | %s | %s | %s |\n", u.what, v.what, med(s[b][v.name+"-"+u.unit]), med(s[b]["optel-tracing-off-"+u.unit]),
					ratioCell(r), tgt(u.target, u.atLeast), vd)
			}
		}
	} else {
		fmt.Fprintln(w, "| operator CPU per change | not run | | | | |")
	}
	for _, c := range []string{"histogram/precomputed", "counter/precomputed"} {
		m := s["BenchmarkRecordExemplars/"+c]
		if len(m["ratio-median"]) == 0 {
			continue
		}
		lo, hi := slices.Min(m["ratio-min"]), slices.Max(m["ratio-max"])
		fmt.Fprintf(w, "| record %s in a sampled span, exemplars on / off | %.0f ns, %.0f allocs | %.0f ns, %.0f allocs | %.2f [%.2f–%.2f], %.0f pairs | for information | |\n",
			c, med(m["a-ns/op"]), med(m["a-allocs/op"]), med(m["b-ns/op"]), med(m["b-allocs/op"]), med(m["ratio-median"]), lo, hi, med(m["pairs"]))
	}
}

// rotation reads the orders benchmark logged for its samples and says
// whether they rotated: as many orders as want samples, successive samples
// starting with different variants, and, with at least as many samples as
// variants, every variant first at least once.
func (s samples) rotation(benchmark string, want int) (string, bool) {
	byK := map[int][]string{}
	for order, ks := range s[orderKey+benchmark] {
		for _, k := range ks {
			byK[int(k)] = strings.Split(order, ",")
		}
	}
	if want == 0 || len(byK) != want {
		return fmt.Sprintf("%d sample orders logged for %d samples", len(byK), want), false
	}
	ks := slices.Sorted(func(yield func(int) bool) {
		for k := range byK {
			if !yield(k) {
				return
			}
		}
	})
	first := map[string]int{}
	for i, k := range ks {
		first[byK[k][0]]++
		if i > 0 && byK[k][0] == byK[ks[i-1]][0] {
			return fmt.Sprintf("samples %d and %d both start with %s", ks[i-1], k, byK[k][0]), false
		}
	}
	n := len(byK[ks[0]])
	if want >= n && len(first) < n {
		return fmt.Sprintf("only %d of %d variants ever ran first", len(first), n), false
	}
	var parts []string
	for _, v := range byK[ks[0]] {
		parts = append(parts, fmt.Sprintf("%s %d", v, first[v]))
	}
	return fmt.Sprintf("order rotated over %d samples; times first: %s", want, strings.Join(parts, ", ")), true
}

// printOperator adds the operator rows: each sample of
// BenchmarkOperatorThroughput ran every variant back to back, rotated, so
// the k-th figures of two variants are a pair.
func (s samples) printOperator(w io.Writer) {
	const b = "BenchmarkOperatorThroughput"
	if len(s[b]["controller-runtime-changes/s"]) == 0 {
		fmt.Fprintln(w, "Operator throughput: not run.")
		return
	}
	fmt.Fprintln(w, "| Operator (1000 creations + 1000 updates, real API server) | optel, telemetry on | optel, telemetry off | controller-runtime, cached reads | controller-runtime, cached reads, GenerationChangedPredicate |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, u := range []struct{ unit, what string }{{"changes/s", "changes per second"}, {"cpu-µs/change", "CPU µs per change (this process)"}, {"api-calls/change", "API calls per change"}} {
		pred := "not run"
		if v := s[b]["controller-runtime-predicate-"+u.unit]; len(v) > 0 {
			pred = fmt.Sprintf("%.1f", med(v))
		}
		fmt.Fprintf(w, "| %s, median | %.1f | %.1f | %.1f | %s |\n", u.what,
			med(s[b]["optel-telemetry-on-"+u.unit]), med(s[b]["optel-telemetry-off-"+u.unit]), med(s[b]["controller-runtime-"+u.unit]), pred)
	}
	rot, rotatedOK := s.rotation(b, len(s[b]["controller-runtime-changes/s"]))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Operator samples: %s.\n\n", rot)
	fmt.Fprintln(w, "| Operator comparison | paired ratio, median [range] | target | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, c := range []struct {
		what, a, b, unit string
		target           float64
		atLeast          bool
	}{
		{"throughput, optel (telemetry on) / controller-runtime", "optel-telemetry-on", "controller-runtime", "changes/s", 1.0, true},
		{"CPU per change, optel (telemetry on) / controller-runtime", "optel-telemetry-on", "controller-runtime", "cpu-µs/change", 0.7, false},
		{"throughput, optel (telemetry on) / controller-runtime with GenerationChangedPredicate", "optel-telemetry-on", "controller-runtime-predicate", "changes/s", 1.0, true},
		{"CPU per change, optel (telemetry on) / controller-runtime with GenerationChangedPredicate", "optel-telemetry-on", "controller-runtime-predicate", "cpu-µs/change", 0.7, false},
		{"throughput, telemetry on / off", "optel-telemetry-on", "optel-telemetry-off", "changes/s", 0.97, true},
		{"CPU per change, telemetry on / off", "optel-telemetry-on", "optel-telemetry-off", "cpu-µs/change", 1.03, false},
	} {
		if len(s[b][c.a+"-"+c.unit])+len(s[b][c.b+"-"+c.unit]) == 0 {
			continue
		}
		r := s.paired(b, c.a+"-"+c.unit, b, c.b+"-"+c.unit)
		switch {
		case len(r) == 0:
			fmt.Fprintf(w, "| %s | %s | %s | not resolvable here |\n", c.what, s.unpaired(b, c.a+"-"+c.unit, b, c.b+"-"+c.unit), tgt(c.target, c.atLeast))
		case !rotatedOK:
			fmt.Fprintf(w, "| %s | %s | %s | not resolvable here (the order is not shown to rotate) |\n", c.what, ratioCell(r), tgt(c.target, c.atLeast))
		default:
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", c.what, ratioCell(r), tgt(c.target, c.atLeast), verdictN(r, c.target, c.atLeast))
		}
	}
}
