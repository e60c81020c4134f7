package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
)

// captureStderr runs f with os.Stderr redirected to a file and returns what
// f wrote there.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	old := os.Stderr
	os.Stderr = tmp
	defer func() { os.Stderr = old }()
	f()
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(tmp)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want samples
	}{
		{
			name: "empty input",
			in:   "",
			want: samples{},
		},
		{
			name: "custom units, the -GOMAXPROCS suffix dropped",
			in:   "BenchmarkOperatorThroughput-2   \t       1\t7021686220 ns/op\t         1.002 controller-runtime-api-calls/change\t       384.0 controller-runtime-changes/s\t       801.2 controller-runtime-cpu-µs/change\t  998544 B/op\t    7353 allocs/op\n",
			want: samples{"BenchmarkOperatorThroughput": {
				"ns/op":                               {7021686220},
				"controller-runtime-api-calls/change": {1.002},
				"controller-runtime-changes/s":        {384},
				"controller-runtime-cpu-µs/change":    {801.2},
				"B/op":                                {998544},
				"allocs/op":                           {7353},
			}},
		},
		{
			name: "sub-benchmark name, samples appended in order",
			in: "BenchmarkScrapeOptel4k/prometheus-gzip/series=4000-2 \t 140\t 8128670 ns/op\t 169057 body-bytes\t 0.3311 retained-MiB\n" +
				"BenchmarkScrapeOptel4k/prometheus-gzip/series=4000-2 \t 150\t 7000000 ns/op\t 169000 body-bytes\t 0.25 retained-MiB\n",
			want: samples{"BenchmarkScrapeOptel4k/prometheus-gzip/series=4000": {
				"ns/op":        {8128670, 7000000},
				"body-bytes":   {169057, 169000},
				"retained-MiB": {0.3311, 0.25},
			}},
		},
		{
			name: "no -GOMAXPROCS suffix (GOMAXPROCS=1): name kept whole",
			in:   "BenchmarkRecord/counter/precomputed/vs-sdk \t 1\t 100 ns/op\t 15 pairs\n",
			want: samples{"BenchmarkRecord/counter/precomputed/vs-sdk": {
				"ns/op": {100},
				"pairs": {15},
			}},
		},
		{
			name: "a value that is not a number is skipped, the pairs after it kept",
			in:   "BenchmarkX-2 1 abc weird 5 ns/op\n",
			want: samples{"BenchmarkX": {"ns/op": {5}}},
		},
		{
			name: "logged orders, under orderKey+benchmark, sample numbers as values",
			in: "--- BENCH: BenchmarkOperatorThroughput-2\n" +
				"    operator_test.go:225: order BenchmarkOperatorThroughput 3: a,b,c\n" +
				"    operator_test.go:225: order BenchmarkOperatorThroughput 4: b,c,a\n" +
				"    operator_test.go:225: order BenchmarkOperatorThroughput 6: a,b,c\n" +
				"    operator_test.go:247: order BenchmarkOperatorTracing 0: off,on,json\n",
			want: samples{
				"order BenchmarkOperatorThroughput": {"a,b,c": {3, 6}, "b,c,a": {4}},
				"order BenchmarkOperatorTracing":    {"off,on,json": {0}},
			},
		},
		{
			name: "order lines beside a benchmark line",
			in: "BenchmarkOperatorThroughput-2 \t 1\t 5 ns/op\t 300 controller-runtime-changes/s\n" +
				"--- BENCH: BenchmarkOperatorThroughput-2\n" +
				"    operator_test.go:225: order BenchmarkOperatorThroughput 0: controller-runtime,optel\n",
			want: samples{
				"BenchmarkOperatorThroughput":       {"ns/op": {5}, "controller-runtime-changes/s": {300}},
				"order BenchmarkOperatorThroughput": {"controller-runtime,optel": {0}},
			},
		},
		{
			name: "lines that are not results are ignored",
			in: "goos: linux\ngoarch: amd64\npkg: github.com/optel-dev/optel/bench\ncpu: Some CPU\n" +
				"BenchmarkFoo-2 \t--- FAIL\n" +
				"BenchmarkFoo-2 \tsome log output 1 ns/op\n" +
				"BenchmarkFoo-2\n" +
				"       1\t7021686220 ns/op\n" +
				"NotABenchmark-2 1 5 ns/op\n" +
				"order of things: a,b\n" +
				"PASS\nok  \tgithub.com/optel-dev/optel/bench\t12.3s\n",
			want: samples{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := samples{}
			if err := parse(strings.NewReader(tc.in), got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parse:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestParseAppendsAcrossCalls(t *testing.T) {
	s := samples{}
	for _, in := range []string{"BenchmarkX-2 1 10 ns/op\n", "BenchmarkX-2 1 20 ns/op\n"} {
		if err := parse(strings.NewReader(in), s); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := s["BenchmarkX"]["ns/op"], []float64{10, 20}; !reflect.DeepEqual(got, want) {
		t.Errorf("two files: got %v, want %v", got, want)
	}
}

// TestParseLongLines: lines up to 1 MiB are read (bufio.Scanner's default
// stops at 64 KiB), longer ones are an error.
func TestParseLongLines(t *testing.T) {
	long := "BenchmarkX-2 1 10 ns/op" + strings.Repeat(" ", 200<<10) + "7 long-unit\n"
	s := samples{}
	if err := parse(strings.NewReader(long), s); err != nil {
		t.Fatalf("a %d-byte line: %v", len(long), err)
	}
	if want := (samples{"BenchmarkX": {"ns/op": {10}, "long-unit": {7}}}); !reflect.DeepEqual(s, want) {
		t.Errorf("a %d-byte line: got %v, want %v", len(long), s, want)
	}
	in := "BenchmarkX-2 1 10 ns/op\n" + strings.Repeat("x", 1<<20+1) + "\n"
	if err := parse(strings.NewReader(in), samples{}); err == nil {
		t.Error("a line over 1 MiB: no error")
	}
}

func TestVerdict(t *testing.T) {
	const (
		met   = "**met**"
		unmet = "**not met**"
		open  = "not resolvable here"
	)
	for _, tc := range []struct {
		lo, hi, target float64
		atLeast        bool
		want           string
	}{
		// No target: nothing to judge.
		{0.5, 2, 0, false, "-"},
		{0.5, 2, 0, true, "-"},
		// ratio ≤ target: met when the highest pair meets it.
		{0.5, 0.6, 0.7, false, met},
		{0.5, 0.7, 0.7, false, met}, // equal meets it
		{0.8, 0.9, 0.7, false, unmet},
		{0.7, 0.9, 0.7, false, open}, // the lowest pair meets it, not the highest
		{0.6, 0.8, 0.7, false, open},
		// ratio ≥ target: met when the lowest pair meets it.
		{1.1, 1.3, 1.0, true, met},
		{1.0, 1.3, 1.0, true, met}, // equal meets it
		{0.8, 0.9, 1.0, true, unmet},
		{0.8, 1.0, 1.0, true, open}, // the highest pair meets it, not the lowest
		{0.9, 1.1, 1.0, true, open},
	} {
		t.Run(fmt.Sprintf("%v-%v_target%v_atLeast%v", tc.lo, tc.hi, tc.target, tc.atLeast), func(t *testing.T) {
			if got := verdict(tc.lo, tc.hi, tc.target, tc.atLeast); got != tc.want {
				t.Errorf("verdict(%v, %v, %v, %v) = %q, want %q", tc.lo, tc.hi, tc.target, tc.atLeast, got, tc.want)
			}
		})
	}
}

func TestVerdictN(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       []float64
		target  float64
		atLeast bool
		want    string
	}{
		{"≤, every pair meets it", []float64{0.5, 0.6, 0.65, 0.55, 0.7, 0.4, 0.6, 0.6, 0.6, 0.6}, 0.7, false, "**met**"},
		{"≤, none does", []float64{0.8, 0.9, 1.2, 0.75, 0.8, 0.8, 0.8, 0.8, 0.8, 0.71}, 0.7, false, "**not met**"},
		// The one pair over the target is neither first nor last: the
		// range must be taken over all pairs, not the ends of the slice.
		{"≤, one pair over", []float64{0.5, 0.6, 0.6, 0.6, 0.9, 0.6, 0.6, 0.6, 0.6, 0.5}, 0.7, false, "not resolvable here"},
		{"≥, every pair meets it", []float64{1.0, 1.1, 1.2, 1.05, 1.3, 1.0, 1.1, 1.1, 1.1, 1.1}, 1.0, true, "**met**"},
		{"≥, none does", []float64{0.9, 0.8, 0.96, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9}, 0.97, true, "**not met**"},
		{"≥, one pair under", []float64{1.1, 1.1, 1.1, 0.9, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1}, 1.0, true, "not resolvable here"},
		{"11 pairs are enough", []float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, 0.7, false, "**met**"},
		{"9 pairs, all meeting it, are too few", []float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, 0.7, false, "not resolvable here (9 pairs, fewer than 10)"},
		{"9 pairs, none meeting it, are too few", []float64{1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5}, 1.0, true, "not resolvable here (9 pairs, fewer than 10)"},
		{"1 pair", []float64{0.5}, 0.7, false, "not resolvable here (1 pairs, fewer than 10)"},
		{"no pairs", nil, 0.7, false, "not resolvable here (0 pairs, fewer than 10)"},
		{"no target, few pairs", []float64{0.5, 2}, 0, false, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := verdictN(tc.r, tc.target, tc.atLeast); got != tc.want {
				t.Errorf("verdictN(%v, %v, %v) = %q, want %q", tc.r, tc.target, tc.atLeast, got, tc.want)
			}
		})
	}
}

func TestPaired(t *testing.T) {
	for _, tc := range []struct {
		name       string
		s          samples
		a, ua      string
		b, ub      string
		want       []float64
		wantStderr string // a substring; "" wants none at all
	}{
		{
			// Not in sorted order: pairing sorted values would give
			// 2/1, 3/3, 9/4 instead.
			name: "equal counts pair k-th with k-th",
			s:    samples{"A": {"ns/op": {2, 9, 3}}, "B": {"ns/op": {1, 3, 4}}},
			a:    "A", ua: "ns/op", b: "B", ub: "ns/op",
			want: []float64{2, 3, 0.75},
		},
		{
			name: "two units of one benchmark",
			s:    samples{"T": {"on-cpu": {110, 60}, "off-cpu": {100, 50}}},
			a:    "T", ua: "on-cpu", b: "T", ub: "off-cpu",
			want: []float64{1.1, 1.2},
		},
		{
			name: "a zero numerator is a ratio of 0",
			s:    samples{"A": {"u": {0, 4}}, "B": {"u": {5, 2}}},
			a:    "A", ua: "u", b: "B", ub: "u",
			want: []float64{0, 2},
		},
		{
			name: "unequal counts give none",
			s:    samples{"A": {"ns/op": {1, 2, 3}}, "B": {"ns/op": {1, 2}}},
			a:    "A", ua: "ns/op", b: "B", ub: "ns/op",
			want:       nil,
			wantStderr: "A ns/op has 3 samples and B ns/op has 2: not paired",
		},
		{
			name: "an anchor never run gives none",
			s:    samples{"A": {"ns/op": {1, 2}}},
			a:    "A", ua: "ns/op", b: "B", ub: "ns/op",
			want:       nil,
			wantStderr: "has 2 samples and B ns/op has 0: not paired",
		},
		{
			name: "a zero anchor gives none",
			s:    samples{"A": {"ns/op": {1, 2, 3}}, "B": {"ns/op": {1, 0, 3}}},
			a:    "A", ua: "ns/op", b: "B", ub: "ns/op",
			want:       nil,
			wantStderr: "B ns/op sample 1 is 0: not paired",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []float64
			stderr := captureStderr(t, func() { got = tc.s.paired(tc.a, tc.ua, tc.b, tc.ub) })
			if len(got) != len(tc.want) || (len(tc.want) > 0 && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("paired = %v, want %v", got, tc.want)
			}
			if tc.wantStderr == "" && stderr != "" {
				t.Errorf("stderr %q, want none", stderr)
			}
			if tc.wantStderr != "" && !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr %q, want it to say %q", stderr, tc.wantStderr)
			}
		})
	}
}

// withOrders is samples holding the given logged orders of benchmark, the
// i-th order for sample number ks[i].
func withOrders(benchmark string, ks []int, orders []string) samples {
	m := map[string][]float64{}
	for i, k := range ks {
		m[orders[i]] = append(m[orders[i]], float64(k))
	}
	return samples{orderKey + benchmark: m}
}

func TestRotation(t *testing.T) {
	const b = "BenchmarkOperatorThroughput"
	abcd := []string{"a,b,c,d", "b,c,d,a", "c,d,a,b", "d,a,b,c"}
	rotated10 := make([]string, 10)
	for k := range rotated10 {
		rotated10[k] = abcd[k%4]
	}
	seq := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		s      samples
		want   int
		ok     bool
		reason string
	}{
		{
			// First: a at 0, 4, 8; b at 1, 5, 9; c at 2, 6; d at 3, 7.
			name:   "rotated over 10 samples",
			s:      withOrders(b, seq(10), rotated10),
			want:   10,
			ok:     true,
			reason: "order rotated over 10 samples; times first: a 3, b 3, c 2, d 2",
		},
		{
			name:   "rotated, logged out of order",
			s:      withOrders(b, []int{3, 1, 0, 2}, []string{abcd[3], abcd[1], abcd[0], abcd[2]}),
			want:   4,
			ok:     true,
			reason: "order rotated over 4 samples; times first: a 1, b 1, c 1, d 1",
		},
		{
			// Fewer samples than variants: not every variant can run first.
			name:   "2 samples of 4 variants",
			s:      withOrders(b, seq(2), abcd[:2]),
			want:   2,
			ok:     true,
			reason: "order rotated over 2 samples; times first: a 1, b 1, c 0, d 0",
		},
		{
			name:   "two variants alternating",
			s:      withOrders(b, seq(4), []string{"x,y", "y,x", "x,y", "y,x"}),
			want:   4,
			ok:     true,
			reason: "order rotated over 4 samples; times first: x 2, y 2",
		},
		{
			name:   "two successive samples start with the same variant",
			s:      withOrders(b, seq(4), []string{"a,b,c", "b,c,a", "b,a,c", "c,a,b"}),
			want:   4,
			reason: "samples 1 and 2 both start with b",
		},
		{
			name:   "the same order twice running",
			s:      withOrders(b, seq(3), []string{"a,b,c", "a,b,c", "b,c,a"}),
			want:   3,
			reason: "samples 0 and 1 both start with a",
		},
		{
			name:   "an order missing",
			s:      withOrders(b, seq(9), rotated10[:9]),
			want:   10,
			reason: "9 sample orders logged for 10 samples",
		},
		{
			name:   "no orders logged",
			s:      samples{b: {"controller-runtime-changes/s": {1, 2, 3}}},
			want:   3,
			reason: "0 sample orders logged for 3 samples",
		},
		{
			name:   "orders logged for another benchmark only",
			s:      withOrders("BenchmarkOperatorTracing", seq(4), abcd),
			want:   4,
			reason: "0 sample orders logged for 4 samples",
		},
		{
			name:   "more orders than samples",
			s:      withOrders(b, seq(10), rotated10),
			want:   9,
			reason: "10 sample orders logged for 9 samples",
		},
		{
			// Two runs' outputs read together: sample numbers repeat.
			name:   "the same sample numbers logged twice",
			s:      withOrders(b, []int{0, 1, 0, 1}, []string{abcd[0], abcd[1], abcd[0], abcd[1]}),
			want:   4,
			reason: "2 sample orders logged for 4 samples",
		},
		{
			// Never twice running, yet c never runs first.
			name:   "a variant never first",
			s:      withOrders(b, seq(4), []string{"a,b,c", "b,c,a", "a,b,c", "b,c,a"}),
			want:   4,
			reason: "only 2 of 3 variants ever ran first",
		},
		{
			name:   "a variant never first, exactly as many samples as variants",
			s:      withOrders(b, seq(3), []string{"a,b,c", "b,a,c", "a,c,b"}),
			want:   3,
			reason: "only 2 of 3 variants ever ran first",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, ok := tc.s.rotation(b, tc.want)
			if ok != tc.ok || reason != tc.reason {
				t.Errorf("rotation = %q, %v; want %q, %v", reason, ok, tc.reason, tc.ok)
			}
		})
	}
}

