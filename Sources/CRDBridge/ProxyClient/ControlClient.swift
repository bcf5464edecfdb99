import AsyncHTTPClient
import Config
import Foundation
import NIOCore
import NIOHTTP1

/// A proxy's control API (`/api/v1/…`, docs/api.md) over HTTP: what the reconciler reads and
/// changes. One client per proxy; the HTTP connection pool is shared.
public struct ControlClient: ReconcileTarget {
  /// `http://127.0.0.1:1234`
  public let baseURL: String
  public let token: String?
  public let displayName: String
  let http: HTTPClient
  let timeout: TimeAmount

  /// Answers larger than this are refused (a proxy's full state is far smaller).
  static let maxAnswerBytes = 64 << 20

  public init(
    baseURL: String, token: String? = nil, displayName: String? = nil,
    http: HTTPClient = .shared, timeout: TimeAmount = .seconds(10)
  ) {
    self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
    self.token = token
    self.displayName = displayName ?? self.baseURL
    self.http = http
    self.timeout = timeout
  }

  public func currentConfig() async throws -> ProxyConfig {
    async let listeners = list([ListenerConfig].self, "listeners")
    async let clusters = list([ClusterConfig].self, "clusters")
    async let rulelists = list([RulelistConfig].self, "rulelists")
    return try await ProxyConfig(listeners: listeners, clusters: clusters, rulelists: rulelists)
  }

  public func apply(_ step: ReconcileStep) async throws {
    switch step {
    case .addRulelist(let r): try await send(.POST, "rulelists", body: ["rulelist": r])
    case .replaceRulelist(let r):
      try await send(.PUT, "rulelists/\(escape(r.name))", body: ["rulelist": r])
    case .deleteRulelist(let n): try await send(.DELETE, "rulelists/\(escape(n))")
    case .addCluster(let c): try await send(.POST, "clusters", body: ["cluster": c])
    case .replaceCluster(let c):
      try await send(.PUT, "clusters/\(escape(c.name))", body: ["cluster": c])
    case .deleteCluster(let n): try await send(.DELETE, "clusters/\(escape(n))")
    case .addListener(let l): try await send(.POST, "listeners", body: ["listener": l])
    case .replaceListener(let l):
      try await send(.PUT, "listeners/\(escape(l.name))", body: ["listener": l])
    case .deleteListener(let n): try await send(.DELETE, "listeners/\(escape(n))")
    }
  }

  func list<T: Decodable>(_ type: T.Type, _ path: String) async throws -> T {
    let body = try await send(.GET, path)
    do {
      return try JSONDecoder().decode(T.self, from: Data(body))
    } catch let e as DecodingError {
      throw ControlClientError(
        request: "GET /api/v1/\(path)", status: nil,
        message: "unexpected answer: \(ConfigError.describe(e))")
    }
  }

  @discardableResult
  func send(_ method: HTTPMethod, _ path: String, body: (any Encodable)? = nil) async throws
    -> [UInt8]
  {
    let what = "\(method.rawValue) /api/v1/\(path)"
    var request = HTTPClientRequest(url: "\(baseURL)/api/v1/\(path)")
    request.method = method
    if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
    if let body {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      request.headers.add(name: "Content-Type", value: "application/json")
      request.body = .bytes(ByteBuffer(bytes: try encoder.encode(body)))
    }
    let response: HTTPClientResponse
    do {
      response = try await http.execute(request, timeout: timeout)
    } catch {
      throw ControlClientError(request: what, status: nil, message: "\(error)")
    }
    let answer = try await response.body.collect(upTo: Self.maxAnswerBytes)
    let bytes = Array(answer.readableBytesView)
    guard (200..<300).contains(response.status.code) else {
      throw ControlClientError(
        request: what, status: Int(response.status.code), message: Self.errorMessage(in: bytes))
    }
    return bytes
  }

  /// The API's `{"error": {"message": …}}`, or the body as text.
  static func errorMessage(in body: [UInt8]) -> String {
    if let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
      let error = json["error"] as? [String: Any], let message = error["message"] as? String
    {
      return message
    }
    return String(decoding: body.prefix(500), as: UTF8.self)
  }

  func escape(_ name: String) -> String {
    name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? name
  }
}

/// A control-API call that failed: which, the HTTP status if one came back, and why.
public struct ControlClientError: Error, CustomStringConvertible, Sendable {
  public var request: String
  public var status: Int?
  public var message: String

  public var description: String {
    "\(request): " + (status.map { "HTTP \($0): " } ?? "") + message
  }
}
