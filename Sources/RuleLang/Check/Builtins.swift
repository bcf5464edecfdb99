/// The built-in functions and their signatures.
public struct Builtin: Sendable {
  public let name: String
  /// Accepted types for each parameter (any one of them).
  public let parameters: [[RuleType]]
  public let summary: String

  public static let all: [Builtin] = [
    Builtin(name: "len", parameters: [[.string, .bytes]], summary: "length in bytes"),
    Builtin(name: "lower", parameters: [[.string, .bytes]], summary: "ASCII lower case"),
    Builtin(name: "defined", parameters: [[]], summary: "whether a metadata field is present"),
    Builtin(name: "u8", parameters: [[.bytes], [.int]], summary: "the byte at an offset"),
    Builtin(
      name: "u16", parameters: [[.bytes], [.int]], summary: "big-endian 16-bit value at an offset"),
    Builtin(
      name: "u32", parameters: [[.bytes], [.int]], summary: "big-endian 32-bit value at an offset"),
  ]

  public static func named(_ name: String) -> Builtin? { all.first { $0.name == name } }

  public var signature: String {
    switch name {
    case "len": return "len(string|bytes) -> int"
    case "lower": return "lower(string) -> string, lower(bytes) -> bytes"
    case "defined": return "defined(FIELD) -> bool"
    default: return "\(name)(bytes, offset: int) -> int"
    }
  }
}
