/// Reads configuration objects from text: `l7mp run --config FILE`, control API bodies.
///
/// The text is YAML (libyaml; JSON is YAML too), read with `YAMLReader`'s limits and decoded with
/// `YAMLDecoder`, so every error names the input, line and column.
public enum ConfigDocument {
  /// Decodes `T` from `data`, a document named `name` in messages (a path, or "request body").
  public static func decode<T: Decodable>(_ type: T.Type, from data: [UInt8], name: String)
    throws(ConfigError) -> T
  {
    let node = try YAMLReader.document(data, name: name)
    return try decode(T.self, from: node, name: name)
  }

  /// Decodes `T` from a node already read (one document of a multi-document stream).
  public static func decode<T: Decodable>(_ type: T.Type, from node: YAMLNode, name: String)
    throws(ConfigError) -> T
  {
    do {
      return try YAMLDecoder().decode(T.self, from: node)
    } catch let e as DecodingError {
      throw ConfigError(decoding: e, in: node, input: name)
    } catch let e as ConfigError {
      throw e
    } catch {
      throw ConfigError(input: name, line: nil, column: nil, message: "\(error)")
    }
  }
}

extension ConfigError {
  /// A decoding error placed at the node its coding path leads to: the key for an unknown key, the
  /// value for anything else.
  public init(decoding error: DecodingError, in root: YAMLNode, input: String) {
    let path: [any CodingKey]
    switch error {
    case .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c),
      .dataCorrupted(let c):
      path = c.codingPath
    @unknown default:
      path = []
    }
    let (node, key) = yamlNode(at: path, in: root)
    var mark = node.mark
    if case .dataCorrupted(let c) = error, c.debugDescription.hasPrefix("unknown key"), let key {
      mark = key.mark
    }
    self.init(
      input: input, line: mark.line, column: mark.column, message: ConfigError.describe(error))
  }
}

/// A configuration document that could not be read, with where.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
  public var input: String
  /// 1-based; nil when the reader could not tell.
  public var line: Int?
  public var column: Int?
  public var message: String

  public init(input: String, line: Int?, column: Int?, message: String) {
    self.input = input
    self.line = line
    self.column = column
    self.message = message
  }

  /// `file:line:col: error: message`, as the rule checker prints.
  public var description: String {
    var s = input
    if let line { s += ":\(line)" }
    if let column { s += ":\(column)" }
    return s + ": error: " + message
  }

  /// A decoding error as a person reads it: the path of keys, then what was wrong.
  public static func describe(_ error: DecodingError) -> String {
    func path(_ p: [any CodingKey]) -> String {
      let s = p.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
      return s.isEmpty ? "the document" : String(s.drop { $0 == "." })
    }
    switch error {
    case .keyNotFound(let key, let c):
      let at = path(c.codingPath)
      let why =
        c.debugDescription.hasPrefix("No value associated") ? "" : " (\(c.debugDescription))"
      return "missing key '\(key.stringValue)' in \(at)\(why)"
    case .typeMismatch(let t, let c):
      let found = c.debugDescription.hasPrefix("found ") ? ", " + c.debugDescription : ""
      return "\(path(c.codingPath)): expected \(typeName(t))\(found)"
    case .valueNotFound(let t, let c):
      return "\(path(c.codingPath)): expected \(typeName(t)), found null"
    case .dataCorrupted(let c):
      return "\(path(c.codingPath)): \(c.debugDescription)"
    @unknown default:
      return "\(error)"
    }
  }

  static func typeName(_ t: Any.Type) -> String {
    switch t {
    case is String.Type: return "a string"
    case is Int.Type, is Int64.Type: return "an integer"
    case is Double.Type: return "a number"
    case is Bool.Type: return "true or false"
    default:
      let n = "\(t)"
      return n.hasPrefix("Array") ? "a list" : n.hasPrefix("Dictionary") ? "a mapping" : "a \(n)"
    }
  }
}
