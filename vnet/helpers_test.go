package vnet

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/baretap/baretap/bpf"
	"github.com/baretap/baretap/nic"
	"github.com/baretap/baretap/nic/pair"
)

func mac(n byte) net.HardwareAddr { return net.HardwareAddr{0x02, 0, 0, 0, 0, n} }

// newPair makes two joined interfaces with MACs 02:00:00:00:00:ma/mb.
func newPair(t testing.TB, a, b string, ma, mb byte) (*nic.Ifnet, *nic.Ifnet) {
	t.Helper()
	x, y, err := pair.New(a, b, 1500, mac(ma), mac(mb))
	if err != nil {
		t.Fatal(err)
	}
	return x, y
}

func newHost(t testing.TB, o Options) *Host {
	t.Helper()
	h, err := NewHost(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newVnet(t testing.TB, h *Host, name string, o Options) *Stack {
	t.Helper()
	v, err := h.New(name, o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErrno(t testing.TB, err error, errno syscall.Errno) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Fatalf("error %v, want %v (%d)", err, errno, int(errno))
	}
}

// listen opens a non-blocking bpf descriptor on the interface called name
// in bs.
func listen(t testing.TB, bs *bpf.Stack, name string) *bpf.Desc {
	t.Helper()
	d := bs.Open(bpf.OpenReadWrite)
	must(t, d.SetInterface(name))
	must(t, d.SetNonblock(true))
	must(t, d.SetImmediate(true))
	t.Cleanup(func() { d.Close() })
	return d
}

// captured drains d and returns copies of the captured frames.
func captured(t testing.TB, d *bpf.Desc) [][]byte {
	t.Helper()
	n, err := d.BufferLen()
	must(t, err)
	buf := make([]byte, n)
	var out [][]byte
	for {
		got, err := d.Read(buf)
		if errors.Is(err, syscall.EWOULDBLOCK) || got == 0 && err == nil {
			return out
		}
		must(t, err)
		for b := buf[:got]; len(b) > 0; {
			r, next, err := bpf.ParseRecord(b)
			must(t, err)
			out = append(out, append([]byte(nil), r.Data...))
			if next >= len(b) {
				break
			}
			b = b[next:]
		}
	}
}

// goroutineLeakCheck fails the test if goroutines started during it are
// still running shortly after it ends (wireguard's check, written anew).
func goroutineLeakCheck(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// hookDriver is a real driver that runs fn on every transmitted frame and
// then hands the frame to the peer interface's Input, like nic/pair, so a
// test can act in the middle of another vnet's packet processing.
type hookDriver struct {
	mu   sync.Mutex
	fn   func(frame []byte)
	peer *nic.Ifnet
}

func (d *hookDriver) Transmit(frame []byte) error {
	d.mu.Lock()
	fn, peer := d.fn, d.peer
	d.mu.Unlock()
	if fn != nil {
		fn(frame)
	}
	if peer != nil {
		peer.Input(frame)
	}
	return nil
}

func (d *hookDriver) SetPromisc(bool) error { return nil }
