/// The types of the rule language.
public indirect enum RuleType: Sendable, Hashable, CustomStringConvertible {
  case bool
  /// 64-bit signed; overflow makes the comparison false.
  case int
  case string
  case bytes
  /// IPv4 or IPv6.
  case ip
  case cidr
  case duration
  /// `{a, b}`: a set of values of one type.
  case set(RuleType)
  /// `a..b`: an inclusive range of an ordered type.
  case range(RuleType)
  /// Metadata that may be absent (`HTTP.headers.x`): a comparison with an absent value is false.
  case optional(RuleType)
  /// `labels.…` and `JSONSocket.…`: typed at run time.
  case dynamic
  /// The type of an expression already reported as wrong; it silences follow-on errors.
  case error

  public var description: String {
    switch self {
    case .bool: return "bool"
    case .int: return "int"
    case .string: return "string"
    case .bytes: return "bytes"
    case .ip: return "ip"
    case .cidr: return "cidr"
    case .duration: return "duration"
    case .set(let t): return "set of \(t)"
    case .range(let t): return "range of \(t)"
    case .optional(let t): return "\(t)?"
    case .dynamic: return "dynamic"
    case .error: return "<error>"
    }
  }

  /// The type without `?`.
  public var unwrapped: RuleType {
    if case .optional(let t) = self { return t }
    return self
  }

  public var isOptional: Bool {
    if case .optional = self { return true }
    return false
  }

  public var isError: Bool { unwrapped == .error }

  /// The same optionality as `self`, around `t`.
  func withOptionality(of other: RuleType) -> RuleType {
    other.isOptional && !isOptional ? .optional(self) : self
  }
}
