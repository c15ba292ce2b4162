// Package lock makes sure only one obsctl apply (or rollback) works on a
// stack at a time. It sits in the apply stage of the pipeline: the apply
// takes the lock before it reads the inventory and releases it after the
// inventory is saved.
//
// The lock is a coordination.k8s.io/v1 Lease named obsctl-<stack> in the
// stack's namespace. Acquire creates it (creating the namespace first when a
// fresh cluster does not have it yet), renews it in the background every
// third of its duration, and Release deletes it. A second apply either fails
// fast with a *HeldError saying who holds the lock, since when and until
// when, or, with Options.Wait, polls until the lock is free. A lease whose
// renewTime plus leaseDurationSeconds lies in the past was left by a run that
// died; it is taken over, and the update's resourceVersion precondition makes
// sure that of several processes taking it over at once exactly one wins.
//
// Expiry compares the holder's renewTime with the local clock, so clocks
// skewed by more than a lease duration can make a live lock look expired;
// the default duration of a minute leaves room for ordinary skew.
//
// A holder that cannot renew for a whole lease duration, or finds the lease
// deleted or taken by someone else, has lost the lock: (*Lock).Lost is closed
// and (*Lock).Err says why, so the apply can stop before it writes more.
package lock
