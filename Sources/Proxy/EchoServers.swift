import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The test servers of `l7mp echo`: each sends back what it receives. The WebSocket one also
/// answers the message `headers?` with the upgrade request's headers (one `name: value` a line),
/// so that a test can see what a WebSocket cluster sent.
public enum EchoServer {
  public enum Kind: Sendable {
    case udp(host: String, port: Int)
    case tcp(host: String, port: Int)
    case uds(path: String)
    case webSocket(host: String, port: Int)
  }

  /// The message a WebSocket client sends to get the upgrade headers back.
  public static let headersQuery = "headers?"

  static let logger = Logger(label: "l7mp.echo")

  /// Binds and returns the channel (its `localAddress` has the port the OS chose for port 0).
  public static func start(_ kind: Kind, group: any EventLoopGroup) async throws -> any Channel {
    switch kind {
    case .udp(let host, let port):
      return try await DatagramBootstrap(group: group)
        .channelOption(.socketOption(.so_reuseaddr), value: 1)
        .channelOption(
          .recvAllocator,
          value: FixedSizeRecvByteBufferAllocator(capacity: UDPListener.receiveBufferSize)
        )
        .channelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(DatagramEchoHandler())
          }
        }
        .bind(host: host, port: port).get()
    case .tcp(let host, let port):
      return try await streamBootstrap(group).bind(host: host, port: port).get()
    case .uds(let path):
      return try await streamBootstrap(group)
        .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
    case .webSocket(let host, let port):
      return try await WebSocketServer.bootstrap(group: group, counters: nil) { _, head in
        WebSocketEchoHandler(request: head)
      }
      .bind(host: host, port: port).get()
    }
  }

  static func streamBootstrap(_ group: any EventLoopGroup) -> ServerBootstrap {
    ServerBootstrap(group: group)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(StreamEchoHandler())
        }
      }
  }
}

final class DatagramEchoHandler: ChannelInboundHandler {
  typealias InboundIn = AddressedEnvelope<ByteBuffer>
  typealias OutboundOut = AddressedEnvelope<ByteBuffer>

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let envelope = unwrapInboundIn(data)
    EchoServer.logger.debug(
      "udp datagram",
      metadata: [
        "from": "\(envelope.remoteAddress.displayText)", "bytes": "\(envelope.data.readableBytes)",
      ])
    context.writeAndFlush(
      wrapOutboundOut(
        AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: envelope.data)),
      promise: nil)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    EchoServer.logger.debug("udp error", metadata: ["error": "\(error)"])
  }
}

final class StreamEchoHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let buffer = unwrapInboundIn(data)
    EchoServer.logger.debug("stream data", metadata: ["bytes": "\(buffer.readableBytes)"])
    context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }
}

final class WebSocketEchoHandler: ChannelInboundHandler {
  typealias InboundIn = WebSocketFrame
  typealias OutboundOut = WebSocketFrame
  let request: HTTPRequestHead

  init(request: HTTPRequestHead) {
    self.request = request
    let headers = request.headers.map { "\($0.name): \($0.value)" }.joined(separator: "; ")
    EchoServer.logger.info(
      "websocket upgrade", metadata: ["uri": "\(request.uri)", "headers": "\(headers)"])
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let frame = unwrapInboundIn(data)
    switch frame.opcode {
    case .text, .binary:
      let payload = frame.unmaskedData
      EchoServer.logger.debug("websocket message", metadata: ["bytes": "\(payload.readableBytes)"])
      var reply = payload
      if payload.getString(at: payload.readerIndex, length: payload.readableBytes)
        == EchoServer.headersQuery
      {
        let text = request.headers.map { "\($0.name): \($0.value)\n" }.joined()
        reply = ByteBuffer(string: text)
      }
      context.writeAndFlush(
        wrapOutboundOut(WebSocketFrame(fin: true, opcode: frame.opcode, data: reply)), promise: nil)
    case .ping:
      context.writeAndFlush(
        wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)),
        promise: nil)
    case .connectionClose:
      context.writeAndFlush(
        wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: ByteBuffer()))
      ).whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
    default:
      break
    }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }
}
