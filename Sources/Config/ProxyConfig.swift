/// The proxy's configuration objects, in l7mp's shapes: what `l7mp run --config FILE.yaml` reads,
/// what the control API (`/api/v1/listeners|clusters|rulelists`) takes and returns (each body
/// wrapped as `{"listener": {…}}`), and what the CRD bridge produces for every proxy.
///
/// Every option has a documented default (docs/config.md); unknown keys are errors, not ignored.
public struct ProxyConfig: Codable, Sendable, Hashable {
  public var admin: AdminConfig
  public var listeners: [ListenerConfig]
  public var clusters: [ClusterConfig]
  public var rulelists: [RulelistConfig]

  public init(
    admin: AdminConfig = AdminConfig(), listeners: [ListenerConfig] = [],
    clusters: [ClusterConfig] = [], rulelists: [RulelistConfig] = []
  ) {
    self.admin = admin
    self.listeners = listeners
    self.clusters = clusters
    self.rulelists = rulelists
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case admin, listeners, clusters, rulelists
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    admin = try c.decodeIfPresent(AdminConfig.self, forKey: .admin) ?? AdminConfig()
    listeners = try c.decodeIfPresent([ListenerConfig].self, forKey: .listeners) ?? []
    clusters = try c.decodeIfPresent([ClusterConfig].self, forKey: .clusters) ?? []
    rulelists = try c.decodeIfPresent([RulelistConfig].self, forKey: .rulelists) ?? []
  }
}

/// `admin:` — the control API and logging.
public struct AdminConfig: Codable, Sendable, Hashable {
  /// Control API address; loopback unless told otherwise (`--api-bind`).
  public var address: String
  /// Control API port (l7mp's default, 1234).
  public var port: Int
  /// `trace`, `debug`, `info`, `notice`, `warning`, `error`, `critical` (swift-log's levels);
  /// l7mp's names are read too and stored as these (`AdminConfig.logLevels`).
  public var logLevel: String

  /// Every accepted `log_level` and the swift-log level it means: swift-log's own names, and
  /// the names l7mp (npmlog) used, so its configurations keep working.
  public static let logLevels: [String: String] = [
    "trace": "trace", "debug": "debug", "info": "info", "notice": "notice",
    "warning": "warning", "error": "error", "critical": "critical",
    "silly": "trace", "verbose": "debug", "http": "info", "warn": "warning", "silent": "critical",
  ]

  public static let defaultPort = 1234

  public init(
    address: String = "127.0.0.1", port: Int = AdminConfig.defaultPort, logLevel: String = "info"
  ) {
    self.address = address
    self.port = port
    self.logLevel = logLevel
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case address, port
    case logLevel = "log_level"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    address = try c.decodeIfPresent(String.self, forKey: .address) ?? "127.0.0.1"
    port = try c.decodeIfPresent(Int.self, forKey: .port) ?? AdminConfig.defaultPort
    let level = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? "info"
    guard let canonical = Self.logLevels[level.lowercased()] else {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: c.codingPath + [CodingKeys.logLevel],
          debugDescription:
            "unknown log level '\(level)'; expected one of: trace, debug, info, notice, warning, error, critical (or l7mp's silly, verbose, http, warn, silent)"
        ))
    }
    logLevel = canonical
  }
}

/// The four transports of listeners and clusters, spelled as in l7mp and the rule language.
public enum TransportProtocol: String, Codable, Sendable, Hashable, CaseIterable {
  case udp = "UDP"
  case tcp = "TCP"
  case webSocket = "WebSocket"
  case unixDomainSocket = "UnixDomainSocket"

  /// Datagram-like transports run the rules on every message; byte streams once per connection.
  public var isMessageBased: Bool { self == .udp || self == .webSocket }
}

/// Cluster protocols: the transports plus the virtual `Echo` (replies with what it gets) and
/// `Discard` (swallows everything).
public enum ClusterProtocol: String, Codable, Sendable, Hashable, CaseIterable {
  case udp = "UDP"
  case tcp = "TCP"
  case webSocket = "WebSocket"
  case unixDomainSocket = "UnixDomainSocket"
  case echo = "Echo"
  case discard = "Discard"

  public var transport: TransportProtocol? { TransportProtocol(rawValue: rawValue) }
}

/// `{name, spec: {protocol, address, port | filename}, rules: RULELIST}`
public struct ListenerConfig: Codable, Sendable, Hashable {
  public var name: String
  public var spec: ListenerSpec
  /// The rulelist (by name, from any loaded rule source) run on this listener's traffic. Its
  /// protocol must be the listener's.
  public var rules: String

