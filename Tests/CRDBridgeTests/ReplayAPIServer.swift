import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A value behind a lock that closures can share (a `Mutex` itself cannot be captured).
final class LockedValue<Value: Sendable>: Sendable {
  private let mutex: Mutex<Value>
  init(_ value: Value) { mutex = Mutex(value) }
  func withLock<R: Sendable>(_ body: (inout sending Value) -> sending R) -> R {
    mutex.withLock(body)
  }
}

/// A stand-in for the Kubernetes API server on 127.0.0.1: it records every request and answers each
/// with the next scripted response — recorded list bodies, watch streams sent chunk by chunk, Status
/// errors, connections cut mid-stream. When the script runs out it holds the request open, as an
/// idle watch does.
final class ReplayAPIServer: Sendable {
  struct Request: Sendable, Hashable {
    var method: String
    var path: String
    var query: [String: String]
    var authorization: String?
  }

  enum Response: Sendable {
    /// A complete response with Content-Length.
    case full(status: Int, body: [UInt8])
    /// A chunked 200 response, one HTTP chunk per element, then `ending`.
    case stream(chunks: [[UInt8]], ending: StreamEnding)
    /// A watch resumed from the request's `resourceVersion` query: the chunks listed for it (as
    /// the API server replays every event after that version), then `ending`.
    case resumed(chunksAfter: [String: [[UInt8]]], ending: StreamEnding)
  }

  enum StreamEnding: Sendable {
    /// The terminating chunk: the server ended the watch cleanly.
    case end
    /// The connection is closed without the terminating chunk.
    case drop
    /// Nothing more is sent until the client goes away.
    case hold
  }

  let channel: any Channel
  let script: LockedValue<[Response]>
  let recorded = LockedValue<[Request]>([])
  let disconnected = LockedValue(0)

  var port: Int { channel.localAddress!.port! }
  var url: String { "\(scheme)://127.0.0.1:\(port)" }
  let scheme: String
  var requests: [Request] { recorded.withLock { $0 } }

  /// `tls`: serve https with this configuration (the test CA's server certificate, and whether a
  /// client certificate is required).
  init(script: [Response], tls: TLSConfiguration? = nil) async throws {
    let sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
    let script = LockedValue(script)
    self.script = script
    scheme = tls == nil ? "http" : "https"
    let recorded = self.recorded
    let disconnected = self.disconnected
    channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        if let sslContext {
          do {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
          } catch {
            return channel.eventLoop.makeFailedFuture(error)
          }
        }
        return channel.pipeline.configureHTTPServerPipeline().flatMap {
          channel.pipeline.addHandler(
            ReplayHandler(
              next: {
                script.withLock { $0.isEmpty ? nil : $0.removeFirst() }
              },
              record: { r in recorded.withLock { $0.append(r) } },
              closed: { disconnected.withLock { $0 += 1 } }))
        }
      }
      .bind(host: "127.0.0.1", port: 0).get()
  }

  func close() async throws {
    try await channel.close()
  }

  /// Connections the client has closed (or that were dropped), waiting until there are at least
  /// `count` (bounded by `timeout`).
  func disconnects(atLeast count: Int, timeout: Duration = .seconds(60)) async -> Int {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      let n = disconnected.withLock { $0 }
      if n >= count { return n }
      try? await Task.sleep(for: .milliseconds(10))
    }
    return disconnected.withLock { $0 }
  }

  /// Requests seen so far, waiting until there are at least `count` (bounded by `timeout`).
  func requests(atLeast count: Int, timeout: Duration = .seconds(60)) async -> [Request] {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      let r = requests
      if r.count >= count { return r }
      try? await Task.sleep(for: .milliseconds(10))
    }
    return requests
  }
}

private final class ReplayHandler: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  let next: @Sendable () -> ReplayAPIServer.Response?
  let record: @Sendable (ReplayAPIServer.Request) -> Void
  let closed: @Sendable () -> Void

  init(
    next: @escaping @Sendable () -> ReplayAPIServer.Response?,
    record: @escaping @Sendable (ReplayAPIServer.Request) -> Void,
    closed: @escaping @Sendable () -> Void
  ) {
    self.next = next
    self.record = record
    self.closed = closed
  }

  func channelInactive(context: ChannelHandlerContext) {
    closed()
    context.fireChannelInactive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .head(let head) = unwrapInboundIn(data) else { return }
    let components = URLComponents(string: head.uri)
    var query: [String: String] = [:]
    for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
    record(
      .init(
        method: "\(head.method)", path: components?.path ?? head.uri, query: query,
        authorization: head.headers.first(name: "Authorization")))
    var response = next() ?? .stream(chunks: [], ending: .hold)
    if case .resumed(let after, let ending) = response {
      response = .stream(chunks: after[query["resourceVersion"] ?? ""] ?? [], ending: ending)
    }
    switch response {
    case .full(let status, let body):
      var headers = HTTPHeaders()
      headers.add(name: "Content-Type", value: "application/json")
      headers.add(name: "Content-Length", value: String(body.count))
      context.write(
        wrapOutboundOut(
          .head(.init(version: head.version, status: .init(statusCode: status), headers: headers))),
        promise: nil)
      context.write(
        wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))),
        promise: nil)
      context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    case .stream(let chunks, let ending):
      var headers = HTTPHeaders()
      headers.add(name: "Content-Type", value: "application/json")
      headers.add(name: "Transfer-Encoding", value: "chunked")
      context.writeAndFlush(
        wrapOutboundOut(.head(.init(version: head.version, status: .ok, headers: headers))),
        promise: nil)
      let written = context.eventLoop.makePromise(of: Void.self)
      for chunk in chunks {
        context.writeAndFlush(
          wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: chunk)))),
          promise: nil)
      }
      context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer()))), promise: written)
      switch ending {
      case .end: context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
      case .drop:
        // Closed once what was written is on the wire, so the client sees the partial stream.
        let channel = context.channel
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
      case .hold: break
      }
    case .resumed: break
    }
  }
}
