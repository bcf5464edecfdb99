#define _GNU_SOURCE
#include "l7mp_system_shim.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

enum { max_batch = 64, max_events = 64 };

// The per-datagram calls go through syscall(2): libc's wrappers are thread-cancellation points,
// and the cancellation bookkeeping around each cost about as much as the rest of the wrapper.

// The messages of one recvmmsg/sendmmsg (on the stack: 64 × about 200 bytes).
struct batch {
  struct mmsghdr messages[max_batch];
  struct iovec iov[max_batch];
  struct sockaddr_storage addresses[max_batch];
};

// Clamps `count` to the batch size (each header is filled in whole by `message_at`).
static int batch_start(struct batch *b, int count) {
  (void)b;
  return count > max_batch ? max_batch : count;
}

// Message i of a batch: one buffer, and the peer's address when `address` is not NULL.
static void message_at(struct mmsghdr *message, struct iovec *iov, void *data, size_t length,
                       struct sockaddr_storage *address, socklen_t address_length) {
  iov->iov_base = data;
  iov->iov_len = length;
  message->msg_hdr.msg_iov = iov;
  message->msg_hdr.msg_iovlen = 1;
  message->msg_hdr.msg_name = address;
  message->msg_hdr.msg_namelen = address ? address_length : 0;
  message->msg_hdr.msg_control = NULL;
  message->msg_hdr.msg_controllen = 0;
  message->msg_hdr.msg_flags = 0;
  message->msg_len = 0;
}

int l7mp_udp_upstream_open(const struct sockaddr *address, socklen_t length) {
  int fd = socket(address->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (connect(fd, address, length) != 0) {
    int error = errno;
    close(fd);
    return -error;
  }
  return fd;
}

int l7mp_set_thread_name(const char *name) {
  char short_name[16];
  strncpy(short_name, name, sizeof short_name - 1);
  short_name[sizeof short_name - 1] = 0;
  return -pthread_setname_np(pthread_self(), short_name);
}

int l7mp_epoll_create(void) {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

int l7mp_epoll_add(int epfd, int fd) {
  struct epoll_event event = {.events = EPOLLIN | EPOLLET, .data.fd = fd};
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) != 0 ? -errno : 0;
}

int l7mp_epoll_remove(int epfd, int fd) {
  struct epoll_event event = {0};
  return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &event) != 0 ? -errno : 0;
}

int l7mp_epoll_wait(int epfd, int *fds, int capacity, int timeout_ms) {
  struct epoll_event events[max_events];
  if (capacity > max_events) capacity = max_events;
  int n = (int)syscall(SYS_epoll_wait, epfd, events, capacity, timeout_ms);
  if (n < 0) return errno == EINTR ? 0 : -errno;
  for (int i = 0; i < n; i++) fds[i] = events[i].data.fd;
  return n;
}

int l7mp_eventfd(void) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

void l7mp_eventfd_signal(int fd) {
  uint64_t one = 1;
  (void)!write(fd, &one, sizeof one);
}

void l7mp_eventfd_drain(int fd) {
  uint64_t count;
  (void)!read(fd, &count, sizeof count);
}

int l7mp_udp_listener_open(const struct sockaddr *address, socklen_t length, int receive_buffer) {
  int fd = socket(address->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  // No SO_REUSEADDR: on UDP it would let a second listener share the port silently.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) != 0 ||
      bind(fd, address, length) != 0) {
    int error = errno;
    close(fd);
    return -error;
  }
  return fd;
}

int l7mp_local_port(int fd) {
  struct sockaddr_storage a;
  socklen_t length = sizeof a;
  if (getsockname(fd, (struct sockaddr *)&a, &length) != 0) return -errno;
  if (a.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&a)->sin_port);
  if (a.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
  return -EAFNOSUPPORT;
}