  public init(name: String, spec: ListenerSpec, rules: String) {
    self.name = name
    self.spec = spec
    self.rules = rules
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case name, spec, rules
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    name = try c.decode(String.self, forKey: .name)
    spec = try c.decode(ListenerSpec.self, forKey: .spec)
    rules = try c.decode(String.self, forKey: .rules)
  }
}

public struct ListenerSpec: Codable, Sendable, Hashable {
  public var `protocol`: TransportProtocol
  /// Bind address for UDP, TCP and WebSocket; default all interfaces, as in l7mp.
  public var address: String
  /// Required for UDP, TCP and WebSocket.
  public var port: Int?
  /// Socket path for UnixDomainSocket.
  public var filename: String?
  /// Idle timeout of UDP flows in seconds (default 60).
  public var idleTimeout: Double

  public static let defaultIdleTimeout = 60.0

  public init(
    protocol: TransportProtocol, address: String = "0.0.0.0", port: Int? = nil,
    filename: String? = nil, idleTimeout: Double = ListenerSpec.defaultIdleTimeout
  ) {
    self.protocol = `protocol`
    self.address = address
    self.port = port
    self.filename = filename
    self.idleTimeout = idleTimeout
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case `protocol`, address, port, filename
    case idleTimeout = "idle_timeout"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    self.protocol = try c.decode(TransportProtocol.self, forKey: .protocol)
    address = try c.decodeIfPresent(String.self, forKey: .address) ?? "0.0.0.0"
    port = try c.decodeIfPresent(Int.self, forKey: .port)
    filename = try c.decodeIfPresent(String.self, forKey: .filename)
    idleTimeout =
      try c.decodeIfPresent(Double.self, forKey: .idleTimeout) ?? ListenerSpec.defaultIdleTimeout
    switch self.protocol {
    case .unixDomainSocket:
      if filename == nil {
        throw DecodingError.keyNotFound(
          CodingKeys.filename,
          .init(
            codingPath: c.codingPath,
            debugDescription: "a UnixDomainSocket listener needs 'filename'"))
      }
    default:
      guard let p = port else {
        throw DecodingError.keyNotFound(
          CodingKeys.port,
          .init(
            codingPath: c.codingPath,
            debugDescription: "a \(self.protocol.rawValue) listener needs 'port'"))
      }
      try c.checkPort(p, forKey: .port)
    }
  }
}

/// `{name, spec: {protocol, port, filename}, endpoints: […], loadbalancer: {policy, key}}`
public struct ClusterConfig: Codable, Sendable, Hashable {
  public var name: String
  public var spec: ClusterSpec
  public var endpoints: [EndpointConfig]
  public var loadbalancer: LoadBalancerConfig

  public init(
    name: String, spec: ClusterSpec, endpoints: [EndpointConfig] = [],
    loadbalancer: LoadBalancerConfig = LoadBalancerConfig()
  ) {
    self.name = name
    self.spec = spec
    self.endpoints = endpoints
    self.loadbalancer = loadbalancer
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case name, spec, endpoints, loadbalancer
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    name = try c.decode(String.self, forKey: .name)
    spec = try c.decode(ClusterSpec.self, forKey: .spec)
    endpoints = try c.decodeIfPresent([EndpointConfig].self, forKey: .endpoints) ?? []
    loadbalancer =
      try c.decodeIfPresent(LoadBalancerConfig.self, forKey: .loadbalancer) ?? LoadBalancerConfig()
  }
}

public struct ClusterSpec: Codable, Sendable, Hashable {
  public var `protocol`: ClusterProtocol
  /// Default port of the endpoints (an endpoint may name its own).
  public var port: Int?
  /// Default socket path of UnixDomainSocket endpoints.
  public var filename: String?
  /// WebSocket clusters: the path of the upgrade request (default `/`).
  public var path: String?

  public init(
    protocol: ClusterProtocol, port: Int? = nil, filename: String? = nil, path: String? = nil
  ) {
    self.protocol = `protocol`
    self.port = port
    self.filename = filename
    self.path = path
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case `protocol`, port, filename, path
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    self.protocol = try c.decode(ClusterProtocol.self, forKey: .protocol)
    port = try c.decodeIfPresent(Int.self, forKey: .port)
    filename = try c.decodeIfPresent(String.self, forKey: .filename)
    path = try c.decodeIfPresent(String.self, forKey: .path)
    if let p = port { try c.checkPort(p, forKey: .port) }
  }
}

