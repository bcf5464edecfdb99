import CLibYAML

/// How much a YAML input may ask of the reader. Every limit is checked as the input is read, so a
/// hostile document costs at most about this much time and memory.
public struct YAMLLimits: Sendable, Hashable {
  /// Input size in bytes.
  public var maxBytes: Int
  /// Nesting depth of lists and mappings.
  public var maxDepth: Int
  /// Nodes, counting every alias at the full size of what it refers to.
  public var maxNodes: Int
  /// Nodes added by aliases alone (the "billion laughs" pattern blows this up).
  public var maxAliasExpansion: Int

  public init(
    maxBytes: Int = 64 << 20, maxDepth: Int = 200, maxNodes: Int = 20_000_000,
    maxAliasExpansion: Int = 100_000
  ) {
    self.maxBytes = maxBytes
    self.maxDepth = maxDepth
    self.maxNodes = maxNodes
    self.maxAliasExpansion = maxAliasExpansion
  }
}

/// Reads YAML text into node trees with positions, from libyaml's event parser.
///
/// Multi-document streams give one node per document. Anchors and aliases are expanded within
/// `YAMLLimits`; duplicate keys in a mapping are an error; tags other than the core schema's
/// (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!seq`, `!!map`) are refused. Every error is
/// a `ConfigError` naming the input, line and column.
public enum YAMLReader {
  /// Every document of the stream (an empty input has none).
  public static func documents(
    _ bytes: [UInt8], name: String, limits: YAMLLimits = YAMLLimits()
  ) throws(ConfigError) -> [YAMLNode] {
    if bytes.count > limits.maxBytes {
      throw ConfigError(
        input: name, line: nil, column: nil,
        message:
          "the input is \(bytes.count) bytes; YAML documents are limited to \(limits.maxBytes) bytes"
      )
    }
    if bytes.isEmpty { return [] }
    let bytes = JSONSurrogates.joined(bytes)
    var builder = TreeBuilder(name: name, limits: limits)
    let result: Result<[YAMLNode], ConfigError> = bytes.withUnsafeBufferPointer { buffer in
      var parser = yaml_parser_t()
      guard yaml_parser_initialize(&parser) == 1 else {
        return .failure(
          ConfigError(
            input: name, line: nil, column: nil, message: "cannot start the YAML parser (memory)"))
      }
      defer { yaml_parser_delete(&parser) }
      yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
      var event = yaml_event_t()
      while true {
        guard yaml_parser_parse(&parser, &event) == 1 else {
          return .failure(syntaxError(parser, bytes: bytes, name: name))
        }
        defer { yaml_event_delete(&event) }
        if event.type == YAML_STREAM_END_EVENT { return .success(builder.documents) }
        do throws(ConfigError) {
          try builder.handle(event)
        } catch {
          return .failure(error)
        }
      }
    }
    return try result.get()
  }

  /// The one document of `bytes`; an error if there are several. An empty input is a null node.
  public static func document(
    _ bytes: [UInt8], name: String, limits: YAMLLimits = YAMLLimits()
  ) throws(ConfigError) -> YAMLNode {
    let docs = try documents(bytes, name: name, limits: limits)
    if docs.count > 1 {
      throw ConfigError(
        input: name, line: docs[1].mark.line, column: docs[1].mark.column,
        message: "expected one YAML document, found \(docs.count) (separated by '---')")
    }
    return docs.first
      ?? YAMLNode(.scalar(YAMLScalar(value: .null, text: "")), mark: YAMLMark(line: 1, column: 1))
  }

  static func syntaxError(_ parser: yaml_parser_t, bytes: [UInt8], name: String) -> ConfigError {
    let problem = parser.problem.map { String(cString: $0) } ?? "malformed YAML"
    var message = problem
    if let context = parser.context.map({ String(cString: $0) }) {
      message =
        "\(problem) \(context) (at \(parser.context_mark.line + 1):\(parser.context_mark.column + 1))"
    }
    if parser.error == YAML_READER_ERROR {
      // Reader errors (bad UTF-8, control characters) have a byte offset, not a line.
      let offset = min(Int(parser.problem_offset), bytes.count)
      let before = bytes[..<offset]
      let line = before.count { $0 == UInt8(ascii: "\n") } + 1
      let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
      return ConfigError(
        input: name, line: line, column: offset - lineStart + 1,
        message: "\(problem) (byte \(offset))")
    }
    return ConfigError(
      input: name, line: Int(parser.problem_mark.line) + 1,
      column: Int(parser.problem_mark.column) + 1, message: message)
  }
}

/// Turns the event stream into node trees, with an explicit stack (no recursion, so depth is only
/// what the limit allows).
private struct TreeBuilder {
  let name: String
  let limits: YAMLLimits
  var documents: [YAMLNode] = []
  var stack: [Frame] = []
  var anchors: [String: YAMLNode] = [:]
  var aliasExpansion = 0
  var nodeCount = 0

  struct Frame {
    var isMapping: Bool
    var mark: YAMLMark
    var anchor: String?
    var items: [YAMLNode] = []
    var pairs: [YAMLPair] = []
    var pendingKey: YAMLNode?
    /// Scalar keys seen so far, by their core-schema value, and where.
    var keys: [YAMLScalar.Value: YAMLMark] = [:]
  }

  init(name: String, limits: YAMLLimits) {
    self.name = name
    self.limits = limits
  }

