package allinone

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// lockName is the file in the data dir that the running all-in-one holds an exclusive lock on
// (flock), with its PID in it: one process per data dir.
const lockName = "clearsky.lock"

// ErrDataDirInUse: another process holds the data dir's lock.
var ErrDataDirInUse = errors.New("the data dir is in use")

// LockDataDir takes the data dir's lock for this process, or says which process holds it.
// release gives it up (the lock also ends with the process).
func LockDataDir(dir string) (release func(), err error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the data dir's lock file: %w", err)
	}
	if err := tryLock(f, true); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%w: %s holds %s; stop it first, or give this one its own data dir (CLEARSKY_DATA_DIR)",
				ErrDataDirInUse, holderName(readPID(path)), abs(path))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { unlock(f); f.Close() }, nil
}

// LockHolder returns the PID of the process holding dir's lock (0 when its PID is not written
// yet), and whether any process holds it.
func LockHolder(dir string) (pid int, held bool) {
	path := filepath.Join(dir, lockName)
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	if err := tryLock(f, false); err != nil {
		return readPID(path), errors.Is(err, errLocked)
	}
	unlock(f)
	return 0, false
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func holderName(pid int) string {
	if pid <= 0 {
		return "another clearsky (PID not written yet)"
	}
	return fmt.Sprintf("another clearsky (PID %d)", pid)
}

func abs(path string) string {
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return path
}

// ExistingSecret returns the token-signing secret a running server uses, without ever making
// one: CLEARSKY_JWT_SECRET when set, otherwise the one in the data dir. from says where it came
// from, for the caller to show. With neither, it says what to pass.
func ExistingSecret(c Config) (secret []byte, from string, err error) {
	if c.JWTSecret != "" {
		if len(c.JWTSecret) < 32 {
			return nil, "", errors.New("CLEARSKY_JWT_SECRET must be at least 32 bytes")
		}
		return []byte(c.JWTSecret), "CLEARSKY_JWT_SECRET", nil
	}
	path := filepath.Join(c.DataDir, "jwt-secret")
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", fmt.Errorf("no token secret at %s, so no server uses this data dir: run this where the server was started, "+
			"pass -data-dir with the server's data dir (or set CLEARSKY_DATA_DIR as the server has it), or set CLEARSKY_JWT_SECRET to its secret", abs(path))
	case err != nil:
		return nil, "", fmt.Errorf("read %s: %w", path, err)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < 32 {
		return nil, "", fmt.Errorf("%s holds no valid secret (under 32 bytes): start the server once to make one, or set CLEARSKY_JWT_SECRET", abs(path))
	}
	from = "the secret in " + abs(path)
	if pid, held := LockHolder(c.DataDir); held && pid > 0 {
		from += fmt.Sprintf(" (the server using it is PID %d)", pid)
	} else if !held {
		from += " (no server is running on that data dir now)"
	}
	return []byte(s), from, nil
}
