import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP/1.1 request and its answer over a fresh connection (`Connection: close`): the control
/// API is called rarely (a reconcile, a person), so a connection pool would only add state.
struct HTTPExchange: Sendable {
  let host: String
  let port: Int
  let group: any EventLoopGroup
  let timeout: Duration
  /// Answers larger than this are refused (a control API answer is a list of objects).
  let maxAnswerBytes: Int

  struct Answer: Sendable {
    var status: Int
    var contentType: String?
    var body: [UInt8]
  }

  func run(method: HTTPMethod, path: String, headers: [(String, String)], body: [UInt8]?)
    async throws(ControlClientError) -> Answer
  {
    do {
      return try await withThrowingTaskGroup(of: Answer?.self) { group in
        group.addTask {
          try await exchange(method: method, path: path, headers: headers, body: body)
        }
        group.addTask {
          try await Task.sleep(for: timeout)
          return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let answer = first else {
          throw ControlClientError.timeout(
            "\(method.rawValue) http://\(host):\(port)\(path): no answer within \(timeout)")
        }
        return answer
      }
    } catch let error as ControlClientError {
      throw error
    } catch {
      throw .transport("\(method.rawValue) http://\(host):\(port)\(path): \(error)")
    }
  }

  private func exchange(
    method: HTTPMethod, path: String, headers: [(String, String)], body: [UInt8]?
  ) async throws -> Answer {
    let channel = try await ClientBootstrap(group: group)
      .connectTimeout(.init(timeout))
      .connect(host: host, port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHTTPClientHandlers()
          return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
            wrappingChannelSynchronously: channel)
        }
      }
    return try await channel.executeThenClose { inbound, outbound in
      var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
      head.headers.add(name: "Host", value: "\(host):\(port)")
      head.headers.add(name: "Connection", value: "close")
      head.headers.add(name: "Content-Length", value: "\(body?.count ?? 0)")
      for (name, value) in headers { head.headers.add(name: name, value: value) }
      try await outbound.write(.head(head))
      if let body, !body.isEmpty {
        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
      }
      try await outbound.write(.end(nil))

      var answer = Answer(status: 0, contentType: nil, body: [])
      for try await part in inbound {
        switch part {
        case .head(let head):
          answer.status = Int(head.status.code)
          answer.contentType = head.headers.first(name: "Content-Type")
        case .body(let buffer):
          guard answer.body.count + buffer.readableBytes <= maxAnswerBytes else {
            throw ControlClientError.badAnswer(
              "\(method.rawValue) \(path): the answer is larger than \(maxAnswerBytes) bytes")
          }
          answer.body += buffer.readableBytesView
        case .end:
          return answer
        }
      }
      throw ControlClientError.transport(
        "\(method.rawValue) http://\(host):\(port)\(path): the connection closed before the answer ended"
      )
    }
  }
}

extension TimeAmount {
  init(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
  }
}