// operatorOutput is a synthetic `go test -bench BenchmarkOperatorThroughput
// -benchtime=1x -count=10` output, with the k-th sample's order logged as
// the benchmark logs it (its variants rotated by k) when withOrders.
func operatorOutput(withOrders bool) string {
	variants := []string{"optel-telemetry-on", "optel-telemetry-off", "controller-runtime", "controller-runtime-predicate"}
	// Per sample k: optel with telemetry on changes 100 to 200 per second
	// (shuffled), at 600 µs each; off changes 100 per second at 600 µs
	// (even k) or 500 µs (odd k); controller-runtime 100 per second at
	// 1000 µs, with the predicate 200 per second at 500 µs.
	onRate := []float64{140, 200, 100, 170, 110, 190, 130, 160, 120, 180}
	var w strings.Builder
	w.WriteString("goos: linux\ngoarch: amd64\npkg: github.com/optel-dev/optel/bench\ncpu: Synthetic CPU\n")
	for k := range 10 {
		offCPU := 600.0
		if k%2 == 1 {
			offCPU = 500
		}
		fmt.Fprintf(&w, "BenchmarkOperatorThroughput-2   \t       1\t%d ns/op", 7000000000+k)
		for _, m := range []struct {
			v    float64
			unit string
		}{
			{1.002, "controller-runtime-api-calls/change"},
			{100, "controller-runtime-changes/s"},
			{1000, "controller-runtime-cpu-µs/change"},
			{1.002, "controller-runtime-predicate-api-calls/change"},
			{200, "controller-runtime-predicate-changes/s"},
			{500, "controller-runtime-predicate-cpu-µs/change"},
			{1.001, "optel-telemetry-off-api-calls/change"},
			{100, "optel-telemetry-off-changes/s"},
			{offCPU, "optel-telemetry-off-cpu-µs/change"},
			{1.001, "optel-telemetry-on-api-calls/change"},
			{onRate[k], "optel-telemetry-on-changes/s"},
			{600, "optel-telemetry-on-cpu-µs/change"},
		} {
			fmt.Fprintf(&w, "\t%12.4g %s", m.v, m.unit)
		}
		w.WriteString("\t  998544 B/op\t    7353 allocs/op\n")
		if withOrders {
			var order []string
			for j := range variants {
				order = append(order, variants[(k+j)%len(variants)])
			}
			fmt.Fprintf(&w, "--- BENCH: BenchmarkOperatorThroughput-2\n    operator_test.go:225: order BenchmarkOperatorThroughput %d: %s\n", k, strings.Join(order, ","))
		}
	}
	w.WriteString("PASS\nok  \tgithub.com/optel-dev/optel/bench\t700.123s\n")
	return w.String()
}

