import Config
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import RuleLang

/// One hop of a session: a connection to one endpoint of a cluster (or the virtual Echo and
/// Discard). Messages queue while it connects; connection failures and disconnects follow the
/// route's retry policy; when it gives up, the session fails.
///
/// Confined to the session's event loop. A WebSocket or stream hop of a session on the UDP data
/// path (`DatagramLoop`) is a channel on one of NIO's loops: its events come back to the
/// session's loop as tasks (`receivedOnChannel`, `disconnectedOnChannel`).
final class UpstreamLink: @unchecked Sendable {
  /// Strong until the link closes (with its session): a weak reference would give the session
  /// a side table, and every retain and release of it on the per-datagram path the slow path.
  private var session: Session?
  let position: Int
  let cluster: ClusterRuntime
  let endpoint: EndpointConfig?
  let eventLoop: any EventLoop
  private let route: RouteInfo
  /// The session's write batch: writes during a read are flushed once when it ends.
  let batch: WriteBatch?

  private enum State {
    case idle
    case connecting
    case ready(any Channel)
    /// A UDP hop: a channel-less socket of the loop's `DatagramSockets`.
    case datagram(CInt, DatagramSockets)
    /// A UDP hop of a session on one of NIO's loops: a channel-less socket read by the UDP data
    /// path (`DatagramLoop`), which hands its datagrams over as tasks; sent on from here.
    case remoteDatagram(CInt, DatagramLoop)
    case echo
    case discard
    case closed
  }

  private var state = State.idle
  /// An array, not a `CircularBuffer`: empty, it allocates nothing, and a session keeps it
  /// for life (a `CircularBuffer` holds 16 slots from the start).
  private var pending: [ByteBuffer] = []
  private var attempts = 0
  private var reconnects = 0

  /// Messages kept while connecting; more are dropped (and counted).
  static let pendingLimit = 1024

  init(session: Session, position: Int, cluster: ClusterRuntime, endpoint: EndpointConfig?) {
    self.session = session
    self.position = position
    self.cluster = cluster
    self.endpoint = endpoint
    self.eventLoop = session.eventLoop
    self.route = session.route
    self.batch = session.batch
  }

  var isReady: Bool {
    switch state {
    case .ready, .datagram, .remoteDatagram, .echo, .discard: return true
    default: return false
    }
  }

  func connect() {
    switch cluster.config.spec.protocol {
    case .echo: state = .echo
    case .discard: state = .discard
    default: attempt()
    }
    session?.linkStateChanged()
  }

  func send(_ buffer: ByteBuffer) {
    cluster.counters.packetsOut.increment()
    cluster.counters.bytesOut.increment(by: Int64(buffer.readableBytes))
    switch state {
    case .ready(let channel):
      write(buffer, to: channel)
    case .datagram(let fd, let sockets):
      sockets.batch.send(buffer, fd: fd, link: self)
    case .remoteDatagram(let fd, _):
      DatagramSockets.sendNow(buffer, fd: fd, link: self)
    case .echo:
      received(buffer)
    case .discard:
      break
    case .idle, .connecting:
      if pending.count < Self.pendingLimit {
        // A copy the message's size: the received buffer may be a slice of a 64 KiB read buffer.
        pending.append(ByteBuffer(bytes: buffer.readableBytesView))
      } else {
        session?.listener.counters.droppedUndeliverable.increment()
      }
    case .closed:
      session?.listener.counters.droppedUndeliverable.increment()
    }
  }

  /// A message from the upstream.
  func received(_ buffer: ByteBuffer) {
    cluster.counters.packetsIn.increment()
    cluster.counters.bytesIn.increment(by: Int64(buffer.readableBytes))
    session?.forward(buffer, from: position)
  }

  /// A message from the hop's channel, on the channel's loop.
  func receivedOnChannel(_ buffer: ByteBuffer) {
    if eventLoop.inEventLoop {
      received(buffer)
    } else {
      eventLoop.execute { [self] in received(buffer) }
    }
  }

