package cluster

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/obsctl/obsctl/test/flock"
)

// Block is the loopback network of one cluster, 127.A.0.0/16: every
// address the cluster hands out is in it, so that whatever dials a node
// or a pod (Prometheus scraping the targets the operator generates, an
// Alertmanager peer) reaches a program listening on this machine, and
// traffic never leaves it. A cluster holds a lease on its block for its
// life (see lease), so that two clusters on one machine never share one.
//
//	127.A.0.0/24        the control plane's address (etcd, apiserver, ...)
//	127.A.1.1 + i       node i's InternalIP (hostNetwork pods get it)
//	127.A.(16+i).0/24   node i's pod range
//	127.A.240.0/20      kwok's pod range for a node without one
type Block struct{ A int }

// MaxNodes is how many nodes a Block has addresses and pod ranges for.
const MaxNodes = 200

// ControlPlane is the address the control plane's components bind.
func (b Block) ControlPlane() string { return fmt.Sprintf("127.%d.0.1", b.A) }

// NodeIP is node i's InternalIP.
func (b Block) NodeIP(i int) string { return fmt.Sprintf("127.%d.1.%d", b.A, 1+i) }

// PodCIDR is node i's pod range.
func (b Block) PodCIDR(i int) string { return fmt.Sprintf("127.%d.%d.0/24", b.A, 16+i) }

// DefaultPodCIDR is kwok's range for pods of a node without a pod range.
func (b Block) DefaultPodCIDR() string { return fmt.Sprintf("127.%d.240.0/20", b.A) }

// Contains reports whether ip is in the block.
func (b Block) Contains(ip string) bool {
	p := net.ParseIP(ip).To4()
	return p != nil && p[0] == 127 && int(p[1]) == b.A
}

// Block is the cluster's loopback block.
func (c *Cluster) Block() Block { return c.lease.block }

// lease holds a block for a cluster: an exclusive lock on a file named by
// the block in a folder of the machine's temporary folder, which the kernel
// lets go of when the process that holds it exits, however it exits.
type lease struct {
	block Block
	f     *os.File
}

// leaseBlock takes a free block at random (127.1 to 127.254: 127.0 is the
// machine's own 127.0.0.1).
func leaseBlock() (*lease, error) {
	dir := filepath.Join(os.TempDir(), "obsctl-loopback")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("loopback leases: %w", err)
	}
	var lastErr error
	for _, a := range mrand.Perm(254) {
		b := Block{A: a + 1}
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(b.A)+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			lastErr = err
			continue
		}
		switch err := flock.TryLock(f); {
		case err == nil:
			return &lease{block: b, f: f}, nil
		case errors.Is(err, flock.ErrLocked):
			f.Close()
		default:
			f.Close()
			lastErr = err
		}
	}
	if lastErr == nil {
		lastErr = errors.New("every block is held")
	}
	return nil, fmt.Errorf("no free loopback block 127.x.0.0/16: %w", lastErr)
}

func (l *lease) release() {
	if l != nil && l.f != nil {
		l.f.Close() // closing the file lets go of the lock
		l.f = nil
	}
}
