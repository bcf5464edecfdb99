import Config
import NIOCore
import NIOPosix
import RuleLang
import VM

/// A UDP listener: one socket, flows keyed by the client's address and port. Every datagram is
/// evaluated by the VM in place (the packet view points into the received buffer); its verdict
/// picks the session, and replies go back to the client from the listener's socket.
enum UDPListener {
  /// Any UDP payload fits (65,507 bytes over IPv4), so no datagram is truncated.
  static let receiveBufferSize = 65536
  static let receiveSocketBuffer: SocketOptionValue = 4 << 20
  /// Datagrams read with one `recvmmsg`. NIO splits its receive buffer evenly among them, so the
  /// buffer is this many times `receiveBufferSize` (address space; only the pages the kernel
  /// writes into become resident).
  static let datagramsPerRead = 16

  static func bind(_ listener: ListenerRuntime, on group: any EventLoopGroup) async throws
    -> any Channel
  {
    let spec = listener.config.spec
    return try await DatagramBootstrap(group: group)
      // No SO_REUSEADDR: on UDP it would let a second listener share the port silently.
      // Room for bursts from many flows (the kernel caps it at net.core.rmem_max).
      .channelOption(.socketOption(.so_rcvbuf), value: receiveSocketBuffer)
      .channelOption(.datagramVectorReadMessageCount, value: datagramsPerRead)
      .channelOption(
        .recvAllocator,
        value: FixedSizeRecvByteBufferAllocator(capacity: datagramsPerRead * receiveBufferSize)
      )
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(UDPListenerHandler(listener: listener))
        }
      }
      .bind(host: spec.address, port: spec.port ?? 0).get()
  }
}

final class UDPListenerHandler: ChannelInboundHandler {
  typealias InboundIn = AddressedEnvelope<ByteBuffer>
  typealias OutboundOut = AddressedEnvelope<ByteBuffer>

  let listener: ListenerRuntime
  private let evaluator = PacketEvaluator()
  /// Forwarded datagrams and replies go out once per read (`sendmmsg`): the event loop's batch,
  /// shared with the loop's upstream sockets.
  private var batch = WriteBatch()
  /// Between the first `channelRead` of a read and its `channelReadComplete`.
  private var reading = false
  private var flows: [SocketAddress: UDPFlowEntry] = [:]
  private var local: (IPAddress, Int32) = (IPAddress(v4: 0), -1)

  struct UDPFlowEntry {
    let flow: Flow
    let address: IPAddress
    let port: Int32
  }

  init(listener: ListenerRuntime) { self.listener = listener }

  func handlerAdded(context: ChannelHandlerContext) {
    batch = EventLoopIO.of(context.eventLoop).batch
  }

  func channelActive(context: ChannelHandlerContext) {
    if let l = context.channel.localAddress?.ipAndPort { local = l }
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let envelope = unwrapInboundIn(data)
    if !reading {
      reading = true
      batch.beginRead()
    }
    let counters = listener.counters
    counters.packets.increment()
    counters.bytes.increment(by: Int64(envelope.data.readableBytes))
    guard let snapshot = listener.rules else {
      counters.droppedUndeliverable.increment()
      return
    }
    let remote = envelope.remoteAddress
    let entry = flows[remote]
    let (srcAddr, srcPort): (IPAddress, Int32)
    if let entry {
      (srcAddr, srcPort) = (entry.address, entry.port)
    } else {
      guard let ap = remote.ipAndPort else { return }
      (srcAddr, srcPort) = ap
    }
    let view = evaluator.view
    view.pointee.srcAddr = srcAddr
    view.pointee.srcPort = srcPort
    view.pointee.dstAddr = local.0
    view.pointee.dstPort = local.1
    view.pointee.hasAddresses = true
    envelope.data.withUnsafeReadableBytes { payload in
      view.pointee.payload = payload
      let verdict = evaluator.evaluate(snapshot, counters: counters)
      guard verdict.matched else {
        counters.droppedByRules.increment()
        return
      }
      let flow = entry?.flow ?? makeFlow(context: context, remote: remote, srcAddr, srcPort)
      flow.dispatch(envelope.data, snapshot: snapshot, verdict: verdict) {
        var m = SessionMetadata(view: view.pointee, transport: "UDP")
        m.apply(
          evaluator.rewrites, count: Int(verdict.rewriteCount), program: snapshot.program.program)
        return m
      }
      if flow.sessions.isEmpty { flows[remote] = nil }
    }
    view.pointee.payload = nil
  }

  private func makeFlow(
    context: ChannelHandlerContext, remote: SocketAddress, _ addr: IPAddress, _ port: Int32
  ) -> Flow {
    let channel = context.channel
    let batch = self.batch
    let flow = Flow(
      listener: listener, source: remote.displayText, eventLoop: context.eventLoop, batch: batch,
      reply: { buffer in
        batch.write(AddressedEnvelope(remoteAddress: remote, data: buffer), to: channel)
      })
    flow.onEmpty = { [weak self] _ in self?.flows[remote] = nil }
    flows[remote] = UDPFlowEntry(flow: flow, address: addr, port: port)
    return flow
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

  /// The socket closed (the listener was removed): sessions that asked for it end with it.
  func channelInactive(context: ChannelHandlerContext) {
    endRead()
    for entry in Array(flows.values) {
      for session in Array(entry.flow.sessions.values) where session.route.removeOrphanSessions {
        session.close()
      }
    }
    context.fireChannelInactive()
  }

  /// A read error on a listening UDP socket (an ICMP error for an earlier reply) is not fatal.
  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    endRead()
    proxyLogger.debug(
      "UDP listener error", metadata: ["listener": "\(listener.name)", "error": "\(error)"])
  }
}
