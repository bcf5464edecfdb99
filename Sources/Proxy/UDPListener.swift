import CSystemShim
import Config
import Foundation
import NIOCore
import NIOPosix
import RuleLang
import VM

/// A UDP listener: one socket, flows keyed by the client's address and port. Every datagram is
/// evaluated by the VM in place (the packet view points into the received buffer); its verdict
/// picks the session, and replies go back to the client from the listener's socket.
///
/// Where it runs depends on where its routes lead, when it is bound:
/// - only to UDP (and Echo, Discard) clusters: on the UDP data path (`DatagramLoop`), without a
///   NIO channel — the loop reads it with `recvmmsg` and the replies go out with `sendmmsg`,
///   without an envelope, a pipeline pass or an address object per datagram. Its sessions run
///   on that loop too, their UDP hops channel-less sockets of the same epoll set.
/// - to a WebSocket, TCP or Unix-socket cluster: as a NIO channel on one of NIO's loops, so that
///   its sessions share a thread with their connections (which are NIO channels). On the data
///   path every message to and from such a connection would cross threads: two more wake-ups
///   per round trip, measured +24 µs of CPU per round trip on one core.
enum UDPListener {
  /// Room for bursts from many flows (the kernel caps it at net.core.rmem_max).
  static let receiveSocketBuffer: CInt = 4 << 20
  /// Any UDP payload fits (65,507 bytes over IPv4).
  static let receiveBufferSize = 65536

  static func bind(_ listener: ListenerRuntime, runtime: ProxyRuntime) async throws
    -> any BoundListener
  {
    let spec = listener.config.spec
    let address = try SocketAddress.makeAddressResolvingHost(spec.address, port: spec.port ?? 0)
    let fd = address.withSockAddr { pointer, length in
      l7mp_udp_listener_open(pointer, socklen_t(length), receiveSocketBuffer)
    }
    guard fd >= 0 else { throw IOError(errnoCode: -fd, reason: "bind \(address)") }
    if routesToConnections(listener) {
      // Read by its channel, which also sends the replies: the handler holds no socket.
      let handler = UDPListenerHandler(listener: listener)
      return try await bindChannel(fd, handler: handler, on: runtime.group.next())
    }
    let handler = UDPListenerHandler(
      listener: listener, socket: fd, family: address.protocol == .inet6 ? AF_INET6 : AF_INET)
    let loop: DatagramLoop
    let local: SocketAddress
    do {
      loop = try runtime.datagramLoop()
      let port = l7mp_local_port(fd)
      guard port >= 0 else { throw IOError(errnoCode: -port, reason: "getsockname") }
      local = try SocketAddress(ipAddress: address.ipAddress ?? "", port: Int(port))
      try await loop.submit {
        handler.attach(to: loop, local: local)
        try EventLoopIO.of(loop).existingSockets?.addListener(fd, handler: handler)
      }.get()
    } catch {
      _ = Glibc.close(fd)
      throw error
    }
    return UDPBoundListener(fd: fd, loop: loop, localAddress: local)
  }

  /// The bound socket `fd` as a NIO channel on `loop`, read by NIO.
  private static func bindChannel(
    _ fd: CInt, handler: UDPListenerHandler, on loop: any EventLoop
  ) async throws -> any BoundListener {
    do {
      // `recvmmsg` of 16 datagrams per read, each into a 64 KiB slot of one 1 MiB buffer.
      let channel = try await DatagramBootstrap(group: loop)
        .channelOption(.datagramVectorReadMessageCount, value: DatagramSockets.datagramsPerRead)
        .channelOption(
          .recvAllocator,
          value: FixedSizeRecvByteBufferAllocator(
            capacity: DatagramSockets.datagramsPerRead * receiveBufferSize)
        )
        .channelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(handler)
          }
        }
        .withBoundSocket(fd).get()
      return ChannelListener(channel: channel)
    } catch {
      _ = Glibc.close(fd)
      throw error
    }
  }

  /// Whether a route of the listener's rulelist (or of those it applies) names a WebSocket, TCP
  /// or Unix-socket cluster (clusters not defined yet count as UDP).
  static func routesToConnections(_ listener: ListenerRuntime) -> Bool {
    guard let snapshot = listener.rules else { return false }
    let program = snapshot.program.program
    var seen: Set<Int> = []
    var pending = [snapshot.rulelist]
    while let rulelist = pending.popLast() {
      guard seen.insert(rulelist).inserted else { continue }
      for rule in program.rules where rule.rulelist == rulelist {
        switch rule.action {
        case .apply(let next):
          pending.append(next)
        case .route(let r):
          let route = program.routes[r]
          for name in route.via + [route.destination] + route.returnVia {
            switch listener.runtime.cluster(named: name)?.config.spec.protocol {
            case .webSocket, .tcp, .unixDomainSocket: return true
            default: continue
            }
          }
        case .drop:
          continue
        }
      }
    }
    return false
  }
}

