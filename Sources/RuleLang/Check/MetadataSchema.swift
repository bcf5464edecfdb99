/// The protocols a rulelist can be written for.
public enum RuleProtocol: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
  case udp = "UDP"
  case tcp = "TCP"
  case webSocket = "WebSocket"
  case unixDomainSocket = "UnixDomainSocket"
  case jsonSocket = "JSONSocket"

  public var description: String { rawValue }

  /// Message protocols run the rules on every message and can see its `payload`; byte streams run
  /// them once per connection, before any data.
  public var isDatagram: Bool {
    switch self {
    case .udp, .webSocket, .jsonSocket: return true
    case .tcp, .unixDomainSocket: return false
    }
  }

  public static let namesForMessages = "UDP, TCP, WebSocket, UnixDomainSocket or JSONSocket"
}

/// One metadata field, or a family of them (`HTTP.headers.*`, `labels.*`).
public struct MetadataField: Sendable {
  /// The path, with `*` for a free last segment.
  public let path: [String]
  public let type: RuleType
  /// Where it can be read in a condition.
  public let readableOn: Set<RuleProtocol>
  /// Where `set` may write it.
  public let writableOn: Set<RuleProtocol>
  public let summary: String

  public var isFamily: Bool { path.last == "*" }
  public var displayPath: String { path.joined(separator: ".") }
}

/// l7mp's metadata tree, and which parts exist on which protocol.
public enum MetadataSchema {
  static let all = Set(RuleProtocol.allCases)
  static let ipCarried: Set<RuleProtocol> = [.udp, .tcp, .webSocket, .jsonSocket]

  public static let fields: [MetadataField] = [
    .init(
      path: ["IP", "src_addr"], type: .ip, readableOn: ipCarried, writableOn: [],
      summary: "source address of the packet or connection"),
    .init(
      path: ["IP", "dst_addr"], type: .ip, readableOn: ipCarried, writableOn: [],
      summary: "destination address (the listener's)"),
    .init(
      path: ["UDP", "src_port"], type: .int, readableOn: [.udp], writableOn: [],
      summary: "UDP source port"),
    .init(
      path: ["UDP", "dst_port"], type: .int, readableOn: [.udp], writableOn: [],
      summary: "UDP destination port"),
    .init(
      path: ["TCP", "src_port"], type: .int, readableOn: [.tcp, .webSocket, .jsonSocket],
      writableOn: [], summary: "TCP source port"),
    .init(
      path: ["TCP", "dst_port"], type: .int, readableOn: [.tcp, .webSocket, .jsonSocket],
      writableOn: [], summary: "TCP destination port"),
    .init(
      path: ["HTTP", "method"], type: .string, readableOn: [.webSocket], writableOn: all,
      summary: "method of the WebSocket upgrade request"),
    .init(
      path: ["HTTP", "url", "path"], type: .string, readableOn: [.webSocket], writableOn: all,
      summary: "path of the upgrade request's URL"),
    .init(
      path: ["HTTP", "url", "query"], type: .string, readableOn: [.webSocket], writableOn: all,
      summary: "query string of the upgrade request's URL (empty if none)"),
    .init(
      path: ["HTTP", "url", "host"], type: .optional(.string), readableOn: [.webSocket],
      writableOn: all, summary: "host of the upgrade request"),
    .init(
      path: ["HTTP", "headers", "*"], type: .optional(.string), readableOn: [.webSocket],
      writableOn: all,
      summary:
        "a header of the upgrade request; set on any protocol, it goes to WebSocket upstreams"),
    .init(
      path: ["UNIX", "filename"], type: .string, readableOn: [.unixDomainSocket], writableOn: [],
      summary: "path of the Unix domain socket"),
    .init(
      path: ["labels", "*"], type: .dynamic, readableOn: all, writableOn: all,
      summary: "labels set by the listener or an earlier rule"),
    .init(
      path: ["JSONSocket", "*"], type: .dynamic, readableOn: [.jsonSocket],
      writableOn: [.jsonSocket], summary: "a field of the JSONSocket header"),
    .init(
      path: ["payload"], type: .bytes, readableOn: [.udp, .webSocket, .jsonSocket], writableOn: [],
      summary: "the message's bytes (message protocols only)"),
  ]

  public static let roots: [String] = [
    "IP", "UDP", "TCP", "HTTP", "UNIX", "labels", "JSONSocket", "payload",
  ]

  public enum Lookup: Sendable {
    case field(MetadataField)
    /// The root exists, the rest does not; the closest full paths.
    case unknownField(suggestions: [String])
    /// A group, not a field (`IP`, `HTTP.headers`): the fields under it.
    case group(members: [String])
    case notARoot
  }

  /// Resolves a path (`["HTTP", "headers", "x-id"]`) to its field, ignoring the protocol.
  public static func lookup(_ path: [String]) -> Lookup {
    guard let root = path.first, roots.contains(root) else { return .notARoot }
    for f in fields {
      if f.isFamily {
        let prefix = f.path.dropLast()
        if path.count == f.path.count, Array(path.prefix(prefix.count)) == Array(prefix),
          !path.last!.isEmpty
        {
          return .field(f)
        }
      } else if f.path == path {
        return .field(f)
      }
    }
    // A strict prefix of some field's path is a group.
    let members = fields.filter {
      $0.path.count > path.count && Array($0.path.prefix(path.count)) == path
    }
    if !members.isEmpty {
      return .group(
        members: members.map {
          $0.isFamily ? $0.path.dropLast().joined(separator: ".") + ".NAME" : $0.displayPath
        })
    }
    // `labels.app.kubernetes.io`: a name with dots, under a family, is written in brackets.
    for f in fields where f.isFamily && path.count > f.path.count {
      let parent = Array(f.path.dropLast())
      if Array(path.prefix(parent.count)) == parent {
        let key = path[parent.count...].joined(separator: ".")
        return .unknownField(
          suggestions: [parent.joined(separator: ".") + "[" + Value.quote(key) + "]"])
      }
    }
    let candidates = fields.filter { $0.path.first == root }.map { f in
      f.isFamily
        ? (f.path.dropLast() + [path.last ?? "NAME"]).joined(separator: ".") : f.displayPath
    }
    let written = path.joined(separator: ".")
    return .unknownField(suggestions: Spelling.closest(to: written, in: candidates))
  }
}
