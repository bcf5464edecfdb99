import Config
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import RuleLang
import VM

/// A WebSocket listener: HTTP/1.1 upgrade; the upgrade request's method, path, query, host and
/// headers are the `HTTP.…` metadata of every message of the connection; each message (after
/// reassembling fragments) is evaluated by the VM. A request that is not an upgrade is answered
/// 426; a malformed request or frame ends the connection (counted as malformed).
enum WebSocketListener {
  static func bind(_ listener: ListenerRuntime, on group: any EventLoopGroup) async throws
    -> any Channel
  {
    let spec = listener.config.spec
    return try await WebSocketServer.bootstrap(group: group, counters: listener.counters) {
      channel, head in
      WebSocketListenerHandler(listener: listener, request: head, channel: channel)
    }
    .bind(host: spec.address, port: spec.port ?? 0).get()
  }
}

/// The server side of the WebSocket upgrade, shared by the listener and `l7mp echo --ws`.
enum WebSocketServer {
  static func bootstrap(
    group: any EventLoopGroup, counters: ListenerCounters?,
    handler: @escaping @Sendable (any Channel, HTTPRequestHead) -> any ChannelHandler
  ) -> ServerBootstrap {
    ServerBootstrap(group: group)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        let upgrader = NIOWebSocketServerUpgrader(
          maxFrameSize: WebSocketUpstream.maxMessageSize,
          shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
          upgradePipelineHandler: { channel, head in
            // What a WebSocket peer sent in its upgrade (the `id: 1` a gateway's rewrite adds):
            // `L7MP_LOG_LEVEL=debug` shows it, as the seed example's test checks.
            proxyLogger.debug(
              "websocket upgrade",
              metadata: [
                "uri": "\(head.uri)",
                "headers":
                  "\(head.headers.map { "\($0.name): \($0.value)" }.joined(separator: "; "))",
              ])
            return channel.eventLoop.makeCompletedFuture {
              let ops = channel.pipeline.syncOperations
              // Frames must not reach the plain-HTTP answerer.
              ops.removeHandler(name: UpgradeRequiredHandler.name, promise: nil)
              try ops.addHandler(
                NIOWebSocketFrameAggregator(
                  minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024,
                  maxAccumulatedFrameSize: WebSocketUpstream.maxMessageSize))
              try ops.addHandler(handler(channel, head))
            }
          })
        // No pipelining assistance: one request per connection, and its state machine would
        // refuse the answer to a refused upgrade.
        return channel.pipeline.configureHTTPServerPipeline(
          withPipeliningAssistance: false,
          withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }),
          withErrorHandling: true
        ).flatMap {
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
              UpgradeRequiredHandler(counters: counters), name: UpgradeRequiredHandler.name)
          }
        }
      }
  }
}

/// Answers a plain HTTP request (not an upgrade, or one the upgrader refused) with 426 and closes.
final class UpgradeRequiredHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart
  static let name = "l7mp.upgrade-required"
  let counters: ListenerCounters?
  private var responded = false

  init(counters: ListenerCounters?) { self.counters = counters }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .end = unwrapInboundIn(data) else { return }
    counters?.droppedMalformed.increment()
    respond(
      context, .upgradeRequired,
      "this is a WebSocket endpoint: send an HTTP/1.1 upgrade request\n")
  }

  /// A request the upgrader refused (no key, a bad version…) gets a 400 naming why; HTTP parse
  /// errors were answered by NIO's protocol error handler already.
  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    counters?.droppedMalformed.increment()
    if error is HTTPParserError {
      context.close(promise: nil)
    } else {
      respond(context, .badRequest, "bad WebSocket upgrade request: \(error)\n")
    }
  }

  private func respond(
    _ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ body: String
  ) {
    guard !responded else { return }
    responded = true
    var head = HTTPResponseHead(version: .http1_1, status: status)
    if status == .upgradeRequired { head.headers.add(name: "Upgrade", value: "websocket") }
    head.headers.add(name: "Connection", value: "close")
    head.headers.add(name: "Content-Length", value: "\(body.utf8.count)")
    context.write(wrapOutboundOut(.head(head)), promise: nil)
    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
    context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete {
      [channel = context.channel] _ in channel.close(promise: nil)
    }
  }
}

/// The upgrade request's fields, owned for the connection's life so that packet views can point
/// into them.
final class RequestFields {
  private let arena: UnsafeMutableRawBufferPointer
  let method: UnsafeRawBufferPointer
  let path: UnsafeRawBufferPointer
  let query: UnsafeRawBufferPointer?
  let host: UnsafeRawBufferPointer?
  let headers: UnsafeBufferPointer<HeaderField>
  private let headerStorage: UnsafeMutablePointer<HeaderField>

