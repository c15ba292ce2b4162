//go:build !linux

package cluster

import "syscall"

// sysProcAttr puts each component in its own process group. Only Linux can
// also tie the component's life to its parent's.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
