import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The client side of a WebSocket cluster: connect, send the upgrade request (with the session's
/// `HTTP.headers.*` rewrites as headers), and hand over a channel of WebSocket frames once the
/// server agreed.
enum WebSocketUpstream {
  /// Largest message accepted from a WebSocket peer (after reassembling fragments).
  static let maxMessageSize = 1 << 20

  static func connect(
    link: UpstreamLink, to address: SocketAddress, host: String, path: String,
    headers: [(name: String, value: String)], timeout: TimeAmount, on eventLoop: any EventLoop
  ) -> EventLoopFuture<any Channel> {
    let upgraded = eventLoop.makePromise(of: Void.self)
    let connected = ClientBootstrap(group: eventLoop)
      .connectTimeout(timeout)
      .channelInitializer { channel in
        let upgrader = NIOWebSocketClientUpgrader(
          maxFrameSize: maxMessageSize,
          upgradePipelineHandler: { channel, _ in
            channel.eventLoop.makeCompletedFuture {
              let ops = channel.pipeline.syncOperations
              try ops.addHandler(
                NIOWebSocketFrameAggregator(
                  minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024,
                  maxAccumulatedFrameSize: maxMessageSize))
              try ops.addHandler(UpstreamWebSocketHandler(link: link))
              upgraded.succeed()
            }
          })
        let configuration: NIOHTTPClientUpgradeSendableConfiguration = (
          upgraders: [upgrader], completionHandler: { _ in }
        )
        return channel.pipeline.addHTTPClientHandlers(withClientUpgrade: configuration).flatMap {
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
              UpgradeFailureHandler(promise: upgraded))
          }
        }
      }
      .connect(to: address)
    return connected.flatMap { channel in
      var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
      head.headers.add(name: "Host", value: host)
      for h in headers { head.headers.add(name: h.name, value: h.value) }
      channel.write(HTTPClientRequestPart.head(head), promise: nil)
      channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
      let timer = eventLoop.scheduleTask(in: timeout) {
        upgraded.fail(UpstreamError("WebSocket upgrade timed out"))
      }
      return upgraded.futureResult.map { () -> any Channel in
        timer.cancel()
        return channel
      }.flatMapErrorThrowing { error in
        timer.cancel()
        channel.close(promise: nil)
        throw error
      }
    }
  }
}

/// Fails the upgrade when the server refuses it or the connection ends first; passes everything
/// else on.
final class UpgradeFailureHandler: ChannelInboundHandler {
  typealias InboundIn = NIOAny
  let promise: EventLoopPromise<Void>

  init(promise: EventLoopPromise<Void>) { self.promise = promise }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    context.fireChannelRead(data)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    promise.fail(error)
    context.close(promise: nil)
  }

  func channelInactive(context: ChannelHandlerContext) {
    promise.fail(UpstreamError("the WebSocket server closed the connection"))
    context.fireChannelInactive()
  }
}

/// WebSocket messages from an upstream; pings answered, a close ends the link.
final class UpstreamWebSocketHandler: ChannelInboundHandler {
  typealias InboundIn = WebSocketFrame
  typealias OutboundOut = WebSocketFrame
  let link: UpstreamLink

  init(link: UpstreamLink) { self.link = link }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let frame = unwrapInboundIn(data)
    switch frame.opcode {
    case .binary, .text:
      link.receivedOnChannel(frame.unmaskedData)
    case .ping:
      let pong = WebSocketFrame(
        fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
      context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
    case .connectionClose:
      context.close(promise: nil)
    default:
      break
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    link.disconnectedOnChannel("the WebSocket upstream closed the connection")
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }
}