  /// The hop's channel ended, on the channel's loop.
  func disconnectedOnChannel(_ reason: String) {
    if eventLoop.inEventLoop {
      disconnected(reason)
    } else {
      eventLoop.execute { [self] in disconnected(reason) }
    }
  }

  func close() {
    switch state {
    case .ready(let channel): channel.close(promise: nil)
    case .datagram(let fd, let sockets): sockets.close(fd)
    case .remoteDatagram(let fd, let loop): loop.release(fd)
    default: break
    }
    state = .closed
    pending.removeAll()
    session = nil
  }

  /// The socket of a UDP hop, while it is open.
  var datagramFD: CInt? {
    if case .datagram(let fd, _) = state { return fd }
    return nil
  }

  var datagramSockets: DatagramSockets? {
    if case .datagram(_, let sockets) = state { return sockets }
    return nil
  }

  /// Sending on the UDP hop's socket failed: a refused socket (an ICMP error came back) is a
  /// disconnect; otherwise (the socket buffer is full) the datagrams are dropped and counted.
  func sendFailed(errno code: CInt, dropped: Int) {
    session?.listener.counters.droppedUndeliverable.increment(by: Int64(dropped))
    if code == ECONNREFUSED || code == ENETUNREACH || code == EHOSTUNREACH {
      disconnected(IOError(errnoCode: code, reason: "send").description)
    } else {
      proxyLogger.debug(
        "UDP upstream send failed; datagrams dropped",
        metadata: [
          "cluster": "\(cluster.name)", "error": "\(IOError(errnoCode: code, reason: "send"))",
        ])
    }
  }

  /// Reading the UDP hop's socket failed (an ICMP port unreachable shows as ECONNREFUSED).
  func receiveFailed(errno code: CInt) {
    disconnected(IOError(errnoCode: code, reason: "recvmmsg").description)
  }

