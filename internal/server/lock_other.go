//go:build !unix

package server

// lockDataDir is a no-op where flock is not available: start replicas that
// share a data directory one after another there.
func lockDataDir(string) (func(), error) { return func() {}, nil }