/// `{name, spec: {address, port, filename}}`: one upstream.
public struct EndpointConfig: Codable, Sendable, Hashable {
  /// Default: the address (or file name) itself.
  public var name: String
  public var spec: EndpointSpec

  public init(name: String? = nil, spec: EndpointSpec) {
    self.name =
      name ?? spec.filename ?? spec.address.map { a in spec.port.map { "\(a):\($0)" } ?? a }
      ?? "endpoint"
    self.spec = spec
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case name, spec
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    let spec = try c.decode(EndpointSpec.self, forKey: .spec)
    self.init(name: try c.decodeIfPresent(String.self, forKey: .name), spec: spec)
  }
}

public struct EndpointSpec: Codable, Sendable, Hashable {
  public var address: String?
  /// Overrides the cluster's port.
  public var port: Int?
  /// UnixDomainSocket endpoints: overrides the cluster's filename.
  public var filename: String?

  public init(address: String? = nil, port: Int? = nil, filename: String? = nil) {
    self.address = address
    self.port = port
    self.filename = filename
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case address, port, filename
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    address = try c.decodeIfPresent(String.self, forKey: .address)
    port = try c.decodeIfPresent(Int.self, forKey: .port)
    filename = try c.decodeIfPresent(String.self, forKey: .filename)
    if let p = port { try c.checkPort(p, forKey: .port) }
  }
}

/// `loadbalancer: {policy: Trivial | RoundRobin | ConsistentHash, key: "IP/src_addr"}`
public struct LoadBalancerConfig: Codable, Sendable, Hashable {
  public enum Policy: String, Codable, Sendable, Hashable, CaseIterable {
    /// Always the first endpoint.
    case trivial = "Trivial"
    case roundRobin = "RoundRobin"
    /// The endpoint picked by a hash of the metadata at `key`: the same key, the same endpoint.
    case consistentHash = "ConsistentHash"
  }

  public var policy: Policy
  /// Metadata path for ConsistentHash, l7mp's slash form (`IP/src_addr`) or the rule language's
  /// dotted form (`IP.src_addr`).
  public var key: String?

  public init(policy: Policy = .trivial, key: String? = nil) {
    self.policy = policy
    self.key = key
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case policy, key
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    policy = try c.decodeIfPresent(Policy.self, forKey: .policy) ?? .trivial
    key = try c.decodeIfPresent(String.self, forKey: .key)
    if policy == .consistentHash && key == nil {
      throw DecodingError.keyNotFound(
        CodingKeys.key,
        .init(
          codingPath: c.codingPath,
          debugDescription: "ConsistentHash needs a 'key' (a metadata path such as IP/src_addr)"))
    }
  }
}

/// `{name, source | file}`: rule-language source, which may define several rulelists (and the
/// consts they share). Listeners name a rulelist defined in any loaded source.
public struct RulelistConfig: Codable, Sendable, Hashable {
  public var name: String
  /// The `.rules` text itself.
  public var source: String?
  /// Or a path to a `.rules` file, relative to the configuration file.
  public var file: String?

  public init(name: String, source: String? = nil, file: String? = nil) {
    self.name = name
    self.source = source
    self.file = file
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case name, source, file
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    name = try c.decode(String.self, forKey: .name)
    source = try c.decodeIfPresent(String.self, forKey: .source)
    file = try c.decodeIfPresent(String.self, forKey: .file)
    if (source == nil) == (file == nil) {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: c.codingPath,
          debugDescription:
            "a rulelist needs exactly one of 'source' (rule text) or 'file' (a .rules path)"))
    }
  }
}

/// A key the configuration does not know.
struct UnknownKey: CodingKey {
  var stringValue: String
  var intValue: Int? { nil }
  init(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
}

extension KeyedDecodingContainer where Key: CaseIterable {
  /// Unknown keys are errors (a misspelt option silently ignored is the worst kind of default).
  func rejectUnknownKeys(_ decoder: any Decoder) throws {
    let known = Key.allCases
    let all = try decoder.container(keyedBy: UnknownKey.self)
    let names = Set(known.map(\.stringValue))
    for key in all.allKeys where !names.contains(key.stringValue) {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: codingPath + [key],
          debugDescription:
            "unknown key '\(key.stringValue)'; expected one of: \(known.map(\.stringValue).joined(separator: ", "))"
        ))
    }
  }
}

extension KeyedDecodingContainer {
  func checkPort(_ port: Int, forKey key: Key) throws {
    guard (1...65535).contains(port) else {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: codingPath + [key], debugDescription: "port \(port) is out of range 1–65535"))
    }
  }
}
