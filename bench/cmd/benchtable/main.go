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

// lineUnit is the pseudo-unit under which parse keeps, for every sample of
// a benchmark, its position in the input: the scrape benchmarks run as
// pairs of processes, one after the other, so which of two samples ran
// first is the order of their lines (interleaved).
const lineUnit = "_line"

func parse(r io.Reader, into samples) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
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
		if into[name] == nil {
			into[name] = map[string][]float64{}
		}
		into[name][lineUnit] = append(into[name][lineUnit], float64(line))
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

// interleaved checks that the k-th samples of benchmarks a and b ran as
// a pair: for every k, both ran after the (k-1)-th of either and before
// the (k+1)-th of either (their lines do not overlap other pairs'), and a
// ran first in as many pairs as b, give or take one. It says why not.
func (s samples) interleaved(a, b string) (string, bool) {
	la, lb := s[a][lineUnit], s[b][lineUnit]
	if len(la) != len(lb) || len(la) == 0 {
		return fmt.Sprintf("%d and %d samples", len(la), len(lb)), false
	}
	aFirst := 0
	for k := range la {
		if la[k] < lb[k] {
			aFirst++
		}
		if k > 0 && min(la[k], lb[k]) < max(la[k-1], lb[k-1]) {
			return fmt.Sprintf("sample %d of one ran before sample %d of the other ended its pair", k, k-1), false
		}
	}
	if d := 2*aFirst - len(la); d < -1 || d > 1 {
		return fmt.Sprintf("optel ran first in %d of %d pairs", aFirst, len(la)), false
	}
	return fmt.Sprintf("optel first in %d of %d pairs", aFirst, len(la)), true
}

// pairOrder counts, over the samples of benchmark whose order was logged,
// those where variant a ran before variant b and the reverse, and says
// whether they balance (differ by at most one) over want samples.
func (s samples) pairOrder(benchmark, a, b string, want int) (string, bool) {
	aFirst, bFirst := 0, 0
	for order, ks := range s[orderKey+benchmark] {
		names := strings.Split(order, ",")
		ia, ib := slices.Index(names, a), slices.Index(names, b)
		if ia < 0 || ib < 0 {
			continue
		}
		if ia < ib {
			aFirst += len(ks)
		} else {
			bFirst += len(ks)
		}
	}
	ok := aFirst+bFirst == want && want > 0 && aFirst-bFirst <= 1 && bFirst-aFirst <= 1
	return fmt.Sprintf("%s first in %d of %d", a, aFirst, aFirst+bFirst), ok
}

// differences returns the paired differences a[k]-b[k], or none when the
// counts differ.
func (s samples) differences(a, ua, b, ub string) []float64 {
	va, vb := s[a][ua], s[b][ub]
	if len(va) != len(vb) {
		return nil
	}
	out := make([]float64, len(va))
	for k := range va {
		out[k] = va[k] - vb[k]
	}
	return out
}

