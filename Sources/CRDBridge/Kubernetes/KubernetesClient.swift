import AsyncHTTPClient
import Config
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// An HTTP connection pool to one Kubernetes API server, with its credentials: the LIST and WATCH
/// requests `ResourceWatcher` makes. Call `shutdown()` when done.
public final class KubernetesClient: Sendable {
  public let config: KubernetesConfig
  let http: HTTPClient
  let logger: Logger
  /// The exec plugin's token, when the credentials are a plugin.
  let execCredentials: ExecCredentialCache?

  /// `readTimeout`: the longest silence on a connection before it is taken for dead; longer than a
  /// watch's server-side timeout, since a quiet watch only carries a bookmark now and then.
  /// `connectTimeout`: how long connecting (TCP and TLS, retried within that time) may take.
  public init(
    config: KubernetesConfig, readTimeout: Duration = .seconds(11 * 60),
    connectTimeout: Duration = .seconds(10),
    logger: Logger = Logger(label: "l7mp.bridge.kubernetes")
  ) throws(ConfigError) {
    self.config = config
    self.logger = logger
    if case .exec(let plugin) = config.credentials {
      execCredentials = ExecCredentialCache(plugin: plugin)
    } else {
      execCredentials = nil
    }
    let configuration = HTTPClient.Configuration(
      tlsConfiguration: try config.tlsConfiguration(),
      redirectConfiguration: .disallow,
      timeout: .init(connect: TimeAmount(connectTimeout), read: TimeAmount(readTimeout)),
      decompression: .disabled)
    http = HTTPClient(
      eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration,
      backgroundActivityLogger: logger)
  }

  public func shutdown() async throws {
    try await http.shutdown()
  }

  /// One page of a LIST.
  public struct ListPage: Sendable {
    public var items: [KubernetesObject]
    /// The collection's resourceVersion when the list was read: where a watch starts.
    public var resourceVersion: String
    /// Set when more pages follow (`metadata.continue`).
    public var continueToken: String?
  }

  /// GET the collection, `limit` objects from `continueToken` on.
  public func listPage(
    _ resource: KubernetesResource, limit: Int, continueToken: String?,
    maximumBytes: Int = 256 << 20
  ) async throws(KubernetesAPIError) -> ListPage {
    var query = [("limit", String(limit))]
    if let continueToken { query.append(("continue", continueToken)) }
    let bytes: [UInt8] = try await transport {
      let response = try await self.get(resource.path, query: query, deadline: .seconds(60))
      let body = try await response.body.collect(upTo: maximumBytes)
      try Self.check(response.status, body: Array(buffer: body))
      return Array(buffer: body)
    }
    let decoded: Any
    do {
      decoded = try JSONSerialization.jsonObject(with: Data(bytes))
    } catch {
      throw .malformed("a list response that is not JSON: \(WatchEventDecoder.preview(bytes))")
    }
    guard let list = decoded as? [String: Any], let metadata = list["metadata"] as? [String: Any]
    else { throw .malformed("a list response without metadata") }
    guard let rv = metadata["resourceVersion"] as? String, !rv.isEmpty else {
      throw .malformed("a list response without metadata.resourceVersion")
    }
    // A list of nothing may come with `"items": null`.
    let rawItems = list["items"] as? [Any] ?? []
    var items: [KubernetesObject] = []
    items.reserveCapacity(rawItems.count)
    for item in rawItems {
      items.append(
        try KubernetesObject(decoded: item, json: try WatchEventDecoder.reencode(item)))
    }
    let next = (metadata["continue"] as? String).flatMap { $0.isEmpty ? nil : $0 }
    return ListPage(items: items, resourceVersion: rv, continueToken: next)
  }

