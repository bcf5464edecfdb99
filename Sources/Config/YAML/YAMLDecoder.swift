/// Decodes `Decodable` values from a YAML node tree.
///
/// Scalars are typed by the core schema: a field of type `Int` takes `9001` but not `"9001"` (quoted
/// scalars are strings), a `String` field takes `abc` or `"9001"` but not `9001`, a `Double` takes
/// integers too. Errors are `DecodingError`s whose coding path leads to the failing node;
/// `ConfigDocument` turns that path back into a line and column.
public struct YAMLDecoder: Sendable {
  public init() {}

  public func decode<T: Decodable>(_ type: T.Type, from node: YAMLNode) throws -> T {
    try NodeDecoder(node: node, codingPath: []).decodeValue(T.self)
  }
}

/// Where a coding path leads in a node tree: the deepest node it reaches, and the key node of the
/// last mapping step (messages about a key point at the key).
public func yamlNode(at path: [any CodingKey], in root: YAMLNode) -> (
  node: YAMLNode, key: YAMLNode?
) {
  var node = root
  var key: YAMLNode?
  for component in path {
    switch node.content {
    case .mapping(let pairs):
      guard let pair = pairs.first(where: { $0.key.scalar?.text == component.stringValue }) else {
        return (node, nil)
      }
      key = pair.key
      node = pair.value
    case .sequence(let items):
      guard let i = component.intValue, items.indices.contains(i) else { return (node, nil) }
      key = nil
      node = items[i]
    case .scalar:
      return (node, key)
    }
  }
  return (node, key)
}

/// Enumerations spelled by name, so that a misspelt one gets the list of valid names.
protocol NamedCases {
  static var caseNames: [String] { get }
}

extension NamedCases where Self: CaseIterable & RawRepresentable, RawValue == String {
  static var caseNames: [String] { allCases.map(\.rawValue) }
}

extension TransportProtocol: NamedCases {}
extension ClusterProtocol: NamedCases {}
extension LoadBalancerConfig.Policy: NamedCases {}

/// Scalar types read straight from a YAML scalar.
private protocol YAMLScalarDecodable {
  static func fromYAML(_ s: YAMLScalar) -> Self?
}

extension Bool: YAMLScalarDecodable {
  fileprivate static func fromYAML(_ s: YAMLScalar) -> Bool? {
    if case .bool(let b) = s.value { return b }
    return nil
  }
}

extension String: YAMLScalarDecodable {
  fileprivate static func fromYAML(_ s: YAMLScalar) -> String? { s.string }
}

extension Double: YAMLScalarDecodable {
  fileprivate static func fromYAML(_ s: YAMLScalar) -> Double? {
    switch s.value {
    case .int(let i): return Double(i)
    case .float(let d): return d
    default: return nil
    }
  }
}

extension Float: YAMLScalarDecodable {
  fileprivate static func fromYAML(_ s: YAMLScalar) -> Float? { Double.fromYAML(s).map(Float.init) }
}

extension YAMLScalarDecodable where Self: FixedWidthInteger {
  fileprivate static func fromYAML(_ s: YAMLScalar) -> Self? {
    if case .int(let i) = s.value { return Self(exactly: i) }
    return nil
  }
}

extension Int: YAMLScalarDecodable {}
extension Int8: YAMLScalarDecodable {}
extension Int16: YAMLScalarDecodable {}
extension Int32: YAMLScalarDecodable {}
extension Int64: YAMLScalarDecodable {}
extension UInt: YAMLScalarDecodable {}
extension UInt8: YAMLScalarDecodable {}
extension UInt16: YAMLScalarDecodable {}
extension UInt32: YAMLScalarDecodable {}
extension UInt64: YAMLScalarDecodable {}

private struct IndexKey: CodingKey {
  var stringValue: String { "\(intValue ?? 0)" }
  var intValue: Int?
  init(_ i: Int) { intValue = i }
  init?(stringValue: String) { nil }
  init?(intValue: Int) { self.intValue = intValue }
}

private struct NodeDecoder: Decoder {
  let node: YAMLNode
  let codingPath: [any CodingKey]
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  func mismatch(_ type: Any.Type) -> DecodingError {
    .typeMismatch(
      type, .init(codingPath: codingPath, debugDescription: "found \(node.kindDescription)"))
  }

  func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
    if let scalarType = T.self as? any YAMLScalarDecodable.Type {
      guard let s = node.scalar else { throw mismatch(T.self) }
      guard let v = scalarType.fromYAML(s) else {
        if case .int(let i) = s.value, T.self != Double.self, T.self != String.self {
          throw DecodingError.dataCorrupted(
            .init(codingPath: codingPath, debugDescription: "\(i) does not fit in \(T.self)"))
        }
        throw mismatch(T.self)
      }
      guard let result = v as? T else { throw mismatch(T.self) }
      return result
    }
    if let named = T.self as? any NamedCases.Type, let text = node.scalar?.string,
      !named.caseNames.contains(text)
    {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: codingPath,
          debugDescription:
            "'\(text)' is not one of: \(named.caseNames.joined(separator: ", "))"))
    }
    return try T(from: self)
  }

  func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
    guard let pairs = node.mapping else { throw mismatch([String: Any].self) }
    return KeyedDecodingContainer(MappingContainer<Key>(pairs: pairs, codingPath: codingPath))
  }

  func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
    guard let items = node.sequence else { throw mismatch([Any].self) }
    return SequenceContainer(items: items, codingPath: codingPath)
  }

  func singleValueContainer() throws -> any SingleValueDecodingContainer { self }
}

