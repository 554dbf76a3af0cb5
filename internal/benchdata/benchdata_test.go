package benchdata

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLocate(t *testing.T) {
	if _, err := Locate("no-such-corpus-file.bin"); err == nil {
		t.Fatal("a missing file was reported present")
	}
	dir, err := Locate()
	if err != nil {
		t.Skip(err.Error())
	}
	if filepath.Base(dir) != "bench" || filepath.Base(filepath.Dir(dir)) != "shared" {
		t.Fatalf("corpus directory %q is not .../shared/bench", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "traffic.pcap")); err == nil {
		if got := Dir(t, "traffic.pcap"); got != dir {
			t.Fatalf("Dir = %q, Locate = %q", got, dir)
		}
	}
}