  init(_ head: HTTPRequestHead) {
    let uri = head.uri
    let q = uri.firstIndex(of: "?")
    let pathText = q.map { String(uri[..<$0]) } ?? uri
    let queryText = q.map { String(uri[uri.index(after: $0)...]) }
    let hostText = head.headers.first(name: "host")
    var strings = [head.method.rawValue, pathText, queryText ?? "", hostText ?? ""]
    for (name, value) in head.headers {
      strings.append(name.lowercased())
      strings.append(value)
    }
    let total = strings.reduce(1) { $0 + $1.utf8.count }
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: total, alignment: 1)
    arena = storage
    var offset = 0
    var views: [UnsafeRawBufferPointer] = []
    for s in strings {
      let bytes = Array(s.utf8)
      let start = storage.baseAddress! + offset
      if !bytes.isEmpty {
        bytes.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
      }
      views.append(UnsafeRawBufferPointer(start: start, count: bytes.count))
      offset += bytes.count
    }
    method = views[0]
    path = views[1]
    query = queryText == nil ? nil : views[2]
    host = hostText == nil ? nil : views[3]
    let n = (views.count - 4) / 2
    headerStorage = .allocate(capacity: max(n, 1))
    for k in 0..<n {
      (headerStorage + k).initialize(
        to: HeaderField(name: views[4 + 2 * k], value: views[5 + 2 * k]))
    }
    headers = UnsafeBufferPointer(start: headerStorage, count: n)
  }

  deinit {
    arena.deallocate()
    headerStorage.deallocate()
  }
}

/// One upgraded connection: every message evaluated with the request's metadata.
final class WebSocketListenerHandler: ChannelInboundHandler {
  typealias InboundIn = WebSocketFrame
  typealias OutboundOut = WebSocketFrame

  let listener: ListenerRuntime
  private let request: RequestFields
  private let evaluator = PacketEvaluator()
  private let flow: Flow
  /// Replies use the opcode of the client's last message (text stays text).
  private let replyOpcode: ReplyOpcode

  final class ReplyOpcode: @unchecked Sendable {
    var value = WebSocketOpcode.binary
  }

  init(listener: ListenerRuntime, request head: HTTPRequestHead, channel: any Channel) {
    self.listener = listener
    self.request = RequestFields(head)
    let opcode = ReplyOpcode()
    self.replyOpcode = opcode
    flow = Flow(
      listener: listener, source: channel.remoteAddress?.displayText ?? "?",
      eventLoop: channel.eventLoop,
      reply: { buffer in
        channel.writeAndFlush(
          WebSocketFrame(fin: true, opcode: opcode.value, data: buffer), promise: nil)
      })
    let view = evaluator.view
    if let remote = channel.remoteAddress?.ipAndPort, let local = channel.localAddress?.ipAndPort {
      view.pointee.srcAddr = remote.0
      view.pointee.srcPort = remote.1
      view.pointee.dstAddr = local.0
      view.pointee.dstPort = local.1
      view.pointee.hasAddresses = true
    }
    view.pointee.httpMethod = request.method
    view.pointee.httpPath = request.path
    view.pointee.httpQuery = request.query
    view.pointee.httpHost = request.host
    view.pointee.headers = request.headers
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let frame = unwrapInboundIn(data)
    switch frame.opcode {
    case .binary, .text:
      replyOpcode.value = frame.opcode
      message(frame.unmaskedData)
    case .ping:
      context.writeAndFlush(
        wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)),
        promise: nil)
    case .connectionClose:
      var data = frame.unmaskedData
      let code = data.readWebSocketErrorCode() ?? .normalClosure
      var reply = context.channel.allocator.buffer(capacity: 2)
      reply.write(webSocketErrorCode: code)
      context.writeAndFlush(
        wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply))
      ).whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
    default:
      break
    }
  }

  private func message(_ buffer: ByteBuffer) {
    let counters = listener.counters
    counters.packets.increment()
    counters.bytes.increment(by: Int64(buffer.readableBytes))
    guard let snapshot = listener.rules else {
      counters.droppedUndeliverable.increment()
      return
    }
    let view = evaluator.view
    buffer.withUnsafeReadableBytes { payload in
      view.pointee.payload = payload
      let verdict = evaluator.evaluate(snapshot, counters: counters)
      flow.dispatch(buffer, snapshot: snapshot, verdict: verdict) {
        var m = SessionMetadata(view: view.pointee, transport: "WebSocket")
        m.apply(
          evaluator.rewrites, count: Int(verdict.rewriteCount), program: snapshot.program.program)
        return m
      }
    }
    view.pointee.payload = nil
  }

  func channelInactive(context: ChannelHandlerContext) {
    flow.closeAll()
    context.fireChannelInactive()
  }

  /// A malformed frame (bad masking, a too-large message, …): counted; the protocol error
  /// handler has answered with a close frame.
  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    listener.counters.droppedMalformed.increment()
    context.close(promise: nil)
  }
}