  private func write(_ buffer: ByteBuffer, to channel: any Channel) {
    // A channel on another loop (a WebSocket or stream hop of a session on the UDP data path)
    // gets a copy of its own, flushed at once: the datagram is a slice of the data path's read
    // buffer, reused when this read is done, and the channel's loop writes it later (holding the
    // slice made the next read allocate a new 1 MiB buffer).
    let crossing = channel.eventLoop !== eventLoop
    let data = crossing ? ByteBuffer(bytes: buffer.readableBytesView) : buffer
    switch cluster.config.spec.protocol {
    case .webSocket:
      send(
        WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: data), to: channel,
        batched: !crossing)
    default:
      send(data, to: channel, batched: !crossing)
    }
  }

  /// Through the session's write batch when it has one (and `batched`), else flushed at once.
  private func send<Message: Sendable>(
    _ message: Message, to channel: any Channel, batched: Bool
  ) {
    if batched, let batch {
      batch.write(message, to: channel)
    } else {
      channel.writeAndFlush(message, promise: nil)
    }
  }

  private func attempt() {
    guard let session, !session.closed, let endpoint else { return }
    attempts += 1
    state = .connecting
    let address: SocketAddress
    do {
      address = try cluster.socketAddress(of: endpoint)
    } catch {
      session.fail("\(error)")
      return
    }
    let timeout = TimeAmount.nanoseconds(max(route.timeout, 1_000_000))
    // A session on the UDP data path connects its WebSocket and stream hops on NIO's loops.
    let channelLoop = eventLoop is DatagramLoop ? session.listener.runtime.group.next() : eventLoop
    let future: EventLoopFuture<any Channel>
    switch cluster.config.spec.protocol {
    case .udp:
      guard let sockets = EventLoopIO.of(eventLoop).existingSockets else {
        // A WebSocket or stream listener's session, on one of NIO's loops: the socket is read
        // by the UDP data path too, which hands its datagrams to this loop.
        do {
          let loop = try session.listener.runtime.datagramLoop()
          let fd = try DatagramSockets.openConnected(address)
          loop.adopt(fd, for: self)
          state = .remoteDatagram(fd, loop)
          let queued = pending
          pending = []
          for buffer in queued { DatagramSockets.sendNow(buffer, fd: fd, link: self) }
        } catch {
          eventLoop.execute { [self] in connectFailed(error) }
        }
        return
      }
      // A connected socket without a channel: nothing to wait for.
      let fd: CInt
      do {
        fd = try sockets.open(address, for: self)
      } catch {
        // Reported from the loop, like a failed channel connect (the session is still starting).
        eventLoop.execute { [self] in connectFailed(error) }
        return
      }
      state = .datagram(fd, sockets)
      let queued = pending
      pending = []
      for buffer in queued { sockets.batch.send(buffer, fd: fd, link: self) }
      return
    case .tcp, .unixDomainSocket:
      future = ClientBootstrap(group: channelLoop)
        .connectTimeout(timeout)
        .channelInitializer { [self] channel in
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(UpstreamStreamHandler(link: self))
          }
        }
        .connect(to: address)
    case .webSocket:
      future = WebSocketUpstream.connect(
        link: self, to: address, host: endpoint.spec.address ?? "localhost",
        path: cluster.config.spec.path ?? "/", headers: session.metadata.headerRewrites,
        timeout: timeout, on: channelLoop)
    case .echo, .discard:
      return
    }
    future.hop(to: eventLoop).whenComplete { [self] result in
      switch result {
      case .success(let channel):
        guard case .connecting = state else {
          channel.close(promise: nil)
          return
        }
        state = .ready(channel)
        guard channel.isActive else {
          // Closed by the peer before we saw it open.
          disconnected("the upstream closed the connection")
          return
        }
        let queued = pending
        pending = []
        for buffer in queued { write(buffer, to: channel) }
        self.session?.linkStateChanged()
      case .failure(let error):
        connectFailed(error)
      }
    }
  }

  private func connectFailed(_ error: any Error) {
    guard case .connecting = state else { return }
    cluster.counters.connectFailures.increment()
    let policy = route.retryOn
    if (policy == .connectFailure || policy == .always) && attempts <= route.retries {
      // A short pause, growing with each attempt, so a refused connection is not hammered.
      let backoff = TimeAmount.milliseconds(Int64(min(50 * attempts, 1000)))
      state = .idle
      eventLoop.scheduleTask(in: backoff) { [self] in
        if case .idle = state { attempt() }
      }
      return
    }
    state = .closed
    session?.fail(
      "cannot connect to cluster '\(cluster.name)' endpoint '\(endpoint?.name ?? "?")' after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(error)"
    )
  }

  /// The upstream connection ended or failed while in use.
  func disconnected(_ reason: String) {
    switch state {
    case .ready(let channel): channel.close(promise: nil)
    case .datagram(let fd, let sockets): sockets.close(fd)
    case .remoteDatagram(let fd, let loop): loop.release(fd)
    default: return
    }
    cluster.counters.disconnects.increment()
    let policy = route.retryOn
    if (policy == .disconnect || policy == .always) && reconnects < route.retries {
      reconnects += 1
      attempts = 0
      attempt()
      session?.linkStateChanged()
      return
    }
    state = .closed
    session?.fail("cluster '\(cluster.name)' endpoint '\(endpoint?.name ?? "?")': \(reason)")
  }
}

/// Bytes from a TCP or Unix-socket upstream: each read is passed on as one message.
final class UpstreamStreamHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  let link: UpstreamLink

  init(link: UpstreamLink) { self.link = link }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    link.receivedOnChannel(unwrapInboundIn(data))
  }

  func channelInactive(context: ChannelHandlerContext) {
    link.disconnectedOnChannel("the upstream closed the connection")
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }
}
