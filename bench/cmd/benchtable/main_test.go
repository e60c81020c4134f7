package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
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
				lineUnit:                              {1},
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
				lineUnit:       {1, 2},
				"ns/op":        {8128670, 7000000},
				"body-bytes":   {169057, 169000},
				"retained-MiB": {0.3311, 0.25},
			}},
		},
		{
			name: "no -GOMAXPROCS suffix (GOMAXPROCS=1): name kept whole",
			in:   "BenchmarkRecord/counter/precomputed/vs-sdk \t 1\t 100 ns/op\t 15 pairs\n",
			want: samples{"BenchmarkRecord/counter/precomputed/vs-sdk": {
				lineUnit: {1},
				"ns/op":  {100},
				"pairs":  {15},
			}},
		},
		{
			name: "a value that is not a number is skipped, the pairs after it kept",
			in:   "BenchmarkX-2 1 abc weird 5 ns/op\n",
			want: samples{"BenchmarkX": {lineUnit: {1}, "ns/op": {5}}},
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
				"BenchmarkOperatorThroughput":       {lineUnit: {1}, "ns/op": {5}, "controller-runtime-changes/s": {300}},
				"order BenchmarkOperatorThroughput": {"controller-runtime,optel": {0}},
			},
		},
		{
			// Every line counts, results or not: A's results are on
			// lines 2, 7 and 9 (1-based), B's on 3 and 6.
			name: "line numbers of the results, across other lines",
			in: "goos: linux\n" +
				"BenchmarkA-2 1 10 ns/op\n" +
				"BenchmarkB/sub=1-2 1 20 ns/op\n" +
				"--- BENCH: BenchmarkA-2\n" +
				"    x_test.go:1: order BenchmarkA 0: a,b\n" +
				"BenchmarkB/sub=1-2 1 21 ns/op\n" +
				"BenchmarkA-2 1 11 ns/op\n" +
				"PASS\n" +
				"BenchmarkA-2 1 12 ns/op\n",
			want: samples{
				"BenchmarkA":       {lineUnit: {2, 7, 9}, "ns/op": {10, 11, 12}},
				"BenchmarkB/sub=1": {lineUnit: {3, 6}, "ns/op": {20, 21}},
				"order BenchmarkA": {"a,b": {0}},
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
	// Line numbers count within each input: both results are on line 1.
	if got, want := s["BenchmarkX"][lineUnit], []float64{1, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("two files' line numbers: got %v, want %v", got, want)
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
	if want := (samples{"BenchmarkX": {lineUnit: {1}, "ns/op": {10}, "long-unit": {7}}}); !reflect.DeepEqual(s, want) {
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

func TestInterleaved(t *testing.T) {
	lines := func(a, b []float64) samples {
		s := samples{}
		if a != nil {
			s["A"] = map[string][]float64{lineUnit: a}
		}
		if b != nil {
			s["B"] = map[string][]float64{lineUnit: b}
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		s      samples
		ok     bool
		reason string
	}{
		{
			// Pairs (1,2) (4,3) (5,6) (8,7) ...: A first at k = 0, 2, 4,
			// 6, 8.
			name:   "alternating pairs",
			s:      lines([]float64{1, 4, 5, 8, 9, 12, 13, 16, 17, 20}, []float64{2, 3, 6, 7, 10, 11, 14, 15, 18, 19}),
			ok:     true,
			reason: "optel first in 5 of 10 pairs",
		},
		{
			// Other lines between the processes' results.
			name:   "alternating pairs, with gaps",
			s:      lines([]float64{5, 30, 41, 70}, []float64{12, 22, 50, 61}),
			ok:     true,
			reason: "optel first in 2 of 4 pairs",
		},
		{
			name:   "odd number of pairs, A first once more",
			s:      lines([]float64{1, 4, 5}, []float64{2, 3, 6}),
			ok:     true,
			reason: "optel first in 2 of 3 pairs",
		},
		{
			name:   "odd number of pairs, B first once more",
			s:      lines([]float64{2, 3, 6}, []float64{1, 4, 5}),
			ok:     true,
			reason: "optel first in 1 of 3 pairs",
		},
		{
			// A's results on lines 5 to 14, B's on 15 to 24: sample 1
			// of A (line 6) ran before sample 0 of B (line 15).
			name:   "a single -count=10 run: all of A before all of B",
			s:      lines([]float64{5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, []float64{15, 16, 17, 18, 19, 20, 21, 22, 23, 24}),
			reason: "sample 1 of one ran before sample 0 of the other ended its pair",
		},
		{
			name:   "A always first",
			s:      lines([]float64{1, 3, 5, 7}, []float64{2, 4, 6, 8}),
			reason: "optel ran first in 4 of 4 pairs",
		},
		{
			name:   "B always first",
			s:      lines([]float64{2, 4, 6, 8}, []float64{1, 3, 5, 7}),
			reason: "optel ran first in 0 of 4 pairs",
		},
		{
			// A first at k = 0, 2, 3: 3 against 1.
			name:   "A first twice more",
			s:      lines([]float64{1, 4, 5, 7}, []float64{2, 3, 6, 8}),
			reason: "optel ran first in 3 of 4 pairs",
		},
		{
			// Balanced (A first at k = 0 and 2), but B's sample 2 (line
			// 9) ran after both of sample 3 (lines 7 and 8).
			name:   "pairs overlap, though balanced",
			s:      lines([]float64{1, 4, 5, 8}, []float64{2, 3, 9, 7}),
			reason: "sample 3 of one ran before sample 2 of the other ended its pair",
		},
		{
			name:   "unequal counts",
			s:      lines([]float64{1, 4, 5}, []float64{2, 3}),
			reason: "3 and 2 samples",
		},
		{
			name:   "B never run",
			s:      lines([]float64{1, 2}, nil),
			reason: "2 and 0 samples",
		},
		{
			name:   "neither run",
			s:      samples{},
			reason: "0 and 0 samples",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, ok := tc.s.interleaved("A", "B")
			if ok != tc.ok || reason != tc.reason {
				t.Errorf("interleaved = %q, %v; want %q, %v", reason, ok, tc.reason, tc.ok)
			}
		})
	}
}

// TestInterleavedFromParse reads make bench's way of running a scrape
// pair, one process after the other, each with its header and PASS: optel
// first in the first pair (lines 2 and 5), client_golang in the second
// (lines 8 and 11).
func TestInterleavedFromParse(t *testing.T) {
	const (
		o = "BenchmarkScrapeOptel4k/prometheus-gzip/series=4000"
		c = "BenchmarkScrapeClientGolang4k/prometheus-gzip/series=4000"
	)
	in := "goos: linux\n" + o + "-2 10 100 ns/op\nPASS\n" +
		"goos: linux\n" + c + "-2 10 300 ns/op\nPASS\n" +
		"goos: linux\n" + c + "-2 10 310 ns/op\nPASS\n" +
		"goos: linux\n" + o + "-2 10 110 ns/op\nPASS\n"
	s := samples{}
	if err := parse(strings.NewReader(in), s); err != nil {
		t.Fatal(err)
	}
	if reason, ok := s.interleaved(o, c); !ok || reason != "optel first in 1 of 2 pairs" {
		t.Errorf("interleaved = %q, %v; want %q, true", reason, ok, "optel first in 1 of 2 pairs")
	}
	// The same results, read as one process running each benchmark
	// twice (optel's on lines 2 and 3, client_golang's on 4 and 5).
	s = samples{}
	in = "goos: linux\n" + o + "-2 10 100 ns/op\n" + o + "-2 10 110 ns/op\n" + c + "-2 10 300 ns/op\n" + c + "-2 10 310 ns/op\nPASS\n"
	if err := parse(strings.NewReader(in), s); err != nil {
		t.Fatal(err)
	}
	if reason, ok := s.interleaved(o, c); ok || reason != "sample 1 of one ran before sample 0 of the other ended its pair" {
		t.Errorf("one -count=2 run: interleaved = %q, %v; want it not paired", reason, ok)
	}
}

func TestPairOrder(t *testing.T) {
	const b = "BenchmarkOperatorThroughput"
	seq := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	// Five variants rotated by k over 10 samples: a runs before d in the
	// rotations by 0 (a,b,c,d,e) and 4 (e,a,b,c,d) only, so in 4 of 10.
	// As the benchmarks order them (rotated by k/2, reversed when k is
	// odd) a runs before d in samples 0, 3, 5, 7 and 8: 5 of 10.
	abcde := []string{"a,b,c,d,e", "b,c,d,e,a", "c,d,e,a,b", "d,e,a,b,c", "e,a,b,c,d"}
	var plain []string
	for k := range 10 {
		plain = append(plain, abcde[k%5])
	}
	reversed := []string{"a,b,c,d,e", "e,d,c,b,a", "b,c,d,e,a", "a,e,d,c,b", "c,d,e,a,b", "b,a,e,d,c", "d,e,a,b,c", "c,b,a,e,d", "e,a,b,c,d", "d,c,b,a,e"}
	for _, tc := range []struct {
		name   string
		s      samples
		a, b   string
		want   int
		ok     bool
		reason string
	}{
		{
			name: "alternating", s: withOrders(b, seq(4), []string{"a,b", "b,a", "a,b", "b,a"}),
			a: "a", b: "b", want: 4, ok: true, reason: "a first in 2 of 4",
		},
		{
			name: "the other way round", s: withOrders(b, seq(4), []string{"a,b", "b,a", "a,b", "b,a"}),
			a: "b", b: "a", want: 4, ok: true, reason: "b first in 2 of 4",
		},
		{
			name: "odd count, a first once more", s: withOrders(b, seq(3), []string{"a,b", "b,a", "a,b"}),
			a: "a", b: "b", want: 3, ok: true, reason: "a first in 2 of 3",
		},
		{
			name: "odd count, b first once more", s: withOrders(b, seq(3), []string{"b,a", "a,b", "b,a"}),
			a: "a", b: "b", want: 3, ok: true, reason: "a first in 1 of 3",
		},
		{
			name: "other variants between them", s: withOrders(b, seq(4), []string{"a,c,b", "c,b,a", "b,c,a", "c,a,b"}),
			a: "a", b: "b", want: 4, ok: true, reason: "a first in 2 of 4",
		},
		{
			name: "a always first", s: withOrders(b, seq(3), []string{"a,b", "a,b", "a,b"}),
			a: "a", b: "b", want: 3, reason: "a first in 3 of 3",
		},
		{
			name: "a first twice more", s: withOrders(b, seq(4), []string{"a,b", "b,a", "a,b", "a,b"}),
			a: "a", b: "b", want: 4, reason: "a first in 3 of 4",
		},
		{
			name: "five variants rotated by k", s: withOrders(b, seq(10), plain),
			a: "a", b: "d", want: 10, reason: "a first in 4 of 10",
		},
		{
			name: "five variants rotated by k/2, odd k reversed", s: withOrders(b, seq(10), reversed),
			a: "a", b: "d", want: 10, ok: true, reason: "a first in 5 of 10",
		},
		{
			// Balanced over the orders logged, but fewer than the samples.
			name: "fewer orders than samples", s: withOrders(b, seq(4), []string{"a,b", "b,a", "a,b", "b,a"}),
			a: "a", b: "b", want: 5, reason: "a first in 2 of 4",
		},
		{
			name: "more orders than samples", s: withOrders(b, seq(4), []string{"a,b", "b,a", "a,b", "b,a"}),
			a: "a", b: "b", want: 3, reason: "a first in 2 of 4",
		},
		{
			// Sample 1 ran a alone (OPTEL_BENCH_VARIANTS): not counted.
			name: "a sample without b", s: withOrders(b, seq(3), []string{"a,b", "a", "b,a"}),
			a: "a", b: "b", want: 3, reason: "a first in 1 of 2",
		},
		{
			name: "no orders, no samples", s: samples{},
			a: "a", b: "b", want: 0, reason: "a first in 0 of 0",
		},
		{
			name: "orders of another benchmark only", s: withOrders("BenchmarkOperatorTracing", seq(2), []string{"a,b", "b,a"}),
			a: "a", b: "b", want: 2, reason: "a first in 0 of 0",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, ok := tc.s.pairOrder(b, tc.a, tc.b, tc.want)
			if ok != tc.ok || reason != tc.reason {
				t.Errorf("pairOrder(%s, %s, %d) = %q, %v; want %q, %v", tc.a, tc.b, tc.want, reason, ok, tc.reason, tc.ok)
			}
		})
	}
}

func TestDifferences(t *testing.T) {
	for _, tc := range []struct {
		name  string
		s     samples
		a, ua string
		b, ub string
		want  []float64
	}{
		{
			// Not sorted: sorted values would give 2-1, 3-3, 9-4.
			name: "k-th minus k-th",
			s:    samples{"A": {"u": {2, 9, 3}}, "B": {"u": {1, 3, 4}}},
			a:    "A", ua: "u", b: "B", ub: "u",
			want: []float64{1, 6, -1},
		},
		{
			name: "two units of one benchmark",
			s:    samples{"T": {"on": {110, 60}, "off": {100, 70}}},
			a:    "T", ua: "on", b: "T", ub: "off",
			want: []float64{10, -10},
		},
		{
			name: "unequal counts give none",
			s:    samples{"A": {"u": {1, 2, 3}}, "B": {"u": {1, 2}}},
			a:    "A", ua: "u", b: "B", ub: "u",
		},
		{
			name: "an anchor never run gives none",
			s:    samples{"A": {"u": {1, 2}}},
			a:    "A", ua: "u", b: "B", ub: "u",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.s.differences(tc.a, tc.ua, tc.b, tc.ub)
			if len(got) != len(tc.want) || (len(tc.want) > 0 && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("differences = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDiffCell(t *testing.T) {
	for _, tc := range []struct {
		d    []float64
		unit string
		want string
	}{
		{nil, "µs", "-"},
		{[]float64{}, "/s", "-"},
		{[]float64{-400}, "µs", "-400 µs [-400, -400]"},
		// Odd count: the middle of -50, 30, 100 is 30.
		{[]float64{100, -50, 30}, "µs", "+30 µs [-50, +100]"},
		// Even count: -40 -30 -20 -10, median -25.
		{[]float64{-10, -40, -20, -30}, "µs", "-25 µs [-40, -10]"},
		// The ends are not first and last: -7 1 5 9, median 3.
		{[]float64{5, -7, 9, 1}, "/s", "+3 /s [-7, +9]"},
		{[]float64{0, 0}, "/s", "+0 /s [+0, +0]"},
	} {
		if got := diffCell(tc.d, tc.unit); got != tc.want {
			t.Errorf("diffCell(%v, %q) = %q, want %q", tc.d, tc.unit, got, tc.want)
		}
	}
}

// metric is one value a benchmark result line reports.
type metric struct {
	v    float64
	unit string
}

// benchOutput is a synthetic `go test -bench <bench> -benchtime=1x
// -count=n` output: sample k's result line reports metrics(k), and is
// followed, as go test prints b.Logf, by the order the sample ran, logged
// as the benchmark logs it, orders[k] being indices into variants. No
// order lines when orders is nil.
func benchOutput(bench string, n int, variants []string, metrics func(k int) []metric, orders [][]int) string {
	var w strings.Builder
	w.WriteString("goos: linux\ngoarch: amd64\npkg: github.com/optel-dev/optel/bench\ncpu: Synthetic CPU\n")
	for k := range n {
		fmt.Fprintf(&w, "%s-2   \t       1\t%d ns/op", bench, 7000000000+k)
		for _, m := range metrics(k) {
			fmt.Fprintf(&w, "\t%12.4g %s", m.v, m.unit)
		}
		w.WriteString("\t  998544 B/op\t    7353 allocs/op\n")
		if orders != nil {
			var names []string
			for _, i := range orders[k] {
				names = append(names, variants[i])
			}
			fmt.Fprintf(&w, "--- BENCH: %s-2\n    operator_test.go:243: order %s %d: %s\n", bench, bench, k, strings.Join(names, ","))
		}
	}
	w.WriteString("PASS\nok  \tgithub.com/optel-dev/optel/bench\t700.123s\n")
	return w.String()
}

// Orders of 10 samples, as indices into the variants, written out by hand.
var (
	// As the benchmarks run five variants (order in ../../operator_test.go):
	// sample k is the variants rotated left by k/2, reversed when k is odd.
	// Variant 0 runs before 1 in samples 0, 3, 4, 6, 8; before 2 in 0, 3,
	// 5, 6, 8; before 3 in 0, 3, 5, 7, 8; before 4 in 0, 3, 5, 7, 9: each
	// 5 of 10. Firsts: 0 at k=0, 3; 4 at 1, 8; 1 at 2, 5; 2 at 4, 7; 3 at
	// 6, 9: twice each, never twice running.
	reversed5 = [][]int{
		{0, 1, 2, 3, 4}, // by 0
		{4, 3, 2, 1, 0}, // by 0, reversed
		{1, 2, 3, 4, 0}, // by 1
		{0, 4, 3, 2, 1}, // by 1, reversed
		{2, 3, 4, 0, 1}, // by 2
		{1, 0, 4, 3, 2},
		{3, 4, 0, 1, 2}, // by 3
		{2, 1, 0, 4, 3},
		{4, 0, 1, 2, 3}, // by 4
		{3, 2, 1, 0, 4},
	}
	// Rotated by k alone: variant 0 runs before i in 5-i of the five
	// rotations, so before 1 in 8 of 10, 2 in 6, 3 in 4, 4 in 2. Firsts:
	// 0 1 2 3 4 0 1 2 3 4.
	plain5 = [][]int{
		{0, 1, 2, 3, 4}, {1, 2, 3, 4, 0}, {2, 3, 4, 0, 1}, {3, 4, 0, 1, 2}, {4, 0, 1, 2, 3},
		{0, 1, 2, 3, 4}, {1, 2, 3, 4, 0}, {2, 3, 4, 0, 1}, {3, 4, 0, 1, 2}, {4, 0, 1, 2, 3},
	}
	// Three variants as the benchmarks run them. Variant 1 runs before 0
	// in samples 1, 2, 5, 7, 8, variant 2 before 0 in 1, 2, 4, 7, 8: 5 of
	// 10 each. Firsts: 0 2 1 0 2 1 0 2 1 0.
	reversed3 = [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {0, 2, 1}, {2, 0, 1}, {1, 0, 2}, {0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {0, 2, 1}}
	// Rotated by k alone: 1 runs before 0 in samples 1, 4, 7 (3 of 10), 2
	// before 0 in 1, 2, 4, 5, 7, 8 (6 of 10). Firsts: 0 1 2 0 1 2 0 1 2 0.
	plain3 = [][]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 1, 2}}
)

// replaced is orders with sample k's order replaced by o.
func replaced(orders [][]int, k int, o []int) [][]int {
	c := slices.Clone(orders)
	c[k] = o
	return c
}

// operatorOutput is a synthetic BenchmarkOperatorThroughput -count=10
// output with the given orders (none when nil). Per sample k: optel with
// telemetry on changes 100 to 200 per second (shuffled), at 600 µs each;
// off changes 100 per second at 600 µs (even k) or 500 µs (odd k);
// controller-runtime 100 per second at 1000 µs; with the predicate 200 per
// second at 500 µs; with client.RawPatch twice on's rate, at 900 µs (even
// k) or 1200 µs (odd k).
func operatorOutput(orders [][]int) string {
	variants := []string{"optel-telemetry-on", "optel-telemetry-off", "controller-runtime", "controller-runtime-predicate", "controller-runtime-rawpatch"}
	onRate := []float64{140, 200, 100, 170, 110, 190, 130, 160, 120, 180}
	return benchOutput("BenchmarkOperatorThroughput", 10, variants, func(k int) []metric {
		offCPU, rawCPU := 600.0, 900.0
		if k%2 == 1 {
			offCPU, rawCPU = 500, 1200
		}
		return []metric{
			{1.002, "controller-runtime-api-calls/change"},
			{100, "controller-runtime-changes/s"},
			{1000, "controller-runtime-cpu-µs/change"},
			{1.002, "controller-runtime-predicate-api-calls/change"},
			{200, "controller-runtime-predicate-changes/s"},
			{500, "controller-runtime-predicate-cpu-µs/change"},
			{1.002, "controller-runtime-rawpatch-api-calls/change"},
			{2 * onRate[k], "controller-runtime-rawpatch-changes/s"},
			{rawCPU, "controller-runtime-rawpatch-cpu-µs/change"},
			{1.001, "optel-telemetry-off-api-calls/change"},
			{100, "optel-telemetry-off-changes/s"},
			{offCPU, "optel-telemetry-off-cpu-µs/change"},
			{1.001, "optel-telemetry-on-api-calls/change"},
			{onRate[k], "optel-telemetry-on-changes/s"},
			{600, "optel-telemetry-on-cpu-µs/change"},
		}
	}, orders)
}

// unbalanced is the verdict of a comparison whose order is not shown to
// rotate and balance.
const unbalanced = "not resolvable here (the order is not shown to rotate and balance)"

func TestPrintOperator(t *testing.T) {
	const (
		cr        = "controller-runtime"
		predicate = "controller-runtime-predicate"
		rawpatch  = "controller-runtime-rawpatch"
		off       = "optel-telemetry-off"
	)
	header := "| Operator (1000 creations + 1000 updates, real API server) | optel, telemetry on | optel, telemetry off | controller-runtime, cached reads | controller-runtime, cached reads, GenerationChangedPredicate | controller-runtime, cached reads, GenerationChangedPredicate, client.RawPatch |"
	// The medians, by hand: on's rates sorted are 100 110 120 130 140 160
	// 170 180 190 200, median (140+160)/2 = 150, rawpatch's twice that,
	// 300; off's CPU is five 500s and five 600s, median 550, rawpatch's
	// five 900s and five 1200s, 1050.
	medians := []string{
		"| changes per second, median | 150.0 | 100.0 | 100.0 | 200.0 | 300.0 |",
		"| CPU µs per change (its process), median | 600.0 | 550.0 | 1000.0 | 500.0 | 1050.0 |",
		"| API calls per change, median | 1.0 | 1.0 | 1.0 | 1.0 | 1.0 |",
	}
	// The paired ratios and differences, by hand:
	//   on/cr throughput: onRate/100, 1.00 to 2.00, median (1.40+1.60)/2;
	//     all ≥ 1.00 (the lowest equal to it): met. onRate-100 is 0 to
	//     100, median (40+60)/2 = 50.
	//   on/cr CPU: 600/1000 = 0.60 each, ≤ 0.70: met; 600-1000 = -400.
	//   on/predicate throughput: onRate/200, 0.50 to 1.00, median
	//     (0.70+0.80)/2; only the highest reaches 1.00: not resolvable.
	//     onRate-200 is -100 to 0, median (-60-40)/2 = -50.
	//   on/predicate CPU: 600/500 = 1.20 each, over 0.70: not met; +100.
	//   on/rawpatch throughput: onRate/(2 onRate) = 0.50 each, under
	//     1.00: not met. onRate-2 onRate = -onRate, -200 to -100, median
	//     -150.
	//   on/rawpatch CPU: 600/900 = 0.67 (even k) and 600/1200 = 0.50 (odd
	//     k), median (0.50+0.67)/2 = 0.58, all ≤ 0.70: met. -300 and -600,
	//     median -450.
	//   on/off throughput: onRate/100 again, all ≥ 0.97: met; as on/cr.
	//   on/off CPU: 600/600 = 1.00 (even k) and 600/500 = 1.20 (odd k),
	//     median 1.10; straddles 1.03: not resolvable. 0 and +100, median
	//     +50.
	type row struct{ anchor, what, ratio, diff, target, verdict string }
	rows := []row{
		{cr, "throughput, optel (telemetry on) / controller-runtime, cached reads", "1.50 [1.00–2.00], 10 pairs", "+50 /s [+0, +100]", "≥ 1.00", "**met**"},
		{cr, "CPU per change, optel (telemetry on) / controller-runtime, cached reads", "0.60 [0.60–0.60], 10 pairs", "-400 µs [-400, -400]", "≤ 0.70", "**met**"},
		{predicate, "throughput, optel (telemetry on) / controller-runtime, cached reads, GenerationChangedPredicate", "0.75 [0.50–1.00], 10 pairs", "-50 /s [-100, +0]", "≥ 1.00", "not resolvable here"},
		{predicate, "CPU per change, optel (telemetry on) / controller-runtime, cached reads, GenerationChangedPredicate", "1.20 [1.20–1.20], 10 pairs", "+100 µs [+100, +100]", "≤ 0.70", "**not met**"},
		{rawpatch, "throughput, optel (telemetry on) / controller-runtime, cached reads, GenerationChangedPredicate, client.RawPatch", "0.50 [0.50–0.50], 10 pairs", "-150 /s [-200, -100]", "≥ 1.00", "**not met**"},
		{rawpatch, "CPU per change, optel (telemetry on) / controller-runtime, cached reads, GenerationChangedPredicate, client.RawPatch", "0.58 [0.50–0.67], 10 pairs", "-450 µs [-600, -300]", "≤ 0.70", "**met**"},
		{off, "throughput, telemetry on / off", "1.50 [1.00–2.00], 10 pairs", "+50 /s [+0, +100]", "≥ 0.97", "**met**"},
		{off, "CPU per change, telemetry on / off", "1.10 [1.00–1.20], 10 pairs", "+50 µs [+0, +100]", "≤ 1.03", "not resolvable here"},
	}
	const rotated = "Operator samples: order rotated over 10 samples; times first: optel-telemetry-on 2, optel-telemetry-off 2, controller-runtime 2, controller-runtime-predicate 2, controller-runtime-rawpatch 2."
	fiveOfTen := map[string]string{cr: "optel-telemetry-on first in 5 of 10", predicate: "optel-telemetry-on first in 5 of 10", rawpatch: "optel-telemetry-on first in 5 of 10", off: "optel-telemetry-on first in 5 of 10"}
	all := map[string]bool{cr: true, predicate: true, rawpatch: true, off: true}
	for _, tc := range []struct {
		name    string
		orders  [][]int
		samples string
		// ord is the order cell of the comparisons against each anchor,
		// resolvable whether they get their verdicts.
		ord        map[string]string
		resolvable map[string]bool
	}{
		{
			name:       "rotated by k/2, odd k reversed",
			orders:     reversed5,
			samples:    rotated,
			ord:        fiveOfTen,
			resolvable: all,
		},
		{
			// Sample 9 runs rawpatch before on (3,2,1,4,0 instead of
			// 3,2,1,0,4): on is first in 4 of 10 against it, the other
			// pairs unchanged (on ran after 1, 2 and 3 in sample 9
			// either way), the firsts too.
			name:       "one order changed: on against rawpatch unbalanced",
			orders:     replaced(reversed5, 9, []int{3, 2, 1, 4, 0}),
			samples:    rotated,
			ord:        map[string]string{cr: "optel-telemetry-on first in 5 of 10", predicate: "optel-telemetry-on first in 5 of 10", rawpatch: "optel-telemetry-on first in 4 of 10", off: "optel-telemetry-on first in 5 of 10"},
			resolvable: map[string]bool{cr: true, predicate: true, off: true},
		},
		{
			// Rotated, every variant first twice, but with five variants
			// no pair balances (on before predicate in 4 of 10).
			name:    "rotated by k",
			orders:  plain5,
			samples: rotated,
			ord:     map[string]string{off: "optel-telemetry-on first in 8 of 10", cr: "optel-telemetry-on first in 6 of 10", predicate: "optel-telemetry-on first in 4 of 10", rawpatch: "optel-telemetry-on first in 2 of 10"},
		},
		{
			// Samples 1 and 3 swapped: every pair still balances, but
			// samples 0 and 1 both start with on.
			name:    "balanced, not rotated",
			orders:  replaced(replaced(reversed5, 1, reversed5[3]), 3, reversed5[1]),
			samples: "Operator samples: samples 0 and 1 both start with optel-telemetry-on.",
			ord:     fiveOfTen,
		},
		{
			name:    "no order lines",
			samples: "Operator samples: 0 sample orders logged for 10 samples.",
			ord:     map[string]string{cr: "optel-telemetry-on first in 0 of 0", predicate: "optel-telemetry-on first in 0 of 0", rawpatch: "optel-telemetry-on first in 0 of 0", off: "optel-telemetry-on first in 0 of 0"},
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
			has(header)
			for _, m := range medians {
				has(m)
			}
			has(tc.samples)
			for _, r := range rows {
				v := unbalanced
				if tc.resolvable[r.anchor] {
					v = r.verdict
				}
				has(fmt.Sprintf("| %s | %s | %s | %s | %s | %s |", r.what, r.ratio, r.diff, tc.ord[r.anchor], r.target, v))
			}
			if n := strings.Count(out.String(), "\n| throughput, ") + strings.Count(out.String(), "\n| CPU per change, "); n != len(rows) {
				t.Errorf("%d comparison rows, want %d:\n%s", n, len(rows), out.String())
			}
			if len(tc.resolvable) == 0 && strings.Contains(out.String(), "met**") {
				t.Errorf("a verdict without the order shown to rotate and balance:\n%s", out.String())
			}
		})
	}
}

// tracingOutput is a synthetic BenchmarkOperatorTracing -count=10 output
// with the given orders (none when nil). Per sample k: tracing off at 500
// µs per change and 100 changes per second; on (OTLP) at 540 µs (even k)
// or 600 µs (odd k) and 90 per second; json at 510 µs (even k) or 530 µs
// (odd k) and 95 per second.
func tracingOutput(orders [][]int) string {
	variants := []string{"optel-tracing-off", "optel-tracing-on", "optel-tracing-json"}
	return benchOutput("BenchmarkOperatorTracing", 10, variants, func(k int) []metric {
		onCPU, jsonCPU := 540.0, 510.0
		if k%2 == 1 {
			onCPU, jsonCPU = 600, 530
		}
		return []metric{
			{95, "optel-tracing-json-changes/s"},
			{jsonCPU, "optel-tracing-json-cpu-µs/change"},
			{100, "optel-tracing-off-changes/s"},
			{500, "optel-tracing-off-cpu-µs/change"},
			{90, "optel-tracing-on-changes/s"},
			{onCPU, "optel-tracing-on-cpu-µs/change"},
		}
	}, orders)
}

func TestPrintTracing(t *testing.T) {
	// By hand: on's CPU ratios are 540/500 = 1.08 and 600/500 = 1.20,
	// median 1.14, straddling 1.10: not resolvable; its differences +40
	// and +100, median +70. json's are 1.02 and 1.06, median 1.04, all ≤
	// 1.10: met; +10 and +30, median +20. The rates: 90/100 and 95/100,
	// -10 and -5 per second, no target.
	type row struct{ variant, what, medians, ratio, diff, target, verdict string }
	rows := []row{
		{"optel-tracing-on", "operator CPU µs per change, tracing OTLP to loopback, always_on", "570.0 | 500.0", "1.14 [1.08–1.20], 10 pairs", "+70 µs [+40, +100]", "≤ 1.10", "not resolvable here"},
		{"optel-tracing-on", "operator changes per second, tracing OTLP to loopback, always_on", "90.0 | 100.0", "0.90 [0.90–0.90], 10 pairs", "-10 /s [-10, -10]", "-", "-"},
		{"optel-tracing-json", "operator CPU µs per change, tracing json (the in-memory view, the default)", "520.0 | 500.0", "1.04 [1.02–1.06], 10 pairs", "+20 µs [+10, +30]", "≤ 1.10", "**met**"},
		{"optel-tracing-json", "operator changes per second, tracing json (the in-memory view, the default)", "95.0 | 100.0", "0.95 [0.95–0.95], 10 pairs", "-5 /s [-5, -5]", "-", "-"},
	}
	const rotated = "| tracing samples: order rotated over 10 samples; times first: optel-tracing-off 4, optel-tracing-on 3, optel-tracing-json 3 | | | | | |"
	for _, tc := range []struct {
		name       string
		orders     [][]int
		samples    string
		ord        map[string]string
		resolvable bool
	}{
		{
			name:       "rotated by k/2, odd k reversed",
			orders:     reversed3,
			samples:    rotated,
			ord:        map[string]string{"optel-tracing-on": "optel-tracing-on first in 5 of 10", "optel-tracing-json": "optel-tracing-json first in 5 of 10"},
			resolvable: true,
		},
		{
			name:    "rotated by k",
			orders:  plain3,
			samples: rotated,
			ord:     map[string]string{"optel-tracing-on": "optel-tracing-on first in 3 of 10", "optel-tracing-json": "optel-tracing-json first in 6 of 10"},
		},
		{
			name:    "no order lines",
			samples: "| tracing samples: 0 sample orders logged for 10 samples | | | | | |",
			ord:     map[string]string{"optel-tracing-on": "optel-tracing-on first in 0 of 0", "optel-tracing-json": "optel-tracing-json first in 0 of 0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := samples{}
			if err := parse(strings.NewReader(tracingOutput(tc.orders)), s); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			stderr := captureStderr(t, func() { s.printTracing(&out) })
			if stderr != "" {
				t.Errorf("stderr: %q", stderr)
			}
			want := []string{
				"| Tracing cost | tracing on | tracing off | paired ratio, median [range] | target | verdict |",
				"|---|---|---|---|---|---|",
				tc.samples,
			}
			for _, r := range rows {
				v := r.verdict
				if !tc.resolvable && r.target != "-" {
					v = unbalanced
				}
				want = append(want, fmt.Sprintf("| %s | %s | %s; paired difference %s; %s | %s | %s |", r.what, r.medians, r.ratio, r.diff, tc.ord[r.variant], r.target, v))
			}
			if got := out.String(); got != strings.Join(want, "\n")+"\n" {
				t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

func TestPrintTracingNotRun(t *testing.T) {
	var out bytes.Buffer
	samples{}.printTracing(&out)
	want := "| Tracing cost | tracing on | tracing off | paired ratio, median [range] | target | verdict |\n|---|---|---|---|---|---|\n| operator CPU per change | not run | | | | |\n"
	if got := out.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPrintOperatorNotRun(t *testing.T) {
	var out bytes.Buffer
	samples{}.printOperator(&out)
	if got, want := out.String(), "Operator throughput: not run.\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
