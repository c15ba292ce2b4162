// Package parallel runs independent pieces of work on every core. Loading
// rule files, checking them and scanning them for secrets are all "the
// same work for each of n files", with results stored by index so that
// output stays in a deterministic order.
package parallel

import (
	"runtime"
	"sync"
)

// Each calls fn(i) for every i in [0, n), on up to GOMAXPROCS goroutines,
// and returns when all calls have. fn must only write to state owned by
// index i.
func Each(n int, fn func(i int)) { EachUpTo(n, runtime.GOMAXPROCS(0), fn) }

// EachUpTo is Each on up to workers goroutines, for work that waits on
// the network rather than a core: requests to an API server, bounded so as
// not to flood it.
func EachUpTo(n, workers int, fn func(i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