// diffCell is "median [min, max]" of paired differences.
func diffCell(d []float64, unit string) string {
	if len(d) == 0 {
		return "-"
	}
	return fmt.Sprintf("%+.0f %s [%+.0f, %+.0f]", med(d), unit, slices.Min(d), slices.Max(d))
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
		out += fmt.Sprintf(", heap +%.0f MiB in one scrape", p.median)
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
			pairing, ok := s.interleaved(o, a)
			v := verdictN(r, k.target, false)
			if !ok && k.target != 0 {
				v = "not resolvable here (not paired: " + pairing + ")"
			}
			fmt.Fprintf(w, "| %s series, %s | %s | %s | %s; %s | %s | %s |\n", size.name, k.what, s.cell(o), s.cell(a), ratioCell(r), pairing, tgt(k.target, false), v)
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
			v := verdictN(r, 1, false)
			if pairing, ok := s.interleaved(o, a); !ok {
				v = "not resolvable here (not paired: " + pairing + ")"
			}
			fmt.Fprintf(w, "| %s series, heap growth during one scrape after a GC (paired ratio %s) | +%.0f MiB | +%.0f MiB | ≤ 1.00 | %s |\n", size.name, ratioCell(r), med(s[o]["peak-heap-MiB"]), med(s[a]["peak-heap-MiB"]), v)
		} else {
			fmt.Fprintf(w, "| %s series, heap growth during one scrape after a GC, %s | | | ≤ 1.00 | not resolvable here |\n", size.name, s.unpaired(o, "peak-heap-MiB", a, "peak-heap-MiB"))
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
				ord, balanced := s.pairOrder(b, v.name, "optel-tracing-off", len(r))
				if (!rotatedOK || !balanced) && u.target != 0 {
					vd = "not resolvable here (the order is not shown to rotate and balance)"
				}
				unit := "µs"
				if u.unit == "changes/s" {
					unit = "/s"
				}
				fmt.Fprintf(w, "| %s, tracing %s | %.1f | %.1f | %s; paired difference %s; %s | %s | %s |\n", u.what, v.what, med(s[b][v.name+"-"+u.unit]), med(s[b]["optel-tracing-off-"+u.unit]),
					ratioCell(r), diffCell(s.differences(b, v.name+"-"+u.unit, b, "optel-tracing-off-"+u.unit), unit), ord, tgt(u.target, u.atLeast), vd)
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
	variants := []struct{ name, what string }{
		{"optel-telemetry-on", "optel, telemetry on"},
		{"optel-telemetry-off", "optel, telemetry off"},
		{"controller-runtime", "controller-runtime, cached reads"},
		{"controller-runtime-predicate", "controller-runtime, cached reads, GenerationChangedPredicate"},
		{"controller-runtime-rawpatch", "controller-runtime, cached reads, GenerationChangedPredicate, client.RawPatch"},
	}
	fmt.Fprint(w, "| Operator (1000 creations + 1000 updates, real API server) |")
	for _, v := range variants {
		fmt.Fprintf(w, " %s |", v.what)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "|---"+strings.Repeat("|---", len(variants))+"|")
	for _, u := range []struct{ unit, what string }{{"changes/s", "changes per second"}, {"cpu-µs/change", "CPU µs per change (its process)"}, {"api-calls/change", "API calls per change"}} {
		fmt.Fprintf(w, "| %s, median |", u.what)
		for _, v := range variants {
			if vs := s[b][v.name+"-"+u.unit]; len(vs) > 0 {
				fmt.Fprintf(w, " %.1f |", med(vs))
			} else {
				fmt.Fprint(w, " not run |")
			}
		}
		fmt.Fprintln(w)
	}
	n := len(s[b]["controller-runtime-changes/s"])
	rot, rotatedOK := s.rotation(b, n)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Operator samples: %s.\n\n", rot)
	fmt.Fprintln(w, "| Operator comparison | paired ratio, median [range] | paired difference, median [range] | order | target | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	type comparison struct {
		what, a, b, unit string
		target           float64
		atLeast          bool
	}
	var cs []comparison
	for _, anchor := range variants[2:] {
		cs = append(cs,
			comparison{"throughput, optel (telemetry on) / " + anchor.what, "optel-telemetry-on", anchor.name, "changes/s", 1.0, true},
			comparison{"CPU per change, optel (telemetry on) / " + anchor.what, "optel-telemetry-on", anchor.name, "cpu-µs/change", 0.7, false})
	}
	cs = append(cs,
		comparison{"throughput, telemetry on / off", "optel-telemetry-on", "optel-telemetry-off", "changes/s", 0.97, true},
		comparison{"CPU per change, telemetry on / off", "optel-telemetry-on", "optel-telemetry-off", "cpu-µs/change", 1.03, false})
	for _, c := range cs {
		if len(s[b][c.a+"-"+c.unit])+len(s[b][c.b+"-"+c.unit]) == 0 {
			continue
		}
		r := s.paired(b, c.a+"-"+c.unit, b, c.b+"-"+c.unit)
		unit := "µs"
		if c.unit == "changes/s" {
			unit = "/s"
		}
		d := diffCell(s.differences(b, c.a+"-"+c.unit, b, c.b+"-"+c.unit), unit)
		ord, balanced := s.pairOrder(b, c.a, c.b, n)
		switch {
		case len(r) == 0:
			fmt.Fprintf(w, "| %s | %s | - | %s | %s | not resolvable here |\n", c.what, s.unpaired(b, c.a+"-"+c.unit, b, c.b+"-"+c.unit), ord, tgt(c.target, c.atLeast))
		case !rotatedOK || !balanced:
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | not resolvable here (the order is not shown to rotate and balance) |\n", c.what, ratioCell(r), d, ord, tgt(c.target, c.atLeast))
		default:
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", c.what, ratioCell(r), d, ord, tgt(c.target, c.atLeast), verdictN(r, c.target, c.atLeast))
		}
	}
}