  /// Opens a WATCH from `resourceVersion` and hands each event to `onEvent` until the server ends
  /// the stream (returns normally) or the connection fails (throws `.transport`). An ERROR event is
  /// handed on like the others; the caller decides whether to stop.
  public func watch(
    _ resource: KubernetesResource, from resourceVersion: String, timeoutSeconds: Int,
    onEvent: (WatchEvent) async throws(KubernetesAPIError) -> Bool
  ) async throws(KubernetesAPIError) {
    let query = [
      ("watch", "1"), ("resourceVersion", resourceVersion), ("allowWatchBookmarks", "true"),
      ("timeoutSeconds", String(timeoutSeconds)),
    ]
    let response = try await transport {
      try await self.get(resource.path, query: query, deadline: .seconds(60))
    }
    if response.status.code / 100 != 2 {
      let body = try await transport { try await response.body.collect(upTo: 1 << 20) }
      try Self.check(response.status, body: Array(buffer: body))
    }
    var decoder = WatchEventDecoder()
    var iterator = response.body.makeAsyncIterator()
    while true {
      let chunk = try await transport { try await iterator.next() }
      guard let chunk else { break }
      for event in try decoder.decode(chunk.readableBytesView) {
        guard try await onEvent(event) else { return }
      }
    }
    if decoder.unfinishedBytes > 0 {
      throw .transport(
        "the watch stream ended inside an event (\(decoder.unfinishedBytes) bytes cut off)")
    }
  }

  func get(_ path: String, query: [(String, String)], deadline: TimeAmount) async throws
    -> HTTPClientResponse
  {
    var request = HTTPClientRequest(url: config.server + path + Self.encode(query))
    request.method = .GET
    request.headers.add(name: "Accept", value: "application/json")
    request.headers.add(name: "User-Agent", value: "l7mp-bridge")
    if let token = try await bearerToken() {
      request.headers.add(name: "Authorization", value: "Bearer \(token)")
    }
    let response = try await http.execute(request, timeout: deadline, logger: logger)
    // A refused plugin token is fetched again on the next try, even if it claims to be valid.
    if response.status == .unauthorized { execCredentials?.invalidate() }
    return response
  }

  func bearerToken() async throws(KubernetesAPIError) -> String? {
    if let execCredentials { return try await execCredentials.token() }
    switch config.credentials {
    case .bearerToken(let t): return t
    case .bearerTokenFile(let path):
      guard let data = FileManager.default.contents(atPath: path) else {
        throw .credentials("cannot read the token file \(path)")
      }
      let token = String(decoding: data, as: UTF8.self).trimmingCharacters(
        in: .whitespacesAndNewlines)
      if token.isEmpty { throw .credentials("the token file \(path) is empty") }
      return token
    case .none, .clientCertificate, .exec: return nil
    }
  }

  /// Runs `body`, turning what the HTTP client throws into `KubernetesAPIError.transport`; our own
  /// errors and cancellation pass through.
  func transport<T>(_ body: () async throws -> T) async throws(KubernetesAPIError) -> T {
    do {
      return try await body()
    } catch let e as KubernetesAPIError {
      throw e
    } catch {
      if Task.isCancelled { throw .transport("cancelled") }
      throw .transport(Self.describe(error))
    }
  }

  static func describe(_ error: any Error) -> String {
    if let e = error as? HTTPClientError {
      switch e {
      case .remoteConnectionClosed: return "the server closed the connection"
      case .readTimeout: return "no data from the server within the read timeout"
      case .connectTimeout: return "connect timeout"
      case .deadlineExceeded: return "no response within the deadline"
      default: return "\(e)"
      }
    }
    let text = "\(error)"
    if text.contains("CERTIFICATE_VERIFY_FAILED") {
      return
        "TLS: the server's certificate is not signed by the configured certificate authority, or does not name this host (\(text))"
    }
    return text
  }

  static func check(_ status: HTTPResponseStatus, body: [UInt8]) throws(KubernetesAPIError) {
    guard status.code / 100 != 2 else { return }
    let decoded = try? JSONSerialization.jsonObject(with: Data(body))
    throw .http(code: Int(status.code), status: decoded.flatMap { APIStatus(decoded: $0) })
  }

  /// `?a=b&c=d`, with values percent-encoded (continue tokens hold `=`, `+` and `/`).
  static func encode(_ query: [(String, String)]) -> String {
    guard !query.isEmpty else { return "" }
    let allowed = CharacterSet(
      charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    return "?"
      + query.map { k, v in
        "\(k)=\(v.addingPercentEncoding(withAllowedCharacters: allowed) ?? v)"
      }.joined(separator: "&")
  }
}
