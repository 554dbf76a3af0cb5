// Package vnet is the tap's network-stack virtualisation, after FreeBSD's
// VIMAGE: a Host holds stack instances (vnets), each owning its interfaces
// (an ifnet registry with indexes, unique names and per-interface FIB), its
// IPv4/IPv6 addresses, its routing tables (route.FIBs: net.fibs,
// net.add_addr_allfibs), its capture machinery (bpf.Stack with its
// net.bpf settings), its neighbour caches and its forwarding state.
//
// There is no curvnet. FreeBSD finds per-vnet state through a per-thread
// pointer that CURVNET_SET/CURVNET_RESTORE switch, and a missing RESTORE
// leaks one vnet's context into work done for another. Here every piece of
// state hangs off a *Stack, and the packet path reaches it from the
// receiving interface's binding (the input hook closes over it), so a frame
// handed from one vnet to another (an interface pair joining them delivers
// synchronously, on the sender's goroutine) is processed with the
// receiver's state only. The package has no mutable package-level state.
//
// # Interfaces and addresses
//
// Attach puts a nic.Ifnet into a vnet (if_attach): it gets an index, the
// vnet's input hook and a bpf attach point (DLT_EN10MB). Host.MoveIf moves
// it to another vnet (if_vmove, ifconfig IF vnet N): its addresses, the
// routes through it and its neighbour entries are purged, its bpf attach
// point is detached, which wakes the descriptors listening on it with
// ENXIO as FreeBSD's bpfdetach does, and re-created in the target's
// bpf.Stack with the same link type. Destroying a vnet moves its
// interfaces back to their home vnet, or vnet0 when the home is the vnet
// being destroyed.
//
// Addresses are IfAddr values with a reference count (ifa_ref/ifa_free).
// The lookups (IfaWithAddr, IfaWithNet, IfaWithDstAddr) return a counted
// reference that stays valid and readable after the address is deleted;
// a deleted address reports Removed.
//
// # Forwarding
//
// Frames from an interface go through Ethernet demultiplexing (IPv4, IPv6,
// ARP), IPv4/IPv6 validation, local delivery (ARP and neighbour discovery
// are answered here), FIB selection (the interface's FIB unless a setfib
// rule matches), route lookup, TTL/hop-limit decrement with an RFC 1624
// incremental checksum update, neighbour resolution (ARP, NDP NS/NA) with a
// bounded hold queue, ICMP errors, and output. The nic.Ifnet taps every
// frame to bpf on input and on output, so listeners on both the incoming and
// the outgoing interface see a forwarded packet. With the neighbour
// resolved, forwarding allocates nothing: the frame is copied into a pooled
// buffer (the input frame belongs to the driver) and rewritten there.
//
// Echo requests to the vnet's own addresses are answered; other locally
// addressed packets are counted as delivered and dropped (there is no
// socket layer). Not done: IPv4 fragmentation (a packet larger than the
// outgoing MTU is dropped, with "fragmentation needed" if DF is set), ICMP
// redirects, IPv4 option processing (options are forwarded untouched),
// ICMP rate limiting, forwarding of multicast.
//
// Timers (neighbour retransmission and expiry) are driven by the vnet's
// clock through Stack.Tick, which the owner calls periodically; the package
// starts no goroutines.
//
// # Locking
//
// Host.mu serializes vnet creation and destruction and interface moves, and
// protects the vnet list and every interface's home and current vnet. Each
// Stack.mu (a reader/writer lock: FreeBSD's IF_ADDR lock and the ifnet list
// lock in one) protects the vnet's interface set and every address list.
// Lock order: Host.mu, then one Stack.mu at a time (a move detaches under
// the source's lock, then attaches under the target's), then route.FIBs and
// bpf.Stack locks, which vnet calls with Stack.mu held. Each interface's
// neighbour cache lock is a leaf. No lock is held while a frame is
// output: a nic/pair delivers synchronously, so the receiver (perhaps
// this very vnet, perhaps another) runs inside the Output call and takes
// its own locks.
//
// The packet path takes no Stack.mu: it reads atomically published
// snapshots (the index-to-interface table, the local address map, the
// setfib rules) that writers replace under Stack.mu.
package vnet
