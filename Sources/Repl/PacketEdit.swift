import RuleLang
import VM

/// `:set PATH = VALUE`: writes one metadata field of a packet, by its rule-language path.
enum PacketEdit {
  /// The paths that can be edited, for messages and completion.
  static let paths = [
    "IP.src_addr", "IP.dst_addr", "UDP.src_port", "UDP.dst_port", "TCP.src_port", "TCP.dst_port",
    "payload", "HTTP.method", "HTTP.url.path", "HTTP.url.query", "HTTP.url.host",
    "HTTP.headers.NAME", "UNIX.filename", "labels.NAME",
  ]

  /// Sets `path` to `value` (nil: removes it).
  static func apply(path: String, value: OwnedPacket.Value?, to p: inout OwnedPacket)
    throws(ReplError)
  {
    func address() throws(ReplError) -> IPAddress? {
      guard let value else { return nil }
      guard case .ip(let a) = value else {
        throw ReplError("\(path) is an address, e.g. 10.0.0.1 or ::1")
      }
      return a
    }
    func port() throws(ReplError) -> Int? {
      guard let value else { return nil }
      guard case .int(let n) = value, (0...65535).contains(n) else {
        throw ReplError("\(path) is a port number, 0 to 65535")
      }
      return Int(n)
    }
    func bytes() throws(ReplError) -> [UInt8]? {
      guard let value else { return nil }
      guard case .bytes(let b) = value else {
        throw ReplError("\(path) is bytes: \"text\" or x\"80 00\"")
      }
      return b
    }
    func text() throws(ReplError) -> String? {
      guard let b = try bytes() else { return nil }
      guard let s = String(validating: b, as: UTF8.self) else {
        throw ReplError("\(path) is text, and these bytes are not UTF-8")
      }
      return s
    }
    switch path {
    case "IP.src_addr": p.srcAddr = try address()
    case "IP.dst_addr": p.dstAddr = try address()
    case "UDP.src_port", "TCP.src_port": p.srcPort = try port()
    case "UDP.dst_port", "TCP.dst_port": p.dstPort = try port()
    case "payload": p.payload = try bytes()
    case "HTTP.method": p.httpMethod = try text()
    case "HTTP.url.path": p.httpPath = try text()
    case "HTTP.url.query": p.httpQuery = try text()
    case "HTTP.url.host": p.httpHost = try text()
    case "UNIX.filename": p.unixFilename = try text()
    default:
      if path.hasPrefix("HTTP.headers."), path.count > 13 {
        let name = String(path.dropFirst(13))
        let folded = name.lowercased()
        p.headers.removeAll { $0.name.lowercased() == folded }
        if let v = try text() { p.headers.append((name, v)) }
      } else if path.hasPrefix("labels."), path.count > 7 {
        let name = String(path.dropFirst(7))
        p.labels.removeAll { $0.name == name }
        if let value { p.labels.append((name, value)) }
      } else {
        let guess = Spelling.closest(to: path, in: paths).first.map { "did you mean '\($0)'? " }
        throw ReplError(
          "cannot set '\(path)'; \(guess ?? "")the fields are \(paths.joined(separator: ", "))")
      }
    }
  }
}