func TestPrintOperator(t *testing.T) {
	// The medians, by hand: on's rates sorted are 100 110 120 130 140 160
	// 170 180 190 200, median (140+160)/2 = 150; off's CPU is five 500s
	// and five 600s, median 550.
	medians := []string{
		"| changes per second, median | 150.0 | 100.0 | 100.0 | 200.0 |",
		"| CPU µs per change (this process), median | 600.0 | 550.0 | 1000.0 | 500.0 |",
		"| API calls per change, median | 1.0 | 1.0 | 1.0 | 1.0 |",
	}
	// The paired ratios, by hand:
	//   on/cr throughput: onRate/100, 1.00 to 2.00, median (1.40+1.60)/2;
	//     all ≥ 1.00 (the lowest equal to it): met.
	//   on/cr CPU: 600/1000 = 0.60 each, ≤ 0.70: met.
	//   on/predicate throughput: onRate/200, 0.50 to 1.00, median
	//     (0.70+0.80)/2; only the highest reaches 1.00: not resolvable.
	//   on/predicate CPU: 600/500 = 1.20 each, over 0.70: not met.
	//   on/off throughput: onRate/100 again, all ≥ 0.97: met.
	//   on/off CPU: 600/600 = 1.00 (even k) and 600/500 = 1.20 (odd k),
	//     median 1.10; straddles 1.03: not resolvable.
	type row struct{ what, ratio, target, verdict string }
	rows := []row{
		{"throughput, optel (telemetry on) / controller-runtime", "1.50 [1.00–2.00], 10 pairs", "≥ 1.00", "**met**"},
		{"CPU per change, optel (telemetry on) / controller-runtime", "0.60 [0.60–0.60], 10 pairs", "≤ 0.70", "**met**"},
		{"throughput, optel (telemetry on) / controller-runtime with GenerationChangedPredicate", "0.75 [0.50–1.00], 10 pairs", "≥ 1.00", "not resolvable here"},
		{"CPU per change, optel (telemetry on) / controller-runtime with GenerationChangedPredicate", "1.20 [1.20–1.20], 10 pairs", "≤ 0.70", "**not met**"},
		{"throughput, telemetry on / off", "1.50 [1.00–2.00], 10 pairs", "≥ 0.97", "**met**"},
		{"CPU per change, telemetry on / off", "1.10 [1.00–1.20], 10 pairs", "≤ 1.03", "not resolvable here"},
	}
	for _, tc := range []struct {
		name      string
		orders    bool
		samples   string
		verdictOf func(row) string
	}{
		{
			// Sample k starts with variant k mod 4: on at 0, 4, 8; off at
			// 1, 5, 9; controller-runtime at 2, 6; the predicate at 3, 7.
			name:      "rotated",
			orders:    true,
			samples:   "Operator samples: order rotated over 10 samples; times first: optel-telemetry-on 3, optel-telemetry-off 3, controller-runtime 2, controller-runtime-predicate 2.",
			verdictOf: func(r row) string { return r.verdict },
		},
		{
			name:      "no order lines",
			orders:    false,
			samples:   "Operator samples: 0 sample orders logged for 10 samples.",
			verdictOf: func(row) string { return "not resolvable here (the order is not shown to rotate)" },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := samples{}
			if err := parse(strings.NewReader(operatorOutput(tc.orders)), s); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			stderr := captureStderr(t, func() { s.printOperator(&out) })
			if stderr != "" {
				t.Errorf("stderr: %q", stderr)
			}
			lines := strings.Split(out.String(), "\n")
			has := func(want string) {
				t.Helper()
				for _, l := range lines {
					if l == want {
						return
					}
				}
				t.Errorf("no line %q in\n%s", want, out.String())
			}
			for _, m := range medians {
				has(m)
			}
			has(tc.samples)
			for _, r := range rows {
				has(fmt.Sprintf("| %s | %s | %s | %s |", r.what, r.ratio, r.target, tc.verdictOf(r)))
			}
			if n := strings.Count(out.String(), "\n| throughput, ") + strings.Count(out.String(), "\n| CPU per change, "); n != len(rows) {
				t.Errorf("%d comparison rows, want %d:\n%s", n, len(rows), out.String())
			}
			if !tc.orders && strings.Contains(out.String(), "met**") {
				t.Errorf("a verdict without the order shown to rotate:\n%s", out.String())
			}
		})
	}
}

func TestPrintOperatorNotRun(t *testing.T) {
	var out bytes.Buffer
	samples{}.printOperator(&out)
	if got, want := out.String(), "Operator throughput: not run.\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
