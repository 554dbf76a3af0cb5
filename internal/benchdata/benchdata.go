// Package benchdata locates the shared test and benchmark corpora, which live
// in ../shared/bench beside the repository (not in it), for the tests of any
// package. Tests that need them skip with a message naming what is missing.
package benchdata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Locate returns the corpus directory, after checking that each named file
// is in it, or an error saying what is missing.
func Locate(files ...string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory; cannot locate ../shared/bench")
		}
		dir = parent
	}
	bench := filepath.Join(dir, "..", "shared", "bench")
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(bench, f)); err != nil {
			return "", fmt.Errorf("shared corpus absent: this needs ../shared/bench/%s next to the repository (%v)", f, err)
		}
	}
	return bench, nil
}

// Dir returns the corpus directory holding the named files, or skips tb.
func Dir(tb testing.TB, files ...string) string {
	tb.Helper()
	dir, err := Locate(files...)
	if err != nil {
		tb.Skip(err.Error())
	}
	return dir
}