/// A bound UDP listener: its socket belongs to the data path's socket table.
struct UDPBoundListener: BoundListener {
  let fd: CInt
  let loop: DatagramLoop
  let localAddress: SocketAddress?

  func close() async {
    let (fd, loop) = (fd, loop)
    try? await loop.submit { EventLoopIO.of(loop).existingSockets?.removeListener(fd) }.get()
  }
}

/// A UDP client: its address as 128 bits (IPv4 as IPv4-mapped IPv6, like `IPAddress`) and its
/// port. Flows are keyed by it (a flat value: no `SocketAddress` object per datagram).
struct UDPPeer: Hashable {
  let high: UInt64
  let low: UInt64
  let port: Int32

  init(_ peer: l7mp_peer) {
    (high, low, port) = (peer.high, peer.low, peer.port)
  }

  init(_ address: SocketAddress) {
    let (ip, port) = address.ipAndPort ?? (IPAddress(high: 0, low: 0), -1)
    (high, low, self.port) = (ip.high, ip.low, port)
  }

  /// The C shim's form, for `sendmmsg`.
  var raw: l7mp_peer { l7mp_peer(high: high, low: low, port: port) }

  var ip: IPAddress { IPAddress(high: high, low: low) }

  /// `10.0.0.1:5000`, `[::1]:5000`.
  var displayText: String { ip.isV4 ? "\(ip):\(port)" : "[\(ip)]:\(port)" }
}

