/// A compiled rule file: code, constants, and the tables that give matched rules their meaning.
/// Programs come from `RuleCompiler` or from the binary format (`ProgramCodec`); either way the VM
/// verifies them before running them.
public struct Program: Sendable, Hashable {
  public var code: [Instruction]
  public var constants: [Constant]
  public var rulelists: [RulelistInfo]
  public var rules: [RuleInfo]
  public var routes: [RouteInfo]
  /// The rule file it was compiled from, for listings and messages.
  public var sourceName: String

  public init(
    code: [Instruction], constants: [Constant], rulelists: [RulelistInfo], rules: [RuleInfo],
    routes: [RouteInfo], sourceName: String
  ) {
    self.code = code
    self.constants = constants
    self.rulelists = rulelists
    self.rules = rules
    self.routes = routes
    self.sourceName = sourceName
  }

  public func rulelist(named name: String) -> Int? { rulelists.firstIndex { $0.name == name } }
}

/// A constant-pool entry.
public enum Constant: Sendable, Hashable {
  case int(Int64)
  case bytes([UInt8])
  case ip(IPAddress)
  /// Sorted, disjoint, non-adjacent inclusive intervals of integers: sets and ranges.
  case intSet([ClosedRange<Int64>])
  /// Sorted, disjoint inclusive intervals of addresses (as 128-bit values): CIDRs, sets of them,
  /// ranges, and the addresses whose text starts with a given prefix.
  case ipSet([IPInterval])
  /// Sorted, distinct byte strings.
  case bytesSet([[UInt8]])
  case automaton(RegexAutomaton)
  /// A metadata path written by `set` or read by `ldhdr`/`ldlab`: `HTTP.headers.id`, `labels.ssrc`.
  case path(String)
  /// The candidate tables of an indexed rulelist (`dispatch`, `next`).
  case ruleIndex(RuleIndex)

  public var kindName: String {
    switch self {
    case .int: return "int"
    case .bytes: return "bytes"
    case .ip: return "ip"
    case .intSet: return "int set"
    case .ipSet: return "ip set"
    case .bytesSet: return "bytes set"
    case .automaton: return "automaton"
    case .path: return "path"
    case .ruleIndex: return "rule index"
    }
  }
}

/// An inclusive interval of addresses.
public struct IPInterval: Sendable, Hashable {
  public let lo: IPAddress
  public let hi: IPAddress
  public init(lo: IPAddress, hi: IPAddress) {
    self.lo = lo
    self.hi = hi
  }

  public init(_ cidr: CIDR) {
    let bits = (cidr.network.isV4 ? 96 : 0) + cidr.prefixLength
    let hostHi: UInt64 = bits >= 64 ? 0 : bits == 0 ? ~0 : ~0 >> UInt64(bits)
    let hostLo: UInt64 = bits >= 128 ? 0 : bits <= 64 ? ~0 : ~0 >> UInt64(bits - 64)
    self.lo = cidr.network
    self.hi = IPAddress(high: cidr.network.high | hostHi, low: cidr.network.low | hostLo)
  }
}

public struct RulelistInfo: Sendable, Hashable {
  public let name: String
  public let protocolName: String
  /// Where its code starts.
  public let entry: Int
}

public struct RuleInfo: Sendable, Hashable {
  public let name: String
  /// Index into `Program.rulelists`.
  public let rulelist: Int
  /// 1-based line of the rule in the source.
  public let line: Int
  public let action: RuleAction
}

public enum RuleAction: Sendable, Hashable {
  /// Index into `Program.routes`.
  case route(Int)
  case drop
  /// Continue in the rulelist with this index (the verdict names the rule that matched there).
  case apply(Int)
}

public enum RetryPolicy: String, Sendable, Hashable, CaseIterable {
  case never
  case connectFailure = "connect-failure"
  case disconnect
  case always
}

public struct RouteInfo: Sendable, Hashable {
  public let destination: String
  public let via: [String]
  public let returnVia: [String]
  public let retryOn: RetryPolicy
  public let retries: Int
  /// Nanoseconds.
  public let timeout: Int64
  public let removeOrphanSessions: Bool
  /// Nanoseconds.
  public let idleTimeout: Int64

  public static let defaultTimeout: Int64 = 2_000_000_000
  public static let defaultIdleTimeout: Int64 = 60_000_000_000

  public init(
    destination: String, via: [String], returnVia: [String], retryOn: RetryPolicy = .never,
    retries: Int = 0, timeout: Int64 = RouteInfo.defaultTimeout, removeOrphanSessions: Bool = false,
    idleTimeout: Int64 = RouteInfo.defaultIdleTimeout
  ) {
    self.destination = destination
    self.via = via
    self.returnVia = returnVia
    self.retryOn = retryOn
    self.retries = retries
    self.timeout = timeout
    self.removeOrphanSessions = removeOrphanSessions
    self.idleTimeout = idleTimeout
  }

  /// As rule source: `worker via transcoder with retry_on = "connect-failure", …`.
  public var description: String {
    var s = destination
    if !via.isEmpty { s += " via " + via.joined(separator: ", ") }
    if !returnVia.isEmpty { s += " return via " + returnVia.joined(separator: ", ") }
    var opts: [String] = []
    if retryOn != .never { opts.append("retry_on = \"\(retryOn.rawValue)\"") }
    if retries != 0 { opts.append("retries = \(retries)") }
    if timeout != RouteInfo.defaultTimeout {
      opts.append("timeout = \(Value.formatDuration(timeout))")
    }
    if removeOrphanSessions { opts.append("remove_orphan_sessions = true") }
    if idleTimeout != RouteInfo.defaultIdleTimeout {
      opts.append("idle_timeout = \(Value.formatDuration(idleTimeout))")
    }
    if !opts.isEmpty { s += " with " + opts.joined(separator: ", ") }
    return s
  }
}
