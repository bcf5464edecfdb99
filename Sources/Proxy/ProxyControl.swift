import Config
import RuleLang

/// What the control API (`/api/v1/…`) asks of a running proxy. The data plane (`ProxyRuntime`)
/// implements it; the HTTP layer (`ControlAPI`) only translates requests and answers, so each is
/// tested on its own (the API against a fake, the runtime through its methods and real sockets).
///
/// Changes take effect for the next packet and never drop live sessions they do not affect:
/// `put…` replaces an object in place (a rulelist swap keeps the sessions whose verdict stays).
public protocol ProxyControl: Sendable {
  func listeners() async -> [ListenerConfig]
  /// Adds a listener, or fails with `.conflict` when the name is taken.
  func addListener(_ listener: ListenerConfig) async throws(ControlError)
  /// Replaces the listener of that name (or adds it): returns whether it existed.
  @discardableResult func putListener(_ listener: ListenerConfig) async throws(ControlError) -> Bool
  func deleteListener(named name: String) async throws(ControlError)

  func clusters() async -> [ClusterConfig]
  func addCluster(_ cluster: ClusterConfig) async throws(ControlError)
  @discardableResult func putCluster(_ cluster: ClusterConfig) async throws(ControlError) -> Bool
  func deleteCluster(named name: String) async throws(ControlError)

  func rulelists() async -> [RulelistConfig]
  /// Checks and compiles the source; on errors throws `.invalidRules` and changes nothing.
  /// Returns the warnings.
  func addRulelist(_ rulelist: RulelistConfig) async throws(ControlError) -> [Diagnostic]
  @discardableResult func putRulelist(_ rulelist: RulelistConfig) async throws(ControlError)
    -> [Diagnostic]
  func deleteRulelist(named name: String) async throws(ControlError)

  /// Every rule of every loaded rulelist, with its action and match counts.
  func rules() async -> [RuleStatus]
  /// Every route the loaded rules name.
  func routes() async -> [RouteStatus]

  func sessions() async -> [SessionInfo]
  /// Ends a live session and its upstream connections.
  func deleteSession(named name: String) async throws(ControlError)

  /// Prometheus text exposition of every counter.
  func metricsText() async -> String
  /// Ready when every configured listener is bound.
  func isReady() async -> Bool
}

/// A control request that cannot be carried out, with the HTTP status it maps to.
public enum ControlError: Error, Sendable {
  /// 404: no object of that kind has the name.
  case notFound(kind: String, name: String)
  /// 409: the name is taken, or the object is still in use (a cluster a route names…).
  case conflict(String)
  /// 400: the object is malformed or refers to what does not exist.
  case invalid(String)
  /// 400: the rule source has errors; nothing was changed.
  case invalidRules(source: SourceFile, diagnostics: [Diagnostic])
  /// 500: the proxy could not do it (a port already bound by another process…).
  case failed(String)

  public var status: Int {
    switch self {
    case .notFound: return 404
    case .conflict: return 409
    case .invalid, .invalidRules: return 400
    case .failed: return 500
    }
  }

  public var message: String {
    switch self {
    case .notFound(let kind, let name): return "no \(kind) named '\(name)'"
    case .conflict(let m), .invalid(let m), .failed(let m): return m
    case .invalidRules(let source, let diagnostics):
      let n = diagnostics.count { $0.severity == .error }
      return
        "\(source.name): \(n) error\(n == 1 ? "" : "s") in the rule source; nothing was changed"
    }
  }
}

public struct RuleStatus: Sendable, Hashable, Codable {
  public var name: String
  public var rulelist: String
  /// `route to worker via transcoder`, `drop` or `apply other`.
  public var action: String
  /// Packets this rule matched since it was loaded.
  public var matches: UInt64

  public init(name: String, rulelist: String, action: String, matches: UInt64) {
    self.name = name
    self.rulelist = rulelist
    self.action = action
    self.matches = matches
  }
}

public struct RouteStatus: Sendable, Hashable, Codable {
  /// The rule whose action it is (`rulelist/rule`).
  public var name: String
  public var destination: String
  public var ingress: [String]
  public var egress: [String]
  public var retryOn: String
  public var retries: Int
  public var timeoutMilliseconds: Int64

  public init(
    name: String, destination: String, ingress: [String], egress: [String], retryOn: String,
    retries: Int, timeoutMilliseconds: Int64
  ) {
    self.name = name
    self.destination = destination
    self.ingress = ingress
    self.egress = egress
    self.retryOn = retryOn
    self.retries = retries
    self.timeoutMilliseconds = timeoutMilliseconds
  }
}

/// A live session: one flow and one verdict, and the upstream connections it holds.
public struct SessionInfo: Sendable, Hashable, Codable {
  public var name: String
  public var listener: String
  /// The client: `127.0.0.4:9001`, or a socket path.
  public var source: String
  /// The rule that made it (`rulelist/rule`).
  public var rule: String
  /// The destination cluster and endpoint: `worker/127.0.0.3:9999`.
  public var destination: String
  /// `connecting`, `established`, `failed`.
  public var status: String
  /// Seconds since the Unix epoch.
  public var created: Double
  public var packetsIn: UInt64
  public var packetsOut: UInt64
  public var bytesIn: UInt64
  public var bytesOut: UInt64

  public init(
    name: String, listener: String, source: String, rule: String, destination: String,
    status: String, created: Double, packetsIn: UInt64, packetsOut: UInt64, bytesIn: UInt64,
    bytesOut: UInt64
  ) {
    self.name = name
    self.listener = listener
    self.source = source
    self.rule = rule
    self.destination = destination
    self.status = status
    self.created = created
    self.packetsIn = packetsIn
    self.packetsOut = packetsOut
    self.bytesIn = bytesIn
    self.bytesOut = bytesOut
  }
}
