/// A compile-time value: what a literal, a `const`, or a folded constant expression denotes.
public indirect enum Value: Sendable, Hashable, CustomStringConvertible {
  case bool(Bool)
  case int(Int64)
  case string(String)
  case bytes([UInt8])
  case ip(IPAddress)
  case cidr(CIDR)
  /// Nanoseconds.
  case duration(Int64)
  case set([Value])
  case range(Value, Value)

  /// The value as rule source.
  public var description: String {
    switch self {
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .string(let s): return Value.quote(s)
    case .bytes(let b):
      return "x\"" + b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
        + "\""
    case .ip(let a): return a.description
    case .cidr(let c): return c.description
    case .duration(let ns): return Value.formatDuration(ns)
    case .set(let vs): return "{" + vs.map(\.description).joined(separator: ", ") + "}"
    case .range(let a, let b): return "\(a)..\(b)"
    }
  }

  /// A rule-language string literal for `s`.
  public static func quote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if u.value < 0x20 || u.value == 0x7F {
          out += "\\x" + (u.value < 16 ? "0" : "") + String(u.value, radix: 16)
        } else {
          out.unicodeScalars.append(u)
        }
      }
    }
    return out + "\""
  }

  static func formatDuration(_ ns: Int64) -> String {
    let units: [(Int64, String)] = [
      (3_600_000_000_000, "h"), (60_000_000_000, "m"), (1_000_000_000, "s"), (1_000_000, "ms"),
      (1_000, "us"), (1, "ns"),
    ]
    if ns == 0 { return "0s" }
    for (scale, unit) in units where ns % scale == 0 { return "\(ns / scale)\(unit)" }
    return "\(ns)ns"
  }
}
