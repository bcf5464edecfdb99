#ifndef L7MP_SYSTEM_SHIM_H
#define L7MP_SYSTEM_SHIM_H
// Linux calls Swift cannot make directly or cheaply: epoll (its event struct is packed),
// eventfd, recvmmsg/sendmmsg batches for the proxy's UDP sockets, and for shutdown a signal
// handler that writes to a pipe.
//
// The proxy's UDP data path (`DatagramLoop`) is one thread around one epoll set: the UDP
// listeners' sockets and the sessions' upstream UDP sockets (connected, non-blocking, no NIO
// channel each) are in it, with an eventfd that other threads write to hand it work.
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/// A non-blocking UDP socket connected to `address`. Returns the descriptor or -errno.
int l7mp_udp_upstream_open(const struct sockaddr *address, socklen_t length);

/// Names the calling thread (its first 15 bytes: what `top -H` and `perf` show). 0 or -errno.
int l7mp_set_thread_name(const char *name);

/// A new epoll set (close-on-exec), or -errno.
int l7mp_epoll_create(void);

/// Watches `fd` for reading (level-triggered); the events name it. Returns 0 or -errno.
int l7mp_epoll_add(int epfd, int fd);

/// Stops watching `fd`. Returns 0 or -errno.
int l7mp_epoll_remove(int epfd, int fd);

/// Waits up to `timeout_ms` (-1: no limit) for readable descriptors and writes up to `capacity`
/// (≤ 64) of them to `fds`. Returns how many, 0 when interrupted, or -errno.
int l7mp_epoll_wait(int epfd, int *fds, int capacity, int timeout_ms);

/// A non-blocking eventfd, or -errno.
int l7mp_eventfd(void);

/// Makes eventfd `fd` readable (adds 1).
void l7mp_eventfd_signal(int fd);

/// Resets eventfd `fd` (reads its count).
void l7mp_eventfd_drain(int fd);

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

/// The port socket `fd` is bound to, or -errno.
int l7mp_local_port(int fd);

/// recvmmsg on an unconnected socket: like `l7mp_recv_batch`, and `peers[i]` is where datagram i
/// came from (`peers` NULL: `l7mp_recv_batch`).
int l7mp_recv_from_batch(int fd, unsigned char *buffer, size_t slot, int count, int *lengths,
                         l7mp_peer *peers);

/// sendmmsg of `count` (≤ 64) datagrams to `peers` on an unconnected socket of `family`
/// (AF_INET or AF_INET6). Returns the number sent, or -errno when the first one failed (`peers`
/// NULL: `l7mp_send_batch`).
int l7mp_send_to_batch(int fd, int family, const void *const *datas, const size_t *lengths,
                       const l7mp_peer *peers, int count);

/// recvmmsg: up to `count` (≤ 64) datagrams into consecutive slots of `slot` bytes from `buffer`;
/// `lengths[i]` is datagram i's size. Returns the number read, or -errno (-EAGAIN: none).
int l7mp_recv_batch(int fd, unsigned char *buffer, size_t slot, int count, int *lengths);

/// sendmmsg of `count` (≤ 64) datagrams on a connected socket. Returns the number sent, or
/// -errno when the first one failed.
int l7mp_send_batch(int fd, const void *const *datas, const size_t *lengths, int count);

/// Installs a handler for each of `signals` (SIGTERM, SIGINT) that writes the signal's number
/// (one byte) to a pipe, and returns the pipe's read end (blocking), or -errno. A thread reading
/// it learns of the signals without libdispatch's signal sources (a signalfd on libdispatch's
/// manager thread).
int l7mp_signal_pipe(const int *signals, int count);

#endif
