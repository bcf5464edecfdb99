// udpbench: the UDP load generator of the proxy benchmarks (Benchmarks/proxy/run.sh).
//
//   udpbench echo     ADDR PORT SECONDS                       UDP echo server (a fixed, cheap peer)
//   udpbench ping     ADDR PORT SIZE COUNT SECONDS BINDPORT   one datagram in flight: latency
//   udpbench flood    ADDR PORT SIZE COUNT SECONDS BINDPORT   32 datagrams in flight: throughput
//   udpbench sessions ADDR PORT FLOWS HOLD_SECONDS READYFILE  FLOWS client ports, one datagram each
//
// Every loop is bounded by a count and a deadline. A lost datagram is counted, never waited for
// forever. Results go to stdout as one line of key=value pairs.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INFLIGHT 32
#define MAXSIZE 65536

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

static struct sockaddr_in address(const char *host, int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "udpbench: '%s' is not an IPv4 address\n", host);
    exit(2);
  }
  return a;
}

// A socket bound to 127.0.0.1:bindport (0: any free port) and connected to the target.
static int client_socket(struct sockaddr_in target, int bindport) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  // Only for a fixed port (rebinding it between runs): with port 0, SO_REUSEADDR lets Linux hand
  // out a port another such socket holds (10,000 sockets got about 8,400 distinct ports), and
  // two clients on one port are one flow to the proxy.
  int one = 1;
  if (bindport != 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in local = address("127.0.0.1", bindport);
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) die("bind");
  if (connect(fd, (struct sockaddr *)&target, sizeof target) < 0) die("connect");
  return fd;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int echo(const char *host, int port, double seconds) {
  struct sockaddr_in a = address(host, port);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  // Room for the sessions step's bursts (500 datagrams from as many upstream sockets): with the
  // default buffer (about 270 small datagrams) a fast proxy overran it. The kernel caps it at
  // net.core.rmem_max.
  int size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  // Wakes up every 0.5 s to check the deadline, even with no traffic.
  struct timeval tv = {0, 500000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  static char buf[MAXSIZE];
  double deadline = now() + seconds;
  long n = 0;
  while (now() < deadline) {
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t got = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      die("recvfrom");
    }
    sendto(fd, buf, (size_t)got, 0, (struct sockaddr *)&from, len);
    n++;
  }
  printf("echoed=%ld\n", n);
  return 0;
}

static int ping(const char *host, int port, int size, long count, double seconds, int bindport) {
  int fd = client_socket(address(host, port), bindport);
  static char out[MAXSIZE], in[MAXSIZE];
  memset(out, 'x', (size_t)size);
  double *rtt = calloc((size_t)count, sizeof(double));
  if (!rtt) die("calloc");
  long done = 0, lost = 0;
  double start = now(), deadline = start + seconds;
  struct pollfd p = {fd, POLLIN, 0};
  while (done < count && now() < deadline) {
    memcpy(out, &done, sizeof done);  // the sequence number, so a late reply is not taken for this one
    double t0 = now();
    if (send(fd, out, (size_t)size, 0) < 0 && errno != ECONNREFUSED) die("send");
    for (;;) {
      int r = poll(&p, 1, 200);
      if (r <= 0) {  // 200 ms without the reply: lost
        lost++;
        break;
      }
      ssize_t got = recv(fd, in, sizeof in, 0);
      if (got < (ssize_t)sizeof done) {
        if (got < 0 && errno != ECONNREFUSED) die("recv");
        continue;
      }
      if (memcmp(in, &done, sizeof done) != 0) continue;  // a late reply to an earlier one
      rtt[done++] = now() - t0;
      break;
    }
    if (lost > count / 10 + 10) break;
  }
  double elapsed = now() - start;
  qsort(rtt, (size_t)done, sizeof(double), compare_double);
  double p50 = done ? rtt[done / 2] : 0, p99 = done ? rtt[(done * 99) / 100] : 0;
  printf("mode=ping size=%d roundtrips=%ld lost=%ld seconds=%.3f rps=%.0f p50_us=%.1f p99_us=%.1f\n",
         size, done, lost, elapsed, done / elapsed, p50 * 1e6, p99 * 1e6);
  free(rtt);
  return done > 0 ? 0 : 1;
}