  func error(_ message: String, at mark: YAMLMark) -> ConfigError {
    ConfigError(input: name, line: mark.line, column: mark.column, message: message)
  }

  mutating func handle(_ event: yaml_event_t) throws(ConfigError) {
    let mark = YAMLMark(
      line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
    switch event.type {
    case YAML_DOCUMENT_START_EVENT:
      anchors = [:]
    case YAML_SCALAR_EVENT:
      let s = event.data.scalar
      let text = String(
        decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
      let tag = s.tag.map { String(cString: $0) }
      let value = try scalarValue(
        text, tag: tag, plain: s.style == YAML_PLAIN_SCALAR_STYLE, at: mark)
      let node = YAMLNode(.scalar(YAMLScalar(value: value, text: text)), mark: mark)
      try count(1, at: mark)
      try complete(node, anchor: s.anchor.map { String(cString: $0) })
    case YAML_ALIAS_EVENT:
      let anchor = String(cString: event.data.alias.anchor)
      guard var node = anchors[anchor] else {
        throw error(
          "alias '*\(anchor)' refers to no anchor '&\(anchor)' defined before it (an alias cannot refer to a node that contains it)",
          at: mark)
      }
      aliasExpansion += node.weight
      if aliasExpansion > limits.maxAliasExpansion {
        throw error(
          "aliases expand to more than \(limits.maxAliasExpansion) nodes (refused: an alias bomb such as \"billion laughs\" looks like this)",
          at: mark)
      }
      node.mark = mark
      try count(node.weight, at: mark)
      try complete(node, anchor: nil)
    case YAML_SEQUENCE_START_EVENT:
      let s = event.data.sequence_start
      try checkCollectionTag(s.tag, expected: "tag:yaml.org,2002:seq", at: mark)
      try push(Frame(isMapping: false, mark: mark, anchor: s.anchor.map { String(cString: $0) }))
    case YAML_MAPPING_START_EVENT:
      let m = event.data.mapping_start
      try checkCollectionTag(m.tag, expected: "tag:yaml.org,2002:map", at: mark)
      try push(Frame(isMapping: true, mark: mark, anchor: m.anchor.map { String(cString: $0) }))
    case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
      let frame = stack.removeLast()
      let node =
        frame.isMapping
        ? YAMLNode(.mapping(frame.pairs), mark: frame.mark)
        : YAMLNode(.sequence(frame.items), mark: frame.mark)
      try complete(node, anchor: frame.anchor)
    default:
      break
    }
  }

  mutating func push(_ frame: Frame) throws(ConfigError) {
    try count(1, at: frame.mark)
    if stack.count >= limits.maxDepth {
      throw error("nesting is deeper than \(limits.maxDepth) levels", at: frame.mark)
    }
    stack.append(frame)
  }

  func checkCollectionTag(
    _ tag: UnsafeMutablePointer<yaml_char_t>?, expected: String, at mark: YAMLMark
  ) throws(ConfigError) {
    guard let tag else { return }
    let t = String(cString: tag)
    if t != expected && t != "!" {
      throw error("unsupported tag '\(t)' (only the core schema's tags are known)", at: mark)
    }
  }

  func scalarValue(_ text: String, tag: String?, plain: Bool, at mark: YAMLMark)
    throws(ConfigError) -> YAMLScalar.Value
  {
    guard let tag, tag != "!" else { return plain ? YAMLScalar.resolvePlain(text) : .string(text) }
    let resolved = YAMLScalar.resolvePlain(text)
    switch (tag, resolved) {
    case ("tag:yaml.org,2002:str", _): return .string(text)
    case ("tag:yaml.org,2002:null", .null), ("tag:yaml.org,2002:bool", .bool),
      ("tag:yaml.org,2002:int", .int), ("tag:yaml.org,2002:float", .float):
      return resolved
    case ("tag:yaml.org,2002:float", .int(let i)): return .float(Double(i))
    case ("tag:yaml.org,2002:null", _), ("tag:yaml.org,2002:bool", _),
      ("tag:yaml.org,2002:int", _), ("tag:yaml.org,2002:float", _):
      throw error("'\(text)' is not a valid \(tag.split(separator: ":").last ?? "")", at: mark)
    default:
      throw error("unsupported tag '\(tag)' (only the core schema's tags are known)", at: mark)
    }
  }

  mutating func count(_ nodes: Int, at mark: YAMLMark) throws(ConfigError) {
    nodeCount += nodes
    if nodeCount > limits.maxNodes {
      throw error("the input has more than \(limits.maxNodes) nodes", at: mark)
    }
  }

  mutating func complete(_ node: YAMLNode, anchor: String?) throws(ConfigError) {
    if let anchor { anchors[anchor] = node }
    guard !stack.isEmpty else {
      documents.append(node)
      return
    }
    let top = stack.count - 1
    if !stack[top].isMapping {
      stack[top].items.append(node)
    } else if let key = stack[top].pendingKey {
      stack[top].pairs.append(YAMLPair(key: key, value: node))
      stack[top].pendingKey = nil
    } else {
      if let s = node.scalar {
        if let first = stack[top].keys[s.value] {
          throw error(
            "duplicate key '\(s.text)' (first at line \(first.line), column \(first.column))",
            at: node.mark)
        }
        stack[top].keys[s.value] = node.mark
      }
      stack[top].pendingKey = node
    }
  }
}
