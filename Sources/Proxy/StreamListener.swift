import Config
import NIOCore
import NIOPosix
import RuleLang
import VM

/// TCP and Unix-socket listeners: byte streams, so the rules run once per connection (addresses,
/// ports or socket path; no payload), and the connection's bytes follow that verdict's session.
/// Each read is passed on as one message.
enum StreamListener {
  static func bind(_ listener: ListenerRuntime, on group: any EventLoopGroup) async throws
    -> any Channel
  {
    let spec = listener.config.spec
    let bootstrap = ServerBootstrap(group: group)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(
            StreamConnectionHandler(listener: listener))
        }
      }
    if spec.protocol == .unixDomainSocket, let path = spec.filename {
      return try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
        .get()
    }
    return try await bootstrap.bind(host: spec.address, port: spec.port ?? 0).get()
  }
}

/// One accepted connection: evaluated when it opens; its bytes go to the session, the session's
/// replies come back; either side closing ends both.
final class StreamConnectionHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  let listener: ListenerRuntime
  private let evaluator = PacketEvaluator()
  private var flow: Flow?
  private var session: Session?

  init(listener: ListenerRuntime) { self.listener = listener }

  func channelActive(context: ChannelHandlerContext) {
    let counters = listener.counters
    let channel = context.channel
    guard let snapshot = listener.rules else {
      counters.droppedUndeliverable.increment()
      context.close(promise: nil)
      return
    }
    let view = evaluator.view
    let remote = channel.remoteAddress
    var filename: [UInt8] = []
    if let r = remote?.ipAndPort, let l = channel.localAddress?.ipAndPort {
      view.pointee.srcAddr = r.0
      view.pointee.srcPort = r.1
      view.pointee.dstAddr = l.0
      view.pointee.dstPort = l.1
      view.pointee.hasAddresses = true
    } else {
      filename = Array((listener.config.spec.filename ?? "").utf8)
    }
    let flow = Flow(
      listener: listener, source: remote?.displayText ?? listener.config.spec.filename ?? "unix",
      eventLoop: context.eventLoop,
      reply: { buffer in channel.writeAndFlush(buffer, promise: nil) })
    flow.onSessionClosed = { _ in channel.close(promise: nil) }
    self.flow = flow
    let empty = ByteBuffer()
    filename.withUnsafeBytes { name in
      view.pointee.unixFilename = filename.isEmpty ? nil : name
      let verdict = evaluator.evaluate(snapshot, counters: counters)
      session = flow.dispatch(empty, snapshot: snapshot, verdict: verdict, send: false) {
        var m = SessionMetadata(view: view.pointee, transport: "TCP")
        m.apply(
          evaluator.rewrites, count: Int(verdict.rewriteCount), program: snapshot.program.program)
        return m
      }
      view.pointee.unixFilename = nil
    }
    if session == nil { context.close(promise: nil) }
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let buffer = unwrapInboundIn(data)
    listener.counters.packets.increment()
    listener.counters.bytes.increment(by: Int64(buffer.readableBytes))
    guard let session, !session.closed else {
      listener.counters.droppedUndeliverable.increment()
      return
    }
    session.receive(buffer)
  }

  func channelInactive(context: ChannelHandlerContext) {
    flow?.onSessionClosed = nil
    flow?.closeAll()
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }
}