/// Confined to its event loop, the `DatagramLoop` (or a test's `EmbeddedChannel`'s loop;
/// `@unchecked Sendable` so that setup code may hand it to the loop).
final class UDPListenerHandler: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = AddressedEnvelope<ByteBuffer>
  typealias OutboundOut = AddressedEnvelope<ByteBuffer>

  let listener: ListenerRuntime
  /// The listener's socket while it is open (nil on an `EmbeddedChannel`, where replies are
  /// written to the channel instead).
  private(set) var socket: CInt?
  /// AF_INET or AF_INET6: how replies' addresses are written.
  let family: CInt
  private let evaluator = PacketEvaluator()
  /// The listener's rules as last read, and the version they were read at (-1: never).
  private var currentRules: RulesSnapshot?
  private var rulesVersion = -1
  /// Forwarded datagrams and replies go out once per read (`sendmmsg`): the event loop's batch,
  /// shared with the loop's other sockets.
  private var batch = WriteBatch()
  /// Between the first `channelRead` of a read and its `channelReadComplete` (embedded only).
  private var reading = false
  private var channel: (any Channel)?
  private var eventLoop: (any EventLoop)?
  private var flows: [UDPPeer: UDPFlowEntry] = [:]
  private var recent: (peer: UDPPeer, entry: UDPFlowEntry)?
  private var local: (IPAddress, Int32) = (IPAddress(v4: 0), -1)

  struct UDPFlowEntry {
    let flow: Flow
    let address: IPAddress
    let port: Int32
  }

  init(listener: ListenerRuntime, socket: CInt? = nil, family: CInt = AF_INET) {
    self.listener = listener
    self.socket = socket
    self.family = family
  }

  /// On the UDP data path: its batch, its loop, the address it is bound to.
  func attach(to loop: DatagramLoop, local address: SocketAddress) {
    batch = EventLoopIO.of(loop).batch
    eventLoop = loop
    if let l = address.ipAndPort { local = l }
  }

  /// In a NIO channel's pipeline.
  func handlerAdded(context: ChannelHandlerContext) {
    batch = EventLoopIO.of(context.eventLoop).batch
    channel = context.channel
    eventLoop = context.eventLoop
  }

  /// The socket closed (the listener was removed): its sessions stay until idle (their replies
  /// have nowhere to go), except those the runtime ends as orphans.
  func socketClosed() { socket = nil }

  func channelActive(context: ChannelHandlerContext) {
    if let l = context.channel.localAddress?.ipAndPort { local = l }
    context.fireChannelActive()
  }

  /// A datagram through the channel: only on an `EmbeddedChannel` (on the data path
  /// `DatagramSockets` calls `handle`).
  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if !reading {
      reading = true
      batch.beginRead()
    }
    let envelope = unwrapInboundIn(data)
    handle(envelope.data, from: UDPPeer(envelope.remoteAddress))
  }

  /// One datagram from `peer`: evaluated, then sent on to its session (or dropped, counted).
  func handle(_ data: ByteBuffer, from peer: UDPPeer) {
    let counters = listener.counters
    counters.packets.increment()
    counters.bytes.increment(by: Int64(data.readableBytes))
    let version = listener.rulesVersion
    if version != rulesVersion {
      // Read after the version: a swap in between is read again with the next datagram.
      currentRules = listener.rules
      rulesVersion = version
    }
    guard let snapshot = currentRules else {
      counters.droppedUndeliverable.increment()
      return
    }
    guard peer.port >= 0 else {
      counters.droppedMalformed.increment()
      return
    }
    let entry = flowEntry(peer)
    let view = evaluator.view
    view.pointee.srcAddr = entry?.address ?? peer.ip
    view.pointee.srcPort = peer.port
    view.pointee.dstAddr = local.0
    view.pointee.dstPort = local.1
    view.pointee.hasAddresses = true
    data.withUnsafeReadableBytes { payload in
      view.pointee.payload = payload
      let verdict = evaluator.evaluate(snapshot, counters: counters)
      guard verdict.matched else {
        counters.droppedByRules.increment()
        return
      }
      let flow = entry?.flow ?? makeFlow(peer)
      flow.dispatch(data, snapshot: snapshot, verdict: verdict) {
        var m = SessionMetadata(view: view.pointee, transport: "UDP")
        m.apply(
          evaluator.rewrites, count: Int(verdict.rewriteCount), program: snapshot.program.program)
        return m
      }
      if flow.sessions.isEmpty { forget(peer) }
    }
    view.pointee.payload = nil
  }

  /// The flow of `peer`: the last one looked up is kept aside (a client's datagrams tend to come
  /// in runs), which spares hashing the peer.
  private func flowEntry(_ peer: UDPPeer) -> UDPFlowEntry? {
    if let recent, recent.peer == peer { return recent.entry }
    guard let entry = flows[peer] else { return nil }
    recent = (peer, entry)
    return entry
  }

  private func forget(_ peer: UDPPeer) {
    flows[peer] = nil
    if recent?.peer == peer { recent = nil }
  }

  private func makeFlow(_ peer: UDPPeer) -> Flow {
    let batch = self.batch
    let reply: (ByteBuffer) -> Void
    if socket != nil {
      // Strong, like `onEmpty`: a session may outlive the listener (its replies are then
      // dropped: `socket` is nil); the cycle through `flows` ends when the flow empties.
      reply = { buffer in batch.reply(buffer, to: peer, from: self) }
    } else {
      let channel = self.channel
      let remote = try? SocketAddress(ipAddress: peer.ip.description, port: Int(peer.port))
      reply = { buffer in
        guard let channel, let remote else { return }
        batch.write(AddressedEnvelope(remoteAddress: remote, data: buffer), to: channel)
      }
    }
    let flow = Flow(
      listener: listener, source: peer.displayText, eventLoop: eventLoop!, batch: batch,
      reply: reply)
    flow.onEmpty = { _ in self.forget(peer) }
    flows[peer] = UDPFlowEntry(flow: flow, address: peer.ip, port: peer.port)
    return flow
  }

  /// Sending replies failed (the socket buffer is full): dropped and counted.
  func sendFailed(errno code: CInt, dropped: Int) {
    listener.counters.droppedUndeliverable.increment(by: Int64(dropped))
    proxyLogger.debug(
      "UDP listener send failed; replies dropped",
      metadata: [
        "listener": "\(listener.name)", "error": "\(IOError(errnoCode: code, reason: "send"))",
      ])
  }

  private func endRead() {
    guard reading else { return }
    reading = false
    batch.endRead()
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    endRead()
    context.fireChannelReadComplete()
  }

  func channelInactive(context: ChannelHandlerContext) {
    endRead()
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    endRead()
    proxyLogger.debug(
      "UDP listener error", metadata: ["listener": "\(listener.name)", "error": "\(error)"])
  }
}