static int flood(const char *host, int port, int size, long count, double seconds, int bindport) {
  int fd = client_socket(address(host, port), bindport);
  static char out[MAXSIZE], in[MAXSIZE];
  memset(out, 'x', (size_t)size);
  long sent = 0, received = 0, lost = 0;
  double start = now(), deadline = start + seconds;
  struct pollfd p = {fd, POLLIN, 0};
  while (received < count && now() < deadline) {
    // Keeps INFLIGHT datagrams outstanding; a datagram gone for 200 ms is written off as lost.
    while (sent - received - lost < INFLIGHT && sent < count + lost) {
      if (send(fd, out, (size_t)size, 0) < 0) {
        if (errno == ECONNREFUSED || errno == ENOBUFS || errno == EAGAIN) break;
        die("send");
      }
      sent++;
    }
    int r = poll(&p, 1, 200);
    if (r <= 0) {
      lost += sent - received - lost;
      continue;
    }
    while (received < count) {
      ssize_t got = recv(fd, in, sizeof in, MSG_DONTWAIT);
      if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED) break;
        die("recv");
      }
      received++;
      if (sent < count + lost && send(fd, out, (size_t)size, 0) >= 0) sent++;
    }
  }
  double elapsed = now() - start;
  printf("mode=flood size=%d roundtrips=%ld lost=%ld seconds=%.3f rps=%.0f\n", size, received, lost,
         elapsed, received / elapsed);
  return received > 0 ? 0 : 1;
}

// FLOWS sockets (FLOWS client ports), each sends one datagram and waits for its reply, in batches
// of 500; then all stay open for HOLD seconds (READYFILE is written when they are all open), so
// that the proxy holds FLOWS live sessions while its memory is read.
static int sessions(const char *host, int port, int flows, double hold, const char *readyfile) {
  struct sockaddr_in target = address(host, port);
  int *fds = calloc((size_t)flows, sizeof(int));
  struct pollfd *p = calloc(500, sizeof(struct pollfd));
  if (!fds || !p) die("calloc");
  char buf[64] = "session";
  long answered = 0;
  double deadline = now() + 60;
  for (int base = 0; base < flows && now() < deadline; base += 500) {
    int n = flows - base < 500 ? flows - base : 500;
    for (int i = 0; i < n; i++) {
      fds[base + i] = client_socket(target, 0);
      send(fds[base + i], buf, 16, 0);
      p[i].fd = fds[base + i];
      p[i].events = POLLIN;
      p[i].revents = 0;
    }
    int pending = n;
    double batch_deadline = now() + 2;
    while (pending > 0 && now() < batch_deadline) {
      if (poll(p, (nfds_t)n, 100) <= 0) continue;
      for (int i = 0; i < n; i++) {
        if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLERR))) {
          if (recv(p[i].fd, buf, sizeof buf, MSG_DONTWAIT) > 0) answered++;
          p[i].fd = -1;
          pending--;
        }
      }
    }
  }
  FILE *f = fopen(readyfile, "w");
  if (f) {
    fprintf(f, "answered=%ld\n", answered);
    fclose(f);
  }
  printf("mode=sessions flows=%d answered=%ld\n", flows, answered);
  fflush(stdout);
  struct timespec t = {(time_t)hold, (long)((hold - (time_t)hold) * 1e9)};
  nanosleep(&t, NULL);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 5 && strcmp(argv[1], "echo") == 0) return echo(argv[2], atoi(argv[3]), atof(argv[4]));
  if (argc >= 8 && (strcmp(argv[1], "ping") == 0 || strcmp(argv[1], "flood") == 0)) {
    int size = atoi(argv[4]);
    if (size < 8 || size > MAXSIZE) {
      fprintf(stderr, "udpbench: SIZE must be 8..%d\n", MAXSIZE);
      return 2;
    }
    int (*run)(const char *, int, int, long, double, int) = argv[1][0] == 'p' ? ping : flood;
    return run(argv[2], atoi(argv[3]), size, atol(argv[5]), atof(argv[6]), atoi(argv[7]));
  }
  if (argc >= 7 && strcmp(argv[1], "sessions") == 0)
    return sessions(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]), argv[6]);
  fprintf(stderr,
          "usage: udpbench echo ADDR PORT SECONDS\n"
          "       udpbench ping|flood ADDR PORT SIZE COUNT SECONDS BINDPORT\n"
          "       udpbench sessions ADDR PORT FLOWS HOLD_SECONDS READYFILE\n");
  return 2;
}
