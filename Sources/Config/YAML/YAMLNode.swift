/// Where a node starts in its input: 1-based line and column (columns count characters, as
/// libyaml does).
public struct YAMLMark: Sendable, Hashable, CustomStringConvertible {
  public var line: Int
  public var column: Int

  public init(line: Int, column: Int) {
    self.line = line
    self.column = column
  }

  public var description: String { "\(line):\(column)" }
}

/// One node of a YAML document, with where it starts. Aliases are expanded: an alias node is a copy
/// of its anchor's node (the reader bounds how much this can grow).
public struct YAMLNode: Sendable, Hashable {
  public enum Content: Sendable, Hashable {
    case scalar(YAMLScalar)
    case sequence([YAMLNode])
    case mapping([YAMLPair])
  }

  public var content: Content
  public var mark: YAMLMark
  /// How many nodes this one stands for, itself and everything under it (aliases counted at full
  /// size): what the expansion limit counts.
  public internal(set) var weight: Int

  public init(_ content: Content, mark: YAMLMark) {
    self.content = content
    self.mark = mark
    switch content {
    case .scalar: weight = 1
    case .sequence(let items): weight = 1 + items.reduce(0) { $0 + $1.weight }
    case .mapping(let pairs): weight = 1 + pairs.reduce(0) { $0 + $1.key.weight + $1.value.weight }
    }
  }

  public var scalar: YAMLScalar? {
    if case .scalar(let s) = content { return s }
    return nil
  }

  public var sequence: [YAMLNode]? {
    if case .sequence(let s) = content { return s }
    return nil
  }

  public var mapping: [YAMLPair]? {
    if case .mapping(let m) = content { return m }
    return nil
  }

  public var isNull: Bool { scalar?.value == .null }

  /// The value of the mapping key `key` (a scalar key with that text), if this is a mapping that
  /// has it.
  public subscript(key: String) -> YAMLNode? {
    mapping?.first { $0.key.scalar?.text == key }?.value
  }

  /// What kind of node this is, for messages ("expected a mapping, found a list").
  public var kindDescription: String {
    switch content {
    case .scalar(let s): return s.kindDescription
    case .sequence: return "a list"
    case .mapping: return "a mapping"
    }
  }
}

public struct YAMLPair: Sendable, Hashable {
  public var key: YAMLNode
  public var value: YAMLNode

  public init(key: YAMLNode, value: YAMLNode) {
    self.key = key
    self.value = value
  }
}

/// A scalar, typed by the YAML 1.2 core schema: plain scalars that look like null, a boolean, an
/// integer or a float are those; everything else, and every quoted or block scalar, is a string.
public struct YAMLScalar: Sendable, Hashable {
  public enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
  }

  public var value: Value
  /// The scalar as written (after YAML's unquoting and folding).
  public var text: String

  public init(value: Value, text: String) {
    self.value = value
    self.text = text
  }

  public var string: String? {
    if case .string(let s) = value { return s }
    return nil
  }

  public var kindDescription: String {
    switch value {
    case .null: return "null"
    case .bool(let b): return "the boolean \(b)"
    case .int(let i): return "the integer \(i)"
    case .float: return "the number \(text)"
    case .string(let s): return "the string '\(s.count > 60 ? String(s.prefix(60)) + "…" : s)'"
    }
  }

  /// The core schema's resolution of a plain scalar.
  public static func resolvePlain(_ text: String) -> Value {
    // Most scalars are names: one look at the first byte rules out every special form.
    guard let first = text.utf8.first else { return .null }
    switch first {
    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "~"), UInt8(ascii: "."),
      UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "t"),
      UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"):
      break
    default:
      return .string(text)
    }
    switch text {
    case "", "~", "null", "Null", "NULL": return .null
    case "true", "True", "TRUE": return .bool(true)
    case "false", "False", "FALSE": return .bool(false)
    case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
    case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
    case ".nan", ".NaN", ".NAN": return .float(.nan)
    default: break
    }
    if let i = parseInt(text) { return .int(i) }
    if isFloat(text), let d = Double(text) { return .float(d) }
    return .string(text)
  }

  /// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`; out-of-range integers stay strings (nil).
  static func parseInt(_ text: String) -> Int? {
    let u = Array(text.utf8)
    guard let first = u.first else { return nil }
    if u.count > 2, first == UInt8(ascii: "0") {
      if u[1] == UInt8(ascii: "x") {
        return Int(String(decoding: u[2...], as: UTF8.self), radix: 16)
      }
      if u[1] == UInt8(ascii: "o") {
        return Int(String(decoding: u[2...], as: UTF8.self), radix: 8)
      }
    }
    let digits = first == UInt8(ascii: "-") || first == UInt8(ascii: "+") ? u.dropFirst() : u[...]
    guard !digits.isEmpty, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
    return Int(text)
  }

  /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
  static func isFloat(_ text: String) -> Bool {
    var u = Array(text.utf8)[...]
    func digits() -> Int {
      var n = 0
      while let c = u.first, c >= 48, c <= 57 {
        u = u.dropFirst()
        n += 1
      }
      return n
    }
    if let c = u.first, c == UInt8(ascii: "-") || c == UInt8(ascii: "+") { u = u.dropFirst() }
    let whole = digits()
    var fraction = 0
    if u.first == UInt8(ascii: ".") {
      u = u.dropFirst()
      fraction = digits()
      if whole == 0 && fraction == 0 { return false }
    } else if whole == 0 {
      return false
    }
    if let c = u.first, c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
      u = u.dropFirst()
      if let s = u.first, s == UInt8(ascii: "-") || s == UInt8(ascii: "+") { u = u.dropFirst() }
      if digits() == 0 { return false }
    }
    return u.isEmpty
  }
}
