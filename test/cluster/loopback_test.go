package cluster

import "testing"

// A block held is not handed out again until it is let go of.
func TestLeaseBlock(t *testing.T) {
	held := map[int]*lease{}
	defer func() {
		for _, l := range held {
			l.release()
		}
	}()
	for range 20 {
		l, err := leaseBlock()
		if err != nil {
			t.Fatal(err)
		}
		if held[l.block.A] != nil {
			t.Fatalf("block 127.%d.0.0/16 handed out twice", l.block.A)
		}
		held[l.block.A] = l
	}
	b := Block{A: 7}
	for _, ip := range []string{b.ControlPlane(), b.NodeIP(0), b.NodeIP(MaxNodes - 1), "127.7.215.9"} {
		if !b.Contains(ip) {
			t.Errorf("127.7.0.0/16 does not contain %s", ip)
		}
	}
	for _, ip := range []string{"127.8.0.1", "10.7.0.1", "::1", "x"} {
		if b.Contains(ip) {
			t.Errorf("127.7.0.0/16 contains %s", ip)
		}
	}
	if b.PodCIDR(MaxNodes-1) != "127.7.215.0/24" || b.DefaultPodCIDR() != "127.7.240.0/20" {
		t.Errorf("pod ranges %s, %s", b.PodCIDR(MaxNodes-1), b.DefaultPodCIDR())
	}
}
