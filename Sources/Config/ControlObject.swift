/// The three kinds of configuration objects the control API adds, replaces and deletes, with the
/// key that wraps each in a request body (`{"listener": {…}}`, l7mp's shape). Shared by the API
/// (Proxy) and its client, which the CRD bridge's reconciler uses.
public protocol ControlObject: Codable, Sendable, Hashable {
  /// `listener`, `cluster`, `rulelist`: the wrapping key; the path is `/api/v1/<kind>s`.
  static var kind: String { get }
  var name: String { get }
}

extension ListenerConfig: ControlObject { public static var kind: String { "listener" } }
extension ClusterConfig: ControlObject { public static var kind: String { "cluster" } }
extension RulelistConfig: ControlObject { public static var kind: String { "rulelist" } }

/// `{"<kind>": {…}}`: exactly one key, the object's kind.
public struct WrappedObject<Object: ControlObject>: Codable, Sendable {
  public var object: Object

  public init(_ object: Object) { self.object = object }

  struct Key: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: Key.self)
    // The first in sorted order, so the message does not depend on the decoder's key order.
    let unknown = c.allKeys.filter { $0.stringValue != Object.kind }
    if let key = unknown.min(by: { $0.stringValue < $1.stringValue }) {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: [key],
          debugDescription:
            "unknown key '\(key.stringValue)'; the body is {\"\(Object.kind)\": {…}}"))
    }
    object = try c.decode(Object.self, forKey: Key(stringValue: Object.kind))
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: Key.self)
    try c.encode(object, forKey: Key(stringValue: Object.kind))
  }
}