extension NodeDecoder: SingleValueDecodingContainer {
  func decodeNil() -> Bool { node.isNull }
  func decode(_ type: Bool.Type) throws -> Bool { try decodeValue(type) }
  func decode(_ type: String.Type) throws -> String { try decodeValue(type) }
  func decode(_ type: Double.Type) throws -> Double { try decodeValue(type) }
  func decode(_ type: Float.Type) throws -> Float { try decodeValue(type) }
  func decode(_ type: Int.Type) throws -> Int { try decodeValue(type) }
  func decode(_ type: Int8.Type) throws -> Int8 { try decodeValue(type) }
  func decode(_ type: Int16.Type) throws -> Int16 { try decodeValue(type) }
  func decode(_ type: Int32.Type) throws -> Int32 { try decodeValue(type) }
  func decode(_ type: Int64.Type) throws -> Int64 { try decodeValue(type) }
  func decode(_ type: UInt.Type) throws -> UInt { try decodeValue(type) }
  func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeValue(type) }
  func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeValue(type) }
  func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeValue(type) }
  func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeValue(type) }
  func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(type) }
}

private struct MappingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
  let pairs: [YAMLPair]
  let codingPath: [any CodingKey]
  let byKey: [String: YAMLNode]

  init(pairs: [YAMLPair], codingPath: [any CodingKey]) {
    self.pairs = pairs
    self.codingPath = codingPath
    var byKey: [String: YAMLNode] = [:]
    for p in pairs {
      if let k = p.key.scalar?.text, byKey[k] == nil { byKey[k] = p.value }
    }
    self.byKey = byKey
  }

  var allKeys: [Key] { pairs.compactMap { $0.key.scalar.flatMap { Key(stringValue: $0.text) } } }

  func contains(_ key: Key) -> Bool { byKey[key.stringValue] != nil }

  func child(_ key: Key) throws -> NodeDecoder {
    guard let node = byKey[key.stringValue] else {
      throw DecodingError.keyNotFound(
        key,
        .init(codingPath: codingPath, debugDescription: "No value associated with this key"))
    }
    return NodeDecoder(node: node, codingPath: codingPath + [key])
  }

  func decodeNil(forKey key: Key) throws -> Bool { try child(key).node.isNull }
  func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
    try child(key).decodeValue(type)
  }
  func decode(_ type: String.Type, forKey key: Key) throws -> String {
    try child(key).decodeValue(type)
  }
  func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
    try child(key).decodeValue(type)
  }
  func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
    try child(key).decodeValue(type)
  }
  func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).decodeValue(type) }
  func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 {
    try child(key).decodeValue(type)
  }
  func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 {
    try child(key).decodeValue(type)
  }
  func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 {
    try child(key).decodeValue(type)
  }
  func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
    try child(key).decodeValue(type)
  }
  func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt {
    try child(key).decodeValue(type)
  }
  func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 {
    try child(key).decodeValue(type)
  }
  func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
    try child(key).decodeValue(type)
  }
  func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
    try child(key).decodeValue(type)
  }
  func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
    try child(key).decodeValue(type)
  }
  func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
    try child(key).decodeValue(type)
  }

  func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
    -> KeyedDecodingContainer<NestedKey>
  {
    try child(key).container(keyedBy: type)
  }

  func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
    try child(key).unkeyedContainer()
  }

  func superDecoder() throws -> any Decoder {
    NodeDecoder(
      node: YAMLNode(.mapping(pairs), mark: pairs.first?.key.mark ?? YAMLMark(line: 1, column: 1)),
      codingPath: codingPath)
  }

  func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct SequenceContainer: UnkeyedDecodingContainer {
  let items: [YAMLNode]
  let codingPath: [any CodingKey]
  var currentIndex = 0

  init(items: [YAMLNode], codingPath: [any CodingKey]) {
    self.items = items
    self.codingPath = codingPath
  }

  var count: Int? { items.count }
  var isAtEnd: Bool { currentIndex >= items.count }

  mutating func next() throws -> NodeDecoder {
    guard !isAtEnd else {
      throw DecodingError.valueNotFound(
        Any.self,
        .init(
          codingPath: codingPath + [IndexKey(currentIndex)],
          debugDescription: "the list has only \(items.count) items"))
    }
    defer { currentIndex += 1 }
    return NodeDecoder(node: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)])
  }

  mutating func decodeNil() throws -> Bool {
    guard !isAtEnd, items[currentIndex].isNull else { return false }
    currentIndex += 1
    return true
  }
  mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decodeValue(type) }
  mutating func decode(_ type: String.Type) throws -> String { try next().decodeValue(type) }
  mutating func decode(_ type: Double.Type) throws -> Double { try next().decodeValue(type) }
  mutating func decode(_ type: Float.Type) throws -> Float { try next().decodeValue(type) }
  mutating func decode(_ type: Int.Type) throws -> Int { try next().decodeValue(type) }
  mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().decodeValue(type) }
  mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().decodeValue(type) }
  mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().decodeValue(type) }
  mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().decodeValue(type) }
  mutating func decode(_ type: UInt.Type) throws -> UInt { try next().decodeValue(type) }
  mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().decodeValue(type) }
  mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().decodeValue(type) }
  mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().decodeValue(type) }
  mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().decodeValue(type) }
  mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(type) }

  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
    -> KeyedDecodingContainer<NestedKey>
  {
    try next().container(keyedBy: type)
  }

  mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
    try next().unkeyedContainer()
  }

  mutating func superDecoder() throws -> any Decoder { try next() }
}
