//go:build unix

package load

import (
	"os"
	"syscall"
)

// openRegular opens the file at the real path p for reading without
// following a link in its last element or blocking: should p have become
// a link or a pipe since it was resolved, the open fails or returns at
// once, and read's check of the open file refuses it.
func openRegular(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
