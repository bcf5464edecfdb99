import Foundation

/// One object as the API server sent it: its raw JSON, and the metadata the watcher needs to keep its
/// cache. Decoding the rest (a VirtualService, a Service, …) is up to the model that consumes it.
public struct KubernetesObject: Sendable, Hashable {
  public var name: String
  /// Empty for cluster-scoped objects.
  public var namespace: String
  public var resourceVersion: String
  public var uid: String
  /// The object's JSON, exactly as received (one `items` element, or a watch event's `object`).
  public var json: [UInt8]

  public init(name: String, namespace: String, resourceVersion: String, uid: String, json: [UInt8])
  {
    self.name = name
    self.namespace = namespace
    self.resourceVersion = resourceVersion
    self.uid = uid
    self.json = json
  }

  /// `namespace/name` (or `name` when cluster-scoped): the cache key, as client-go's
  /// MetaNamespaceKeyFunc spells it.
  public var key: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }

  /// Reads the metadata from a decoded object; `json` is kept as given.
  init(decoded object: Any, json: [UInt8]) throws(KubernetesAPIError) {
    guard let dict = object as? [String: Any], let metadata = dict["metadata"] as? [String: Any]
    else { throw .malformed("an object without metadata") }
    guard let name = metadata["name"] as? String, !name.isEmpty else {
      throw .malformed("an object without metadata.name")
    }
    self.init(
      name: name, namespace: metadata["namespace"] as? String ?? "",
      resourceVersion: metadata["resourceVersion"] as? String ?? "",
      uid: metadata["uid"] as? String ?? "", json: json)
  }

  /// Decodes `json` (one object) and reads its metadata.
  public init(json: [UInt8]) throws(KubernetesAPIError) {
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: Data(json))
    } catch {
      throw .malformed("an object that is not JSON (\(error.localizedDescription))")
    }
    try self.init(decoded: object, json: json)
  }
}

/// What changed in a watched collection.
public enum ResourceChange: Sendable, Hashable {
  /// The full set after a LIST (the first one, and every re-list after 410 Gone): the consumer
  /// replaces what it had with this.
  case resynced([KubernetesObject])
  case added(KubernetesObject)
  case modified(KubernetesObject)
  /// The object's last state, as the server sent it with the DELETED event.
  case deleted(KubernetesObject)
}

/// The objects of one collection by `namespace/name`, kept by applying `ResourceChange`s.
public struct ResourceCache: Sendable, Hashable {
  public private(set) var objects: [String: KubernetesObject] = [:]

  public init() {}

  public mutating func apply(_ change: ResourceChange) {
    switch change {
    case .resynced(let all):
      objects = Dictionary(all.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
    case .added(let o), .modified(let o):
      objects[o.key] = o
    case .deleted(let o):
      objects[o.key] = nil
    }
  }

  /// The objects sorted by key, so that what is built from them does not depend on arrival order.
  public var sorted: [KubernetesObject] { objects.keys.sorted().map { objects[$0]! } }
}
