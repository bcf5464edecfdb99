import Foundation
import RuleLang
import VM

/// What a session knows of the packet that opened it and of the `set` rewrites its rule made:
/// owned text, kept for the session's life (load balancing keys, WebSocket upgrade headers,
/// the control API's listing).
struct SessionMetadata: Sendable, Hashable {
  /// Dotted metadata path (`HTTP.url.path`, `HTTP.headers.id`, `labels.ssrc`) → value as text;
  /// the rewrites override the packet's own fields.
  var fields: [String: String] = [:]
  /// The packet's addresses and ports, kept as numbers (a UDP session usually has nothing
  /// else, and text for them would be a dictionary per session); see `value(at:)`.
  var addresses: Addresses?

  struct Addresses: Sendable, Hashable {
    var src: IPAddress?
    var dst: IPAddress?
    var srcPort: Int32
    var dstPort: Int32
    /// `UDP` or `TCP`: the ports' metadata root.
    var portRoot: String

    func value(at path: String) -> String? {
      switch path {
      case "IP.src_addr": return src?.description
      case "IP.dst_addr": return dst?.description
      case portRoot + ".src_port": return srcPort >= 0 ? String(srcPort) : nil
      case portRoot + ".dst_port": return dstPort >= 0 ? String(dstPort) : nil
      default: return nil
      }
    }
  }
  /// The `HTTP.headers.*` rewrites, in the order the rule set them: sent with a WebSocket
  /// upstream's upgrade request.
  var headerRewrites: [(name: String, value: String)] = []

  static func == (a: SessionMetadata, b: SessionMetadata) -> Bool {
    a.fields == b.fields && a.addresses == b.addresses
      && a.headerRewrites.map(\.name) == b.headerRewrites.map(\.name)
      && a.headerRewrites.map(\.value) == b.headerRewrites.map(\.value)
  }

  func hash(into h: inout Hasher) {
    h.combine(fields)
    h.combine(addresses)
  }

  /// l7mp's slash form (`IP/src_addr`) or the dotted form.
  func value(at path: String) -> String? {
    let dotted = path.replacingOccurrences(of: "/", with: ".")
    return fields[dotted] ?? addresses?.value(at: dotted)
  }

  /// The packet's own fields (addresses, ports, HTTP request) as text.
  init(view: PacketView, transport: String) {
    addresses = Addresses(
      src: view.hasAddresses ? view.srcAddr : nil, dst: view.hasAddresses ? view.dstAddr : nil,
      srcPort: view.srcPort, dstPort: view.dstPort, portRoot: transport == "UDP" ? "UDP" : "TCP")
    func text(_ b: UnsafeRawBufferPointer?) -> String? {
      b.map { String(decoding: $0, as: UTF8.self) }
    }
    if let m = text(view.httpMethod) { fields["HTTP.method"] = m }
    if let p = text(view.httpPath) { fields["HTTP.url.path"] = p }
    if let q = text(view.httpQuery) { fields["HTTP.url.query"] = q }
    if let h = text(view.httpHost) { fields["HTTP.url.host"] = h }
    if let u = text(view.unixFilename) { fields["UNIX.filename"] = u }
    if let headers = view.headers {
      for h in headers {
        fields["HTTP.headers." + String(decoding: h.name, as: UTF8.self)] = String(
          decoding: h.value, as: UTF8.self)
      }
    }
  }

  init() {}

  /// Applies the evaluation's rewrites (valid only while the packet and program are).
  mutating func apply(
    _ rewrites: UnsafeMutableBufferPointer<Rewrite>, count: Int, program: Program
  ) {
    for i in 0..<min(count, rewrites.count) {
      let r = rewrites[i]
      guard case .path(let path) = program.constants[Int(r.path)] else { continue }
      let text: String?
      switch r.value {
      case .int(let x): text = String(x)
      case .ip(let a): text = a.description
      case .bytes(let b, let folded):
        let s = String(decoding: b, as: UTF8.self)
        text = folded ? s.lowercased() : s
      case .constant(let k):
        switch program.constants[Int(k)] {
        case .int(let x): text = String(x)
        case .bytes(let b): text = String(decoding: b, as: UTF8.self)
        case .ip(let a): text = a.description
        default: text = nil
        }
      }
      guard let text else { continue }
      fields[path] = text
      if path.hasPrefix("HTTP.headers.") {
        let name = String(path.dropFirst("HTTP.headers.".count))
        headerRewrites.removeAll { $0.name == name }
        headerRewrites.append((name, text))
      }
    }
  }
}
