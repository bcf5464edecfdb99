#ifndef L7MP_SYSTEM_SHIM_H
#define L7MP_SYSTEM_SHIM_H
// Linux calls Swift cannot make directly: for the proxy's upstream UDP sockets, fcntl with a
// struct argument (F_SETOWN_EX), signalfd and recvmmsg/sendmmsg batches; for shutdown, a
// signal handler that writes to a pipe.
//
// An upstream UDP socket has no NIO channel of its own. Each is connected, non-blocking and in
// signal-driven mode (O_ASYNC, F_SETSIG): the kernel queues a real-time signal carrying the
// socket's descriptor to the event-loop thread that owns it whenever a datagram (or an ICMP
// error) arrives. The thread keeps that signal blocked and reads it from a signalfd, which NIO
// watches like any other descriptor. If the signal queue overflows the kernel sends SIGIO
// instead, which means "check every socket".
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/// The real-time signal used for upstream readiness (SIGRTMIN + 6).
int l7mp_upstream_signal(void);

/// The calling thread's id.
int l7mp_gettid(void);

/// Blocks the upstream signal and SIGIO in the calling thread and returns a non-blocking
/// signalfd for them, or -errno. The first call also sets both to SIG_IGN for the process, so
/// that a thread without them blocked drops them (a blocked signal is still queued).
int l7mp_upstream_signalfd(void);

/// A non-blocking UDP socket connected to `address`, whose readiness is signalled to thread
/// `tid`. Returns the descriptor or -errno.
int l7mp_udp_upstream_open(const struct sockaddr *address, socklen_t length, int tid);

/// A UDP peer: the address as 128 bits, IPv4 as IPv4-mapped IPv6 (the rule language's
/// `IPAddress`), and the port.
typedef struct {
  uint64_t high;
  uint64_t low;
  int32_t port;
} l7mp_peer;

/// A non-blocking UDP socket bound to `address`, with a receive buffer of `receive_buffer` bytes
/// (the kernel caps it at net.core.rmem_max). Returns the descriptor or -errno.
int l7mp_udp_listener_open(const struct sockaddr *address, socklen_t length, int receive_buffer);

/// Signal-driven readiness for socket `fd`, signalled to thread `tid`. Returns 0 or -errno.
int l7mp_signal_readiness(int fd, int tid);

/// recvmmsg on an unconnected socket: like `l7mp_recv_batch`, and `peers[i]` is where datagram i
/// came from (`peers` NULL: `l7mp_recv_batch`).
int l7mp_recv_from_batch(int fd, unsigned char *buffer, size_t slot, int count, int *lengths,
                         l7mp_peer *peers);

/// sendmmsg of `count` (≤ 64) datagrams to `peers` on an unconnected socket of `family`
/// (AF_INET or AF_INET6). Returns the number sent, or -errno when the first one failed (`peers`
/// NULL: `l7mp_send_batch`).
int l7mp_send_to_batch(int fd, int family, const void *const *datas, const size_t *lengths,
                       const l7mp_peer *peers, int count);

/// Reads signalfd records (`length` bytes): writes the descriptor of each upstream signal to
/// `fds` (up to `capacity`), and -1 for a SIGIO (queue overflow: check every socket). Returns
/// the number written.
int l7mp_signal_fds(const void *records, size_t length, int *fds, int capacity);

/// recvmmsg: up to `count` (≤ 64) datagrams into consecutive slots of `slot` bytes from `buffer`;
/// `lengths[i]` is datagram i's size. Returns the number read, or -errno (-EAGAIN: none).
int l7mp_recv_batch(int fd, unsigned char *buffer, size_t slot, int count, int *lengths);

/// sendmmsg of `count` (≤ 64) datagrams on a connected socket. Returns the number sent, or
/// -errno when the first one failed.
int l7mp_send_batch(int fd, const void *const *datas, const size_t *lengths, int count);

/// Installs a handler for each of `signals` (SIGTERM, SIGINT) that writes the signal's number
/// (one byte) to a pipe, and returns the pipe's read end (blocking), or -errno. A thread reading
/// it learns of the signals without a signalfd: every signalfd in a process is woken by every
/// signal sent to any of its threads (the upstream sockets' signals included), and a signalfd
/// watched by another thread (libdispatch's, behind DispatchSource signal sources) would cost
/// that thread a wake-up per upstream datagram.
int l7mp_signal_pipe(const int *signals, int count);

#endif
