//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package allinone

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked by another process")

// tryLock does nothing where flock is missing: one process per data dir is then the user's care.
func tryLock(*os.File, bool) error { return nil }

func unlock(*os.File) {}