static void peer_from(const struct sockaddr_storage *a, l7mp_peer *peer) {
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
    peer->high = 0;
    peer->low = 0xFFFF00000000ull | ntohl(v4->sin_addr.s_addr);
    peer->port = ntohs(v4->sin_port);
  } else if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)a;
    const unsigned char *b = v6->sin6_addr.s6_addr;
    uint64_t high = 0, low = 0;
    for (int k = 0; k < 8; k++) high = high << 8 | b[k];
    for (int k = 8; k < 16; k++) low = low << 8 | b[k];
    peer->high = high;
    peer->low = low;
    peer->port = ntohs(v6->sin6_port);
  } else {
    peer->high = 0;
    peer->low = 0;
    peer->port = -1;
  }
}

static socklen_t peer_to(int family, const l7mp_peer *peer, struct sockaddr_storage *a) {
  memset(a, 0, sizeof(struct sockaddr_in6));
  if (family == AF_INET) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)a;
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)peer->port);
    v4->sin_addr.s_addr = htonl((uint32_t)peer->low);
    return sizeof(struct sockaddr_in);
  }
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)a;
  v6->sin6_family = AF_INET6;
  v6->sin6_port = htons((uint16_t)peer->port);
  for (int k = 0; k < 8; k++) v6->sin6_addr.s6_addr[k] = (unsigned char)(peer->high >> (56 - 8 * k));
  for (int k = 0; k < 8; k++) v6->sin6_addr.s6_addr[8 + k] = (unsigned char)(peer->low >> (56 - 8 * k));
  return sizeof(struct sockaddr_in6);
}

int l7mp_recv_from_batch(int fd, unsigned char *buffer, size_t slot, int count, int *lengths,
                         l7mp_peer *peers) {
  struct batch b;
  count = batch_start(&b, count);
  for (int i = 0; i < count; i++)
    message_at(&b.messages[i], &b.iov[i], buffer + slot * (size_t)i, slot,
               peers ? &b.addresses[i] : NULL, sizeof(struct sockaddr_storage));
  int n;
  do {
    n = (int)syscall(SYS_recvmmsg, fd, b.messages, (unsigned)count, MSG_DONTWAIT, NULL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (int i = 0; i < n; i++) {
    lengths[i] = (int)b.messages[i].msg_len;
    if (peers) peer_from(&b.addresses[i], &peers[i]);
  }
  return n;
}

int l7mp_recv_batch(int fd, unsigned char *buffer, size_t slot, int count, int *lengths) {
  return l7mp_recv_from_batch(fd, buffer, slot, count, lengths, NULL);
}

int l7mp_send_to_batch(int fd, int family, const void *const *datas, const size_t *lengths,
                       const l7mp_peer *peers, int count) {
  struct batch b;
  count = batch_start(&b, count);
  for (int i = 0; i < count; i++)
    message_at(&b.messages[i], &b.iov[i], (void *)datas[i], lengths[i],
               peers ? &b.addresses[i] : NULL, peers ? peer_to(family, &peers[i], &b.addresses[i]) : 0);
  int n;
  do {
    n = count == 1
            ? (syscall(SYS_sendmsg, fd, &b.messages[0].msg_hdr, MSG_DONTWAIT) < 0 ? -1 : 1)
            : (int)syscall(SYS_sendmmsg, fd, b.messages, (unsigned)count, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

int l7mp_send_batch(int fd, const void *const *datas, const size_t *lengths, int count) {
  return l7mp_send_to_batch(fd, AF_UNSPEC, datas, lengths, NULL, count);
}

static int signal_pipe_write = -1;

static void write_signal(int signo) {
  int saved = errno;
  unsigned char byte = (unsigned char)signo;
  if (signal_pipe_write >= 0) (void)!write(signal_pipe_write, &byte, 1);
  errno = saved;
}

int l7mp_signal_pipe(const int *signals, int count) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -errno;
  // The write end never blocks the handler: a full pipe (signals nobody reads) drops the byte.
  int flags = fcntl(fds[1], F_GETFL);
  if (flags < 0 || fcntl(fds[1], F_SETFL, flags | O_NONBLOCK) != 0) {
    int error = errno;
    close(fds[0]);
    close(fds[1]);
    return -error;
  }
  signal_pipe_write = fds[1];
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = write_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int i = 0; i < count; i++) {
    if (sigaction(signals[i], &action, NULL) != 0) return -errno;
  }
  return fds[0];
}
