package parallel

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestEachCallsEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		seen := make([]int32, n)
		var calls atomic.Int32
		Each(n, func(i int) {
			atomic.AddInt32(&seen[i], 1)
			calls.Add(1)
		})
		if int(calls.Load()) != n {
			t.Fatalf("n=%d: %d calls", n, calls.Load())
		}
		for i, s := range seen {
			if s != 1 {
				t.Fatalf("n=%d: index %d called %d times", n, i, s)
			}
		}
	}
}

func TestEachUpToBoundsConcurrency(t *testing.T) {
	var running, most atomic.Int32
	var calls atomic.Int32
	EachUpTo(50, 3, func(int) {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		running.Add(-1)
		calls.Add(1)
	})
	if calls.Load() != 50 {
		t.Errorf("%d calls, want 50", calls.Load())
	}
	if most.Load() > 3 {
		t.Errorf("%d calls at once, want at most 3", most.Load())
	}
}
