//go:build !unix

package load

import "os"

// openRegular opens the file at the real path p for reading. Read checks
// the open file is the regular file resolve saw.
func openRegular(p string) (*os.File, error) {
	return os.Open(p)
}
