import Config
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A client of a proxy's control API (docs/api.md): list, get, add, replace and delete listeners,
/// clusters and rulelists. The CRD bridge's reconciler applies its
/// differences through it (`put`, never delete-then-add).
public struct ControlClient: Sendable {
  public let host: String
  public let port: Int
  let token: String?
  let exchange: HTTPExchange

  /// - Parameters:
  ///   - token: sent as `Authorization: Bearer TOKEN` when set.
  ///   - timeout: for each request, from connecting to the end of the answer.
  public init(
    host: String = "127.0.0.1", port: Int = AdminConfig.defaultPort, token: String? = nil,
    timeout: Duration = .seconds(10), maxAnswerBytes: Int = 64 << 20,
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
  ) {
    self.host = host
    self.port = port
    self.token = token
    self.exchange = HTTPExchange(
      host: host, port: port, group: group, timeout: timeout, maxAnswerBytes: maxAnswerBytes)
  }

  /// Every object of a kind: `list(ListenerConfig.self)`.
  public func list<Object: ControlObject>(_ type: Object.Type) async throws(ControlClientError)
    -> [Object]
  {
    let answer = try await send(.GET, Self.collection(type))
    return try Self.decodeObject([Object].self, answer, "GET \(Self.collection(type))")
  }

  /// The object of that name, or nil when there is none.
  public func get<Object: ControlObject>(_ type: Object.Type, named name: String)
    async throws(ControlClientError) -> Object?
  {
    let path = Self.item(type, name)
    let answer = try await send(.GET, path, expecting: [200, 404])
    if answer.status == 404 { return nil }
    return try Self.decodeObject(Object.self, answer, "GET \(path)")
  }

  /// Adds an object; fails with status 409 when the name is taken.
  @discardableResult
  public func add<Object: ControlObject>(_ object: Object) async throws(ControlClientError)
    -> WriteResult
  {
    try await write(.POST, Self.collection(Object.self), object)
  }

  /// Replaces the object of that name in place, or adds it (`result.status` 200 or 201).
  @discardableResult
  public func put<Object: ControlObject>(_ object: Object) async throws(ControlClientError)
    -> WriteResult
  {
    try await write(.PUT, Self.item(Object.self, object.name), object)
  }

  public func delete<Object: ControlObject>(_ type: Object.Type, named name: String)
    async throws(ControlClientError)
  {
    let answer = try await send(.DELETE, Self.item(type, name))
    _ = try Self.decodeResult(answer, "DELETE \(Self.item(type, name))")
  }

  /// What a write answered: 200 or 201, the message, and for rulelists the checker's warnings.
  public struct WriteResult: Sendable, Hashable, Decodable {
    public var status: Int
    public var message: String
    public var warnings: [RemoteDiagnostic]?
  }

  // MARK: -

  private func write<Object: ControlObject>(_ method: HTTPMethod, _ path: String, _ object: Object)
    async throws(ControlClientError) -> WriteResult
  {
    let body: Data
    do {
      body = try JSONEncoder().encode(WrappedObject(object))
    } catch {
      throw .badAnswer("cannot encode \(Object.kind) '\(object.name)': \(error)")
    }
    let answer = try await send(
      method, path, body: Array(body), headers: [("Content-Type", "application/json")])
    return try Self.decodeResult(answer, "\(method.rawValue) \(path)")
  }

  private func send(
    _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = [],
    expecting: Set<Int> = [200, 201]
  ) async throws(ControlClientError) -> HTTPExchange.Answer {
    var headers = headers
    headers.append(("Accept", "application/json"))
    if let token { headers.append(("Authorization", "Bearer \(token)")) }
    let answer = try await exchange.run(method: method, path: path, headers: headers, body: body)
    guard expecting.contains(answer.status) else {
      throw Self.refusal(answer, "\(method.rawValue) \(path)")
    }
    return answer
  }

  /// The API's error shape, `{"error": {"status", "message", "diagnostics"?}}`, as an error.
  static func refusal(_ answer: HTTPExchange.Answer, _ request: String) -> ControlClientError {
    struct Shape: Decodable {
      struct Inner: Decodable {
        var status: Int
        var message: String
        var diagnostics: [RemoteDiagnostic]?
      }
      var error: Inner
    }
    if let shape = try? JSONDecoder().decode(Shape.self, from: Data(answer.body)) {
      return .refused(
        status: answer.status, message: shape.error.message,
        diagnostics: shape.error.diagnostics ?? [])
    }
    let text = String(decoding: answer.body.prefix(200), as: UTF8.self)
    return .refused(status: answer.status, message: "\(request): \(text)", diagnostics: [])
  }

  static func decodeObject<T: Decodable>(
    _ type: T.Type, _ answer: HTTPExchange.Answer, _ request: String
  )
    throws(ControlClientError) -> T
  {
    do {
      return try ConfigDocument.decode(type, from: answer.body, name: "answer to \(request)")
    } catch {
      throw .badAnswer(error.description)
    }
  }

  static func decodeResult(_ answer: HTTPExchange.Answer, _ request: String)
    throws(ControlClientError) -> WriteResult
  {
    try decodeObject(WriteResult.self, answer, request)
  }

  static func collection<Object: ControlObject>(_ type: Object.Type) -> String {
    "/api/v1/\(Object.kind)s"
  }

  static func item<Object: ControlObject>(_ type: Object.Type, _ name: String) -> String {
    collection(type) + "/" + escape(name)
  }

  /// Percent-encodes everything but RFC 3986's unreserved characters, `/` included.
  static func escape(_ name: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return name.addingPercentEncoding(withAllowedCharacters: allowed) ?? name
  }
}

/// One diagnostic of the rule checker as the API answers it (`l7mp check --format json`).
public struct RemoteDiagnostic: Sendable, Hashable, Decodable {
  public var file: String
  public var line: Int
  public var column: Int
  public var severity: String
  public var message: String
}

/// A control API call that did not succeed.
public enum ControlClientError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The API answered an error status: its message, and the rule checker's diagnostics for
  /// rule source with errors.
  case refused(status: Int, message: String, diagnostics: [RemoteDiagnostic])
  /// No connection, or it broke.
  case transport(String)
  case timeout(String)
  /// An answer that is not what the API answers.
  case badAnswer(String)

  public var status: Int? {
    if case .refused(let status, _, _) = self { return status }
    return nil
  }

  public var description: String {
    switch self {
    case .refused(let status, let message, let diagnostics):
      let lines = diagnostics.map {
        "\n  \($0.file):\($0.line):\($0.column): \($0.severity): \($0.message)"
      }
      return "control API answered \(status): \(message)" + lines.joined()
    case .transport(let m), .timeout(let m), .badAnswer(let m):
      return m
    }
  }
}
