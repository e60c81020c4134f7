package bench

import "testing"

func BenchmarkScratchOptel(b *testing.B) {
	cp := controlPlane(b)
	for range b.N {
		runWorkload(b, cp, operatorVariants[0])
	}
}
