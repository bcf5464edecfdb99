import Foundation

/// One event of a watch stream (`{"type": "ADDED", "object": {…}}`).
public enum WatchEvent: Sendable, Hashable {
  case added(KubernetesObject)
  case modified(KubernetesObject)
  case deleted(KubernetesObject)
  /// Nothing changed up to this resourceVersion; resume the watch from it.
  case bookmark(resourceVersion: String)
  case error(APIStatus)
}

/// Splits a watch response body — newline-delimited JSON, arriving in arbitrary chunks — into events.
public struct WatchEventDecoder: Sendable {
  /// A longer line is refused rather than buffered without end (etcd's object limit is 1.5 MB).
  public var maximumLineLength: Int
  private var pending: [UInt8] = []

  public init(maximumLineLength: Int = 16 << 20) {
    self.maximumLineLength = maximumLineLength
  }

  /// The events completed by `bytes`; a partial line waits for the next chunk.
  public mutating func decode(_ bytes: some Collection<UInt8>) throws(KubernetesAPIError)
    -> [WatchEvent]
  {
    var events: [WatchEvent] = []
    for byte in bytes {
      if byte == UInt8(ascii: "\n") {
        if !pending.allSatisfy({ $0 == 0x20 || $0 == 0x0d || $0 == 0x09 }) {
          events.append(try Self.event(fromLine: pending))
        }
        pending.removeAll(keepingCapacity: true)
      } else {
        pending.append(byte)
        if pending.count > maximumLineLength {
          throw .malformed("a watch event longer than \(maximumLineLength) bytes")
        }
      }
    }
    return events
  }

  /// Bytes of an event cut off when the stream ended (a dropped connection); 0 after a clean end.
  public var unfinishedBytes: Int { pending.count }

  /// Decodes one event line.
  public static func event(fromLine line: [UInt8]) throws(KubernetesAPIError) -> WatchEvent {
    let decoded: Any
    do {
      decoded = try JSONSerialization.jsonObject(with: Data(line))
    } catch {
      throw .malformed("a watch event that is not JSON: \(preview(line))")
    }
    guard let dict = decoded as? [String: Any], let type = dict["type"] as? String else {
      throw .malformed("a watch event without a type: \(preview(line))")
    }
    guard let object = dict["object"] as? [String: Any] else {
      throw .malformed("a \(type) watch event without an object")
    }
    switch type {
    case "ADDED", "MODIFIED", "DELETED":
      let o = try KubernetesObject(decoded: object, json: reencode(object))
      return type == "ADDED" ? .added(o) : type == "MODIFIED" ? .modified(o) : .deleted(o)
    case "BOOKMARK":
      let metadata = object["metadata"] as? [String: Any]
      guard let rv = metadata?["resourceVersion"] as? String, !rv.isEmpty else {
        throw .malformed("a BOOKMARK event without metadata.resourceVersion")
      }
      return .bookmark(resourceVersion: rv)
    case "ERROR":
      guard let status = APIStatus(decoded: object) else {
        throw .malformed("an ERROR event whose object is not a Status: \(preview(line))")
      }
      return .error(status)
    default:
      throw .malformed("a watch event of unknown type '\(type)'")
    }
  }

  /// The object's JSON on its own (a list item, an event's object).
  static func reencode(_ object: Any) throws(KubernetesAPIError) -> [UInt8] {
    do {
      return [UInt8](
        try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes]))
    } catch {
      throw .malformed("an object that cannot be re-encoded as JSON")
    }
  }

  static func preview(_ bytes: [UInt8]) -> String {
    let s = String(decoding: bytes.prefix(120), as: UTF8.self)
    return bytes.count > 120 ? s + "…" : s
  }
}
