import RuleLang

/// A packet literal that could not be read: what was expected, and where (a UTF-8 byte offset and
/// length in the literal, for a caret under the mistake).
public struct PacketLiteralError: Error, Sendable, Hashable, CustomStringConvertible {
  public let message: String
  /// UTF-8 byte offset of the mistake in the literal.
  public let offset: Int
  /// Its length in UTF-8 bytes (at least 1, except at the end of the literal).
  public let length: Int

  public init(message: String, offset: Int, length: Int) {
    self.message = message
    self.offset = offset
    self.length = length
  }

  public var description: String { message }
}

/// A packet read from a literal, and the protocol it arrived on.
public struct ParsedPacket: Sendable, Hashable {
  public let `protocol`: RuleProtocol
  public let packet: OwnedPacket

  public init(protocol: RuleProtocol, packet: OwnedPacket) {
    self.protocol = `protocol`
    self.packet = packet
  }
}

/// Synthetic packets written as one line of text, for `l7mp eval`, the REPL and tests:
///
///     udp 10.0.0.7:9001 -> 10.0.0.1:9001 payload "hello"
///     udp [::1]:5000 -> [::1]:53 payload x"80 00 1f" labels {ssrc: 5}
///     tcp 10.0.0.1:40000 -> 10.0.0.2:80
///     ws 127.0.0.1:40000 -> 127.0.0.1:8888 GET /path?x=1 headers {"id": "1"} payload "hi"
///     uds /var/run/sock/uds-echo.sock
///
/// docs/packets.md has the grammar. `format` prints a packet back in the same syntax, so that
/// `parse(format(p)) == p`.
public enum PacketLiteral {
  /// The syntax in brief, for error messages and help texts.
  public static let synopsis = """
    udp SRC:PORT -> DST:PORT [payload "text" | payload x"80 00 1f"] [labels {KEY: VALUE, …}]
    tcp SRC:PORT -> DST:PORT [labels {…}]
    ws  SRC:PORT -> DST:PORT [METHOD /path?query] [host "name"] [headers {"Name": "value", …}] [payload …] [labels {…}]
    uds /path/of/the/socket [labels {…}]
    (IPv6 endpoints in brackets: [::1]:5000)
    """

  static let protocolWords: [(String, RuleProtocol)] = [
    ("udp", .udp), ("tcp", .tcp), ("ws", .webSocket), ("websocket", .webSocket),
    ("uds", .unixDomainSocket), ("unix", .unixDomainSocket),
  ]

  /// Reads one packet literal.
  public static func parse(_ text: String) throws(PacketLiteralError) -> ParsedPacket {
    var r = LiteralReader(Array(text.utf8))
    return try r.packet()
  }

  /// The literal for a packet: `parse(format(p))` gives `p` back. Fields the protocol's literal
  /// has no place for (a payload on TCP, headers on UDP) are left out.
  public static func format(_ p: ParsedPacket) -> String {
    let packet = p.packet
    var parts: [String] = []
    let web = p.protocol == .webSocket || p.protocol == .jsonSocket
    switch p.protocol {
    case .udp: parts.append("udp")
    case .tcp: parts.append("tcp")
    case .webSocket, .jsonSocket: parts.append("ws")
    case .unixDomainSocket: parts.append("uds")
    }
    if p.protocol == .unixDomainSocket {
      parts.append(formatBare(packet.unixFilename ?? "", allowed: isPathByte))
    } else if web, packet.srcAddr == nil, packet.dstAddr == nil, packet.srcPort == nil,
      packet.dstPort == nil
    {
      // A WebSocket request without addresses: `ws GET /path`.
    } else {
      parts.append(formatEndpoint(packet.srcAddr, packet.srcPort))
      parts.append("->")
      parts.append(formatEndpoint(packet.dstAddr, packet.dstPort))
    }
    if web, packet.httpMethod != nil || packet.httpPath != nil || packet.httpQuery != nil {
      parts.append(packet.httpMethod.map { $0.isEmpty ? "GET" : $0 } ?? "GET")
      var target = packet.httpPath ?? "/"
      if let q = packet.httpQuery, !q.isEmpty { target += "?" + q }
      parts.append(
        target.hasPrefix("/") ? formatBare(target, allowed: isPathByte) : Value.quote(target))
    }
    if web, let host = packet.httpHost { parts.append("host " + Value.quote(host)) }
    if web, !packet.headers.isEmpty {
      let items = packet.headers.map { Value.quote($0.name) + ": " + Value.quote($0.value) }
      parts.append("headers {" + items.joined(separator: ", ") + "}")
    }
    if !packet.labels.isEmpty {
      let items = packet.labels.map { label -> String in
        let key =
          !label.name.isEmpty && label.name.utf8.allSatisfy(isKeyByte)
          ? label.name : Value.quote(label.name)
        return key + ": " + formatValue(label.value)
      }
      parts.append("labels {" + items.joined(separator: ", ") + "}")
    }
    if p.protocol.isDatagram, let payload = packet.payload, !payload.isEmpty {
      parts.append("payload " + formatBytes(payload))
    }
    return parts.joined(separator: " ")
  }

  static func formatEndpoint(_ a: IPAddress?, _ port: Int?) -> String {
    let addr = a ?? IPAddress(v4: 0)
    let text = addr.isV4 ? addr.description : "[\(addr)]"
    return "\(text):\(port ?? 0)"
  }

  /// A label or rewrite value in literal syntax: `5`, `10.0.0.1`, `"text"`, `x"80 00"`.
  public static func formatValue(_ v: OwnedPacket.Value) -> String {
    switch v {
    case .int(let x): return String(x)
    case .ip(let a): return a.description
    case .bytes(let b): return formatBytes(b)
    }
  }

  /// A string literal when the bytes are readable UTF-8 text, hex otherwise.
  static func formatBytes(_ b: [UInt8]) -> String {
    if let s = String(validating: b, as: UTF8.self),
      s.unicodeScalars.allSatisfy({
        $0.value >= 0x20 && $0.value != 0x7F || "\n\r\t".unicodeScalars.contains($0)
      })
    {
      return Value.quote(s)
    }
    return Value.bytes(b).description
  }

  /// Bare when every byte is allowed (and there is one), quoted otherwise.
  static func formatBare(_ s: String, allowed: (UInt8) -> Bool) -> String {
    !s.isEmpty && s.utf8.first != UInt8(ascii: "\"") && s.utf8.allSatisfy(allowed)
      ? s : Value.quote(s)
  }

  static func isKeyByte(_ c: UInt8) -> Bool {
    isAlnum(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
  }

  /// Bytes a bare path or request target may hold: printable ASCII but space, quotes and braces.
  static func isPathByte(_ c: UInt8) -> Bool {
    c > 0x20 && c < 0x7F && c != UInt8(ascii: "\"") && c != UInt8(ascii: "{")
      && c != UInt8(ascii: "}") && c != UInt8(ascii: ",")
  }

  /// Header names: RFC 9110 token characters.
  static func isTokenByte(_ c: UInt8) -> Bool {
    isAlnum(c) || "!#$%&'*+-.^_`|~".utf8.contains(c)
  }

  static func isAlnum(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A)
  }
}

/// The recursive-descent reader behind `PacketLiteral.parse`, over the literal's UTF-8 bytes.
struct LiteralReader {
  let s: [UInt8]
  var i = 0

  init(_ s: [UInt8]) { self.s = s }

  // MARK: the packet

  mutating func packet() throws(PacketLiteralError) -> ParsedPacket {
    skipSpace()
    let start = i
    let word = scan(PacketLiteral.isKeyByte)
    guard !word.isEmpty else {
      throw error(
        "expected a protocol (udp, tcp, ws or uds) at the start of the packet; for example\n"
          + PacketLiteral.synopsis, at: start)
    }
    guard let proto = PacketLiteral.protocolWords.first(where: { $0.0 == word.lowercased() })?.1
    else {
      throw error(
        "unknown protocol '\(word)'; a packet starts with udp, tcp, ws or uds:\n"
          + PacketLiteral.synopsis, at: start, length: word.utf8.count)
    }
    var p = OwnedPacket()
    if proto == .unixDomainSocket {
      skipSpace()
      guard i < s.count else {
        throw error(
          "expected the socket's path after 'uds', e.g. uds /var/run/sock/uds-echo.sock", at: i)
      }
      p.unixFilename = try bareOrQuoted(PacketLiteral.isPathByte, what: "socket path")
    } else if proto == .webSocket, startsWithWord() {
      // `ws GET /path …`: a WebSocket request without addresses; IP and port fields are absent.
    } else {
      let (src, sport) = try endpoint(what: "source")
      skipSpace()
      guard s[i...].starts(with: Array("->".utf8)) else {
        throw error(
          "expected '->' between the source and destination, e.g. \(word) 10.0.0.7:9001 -> 10.0.0.1:53",
          at: i, length: i < s.count ? 1 : 0)
      }
      i += 2
      let (dst, dport) = try endpoint(what: "destination")
      p.srcAddr = src
      p.srcPort = sport
      p.dstAddr = dst
      p.dstPort = dport
    }
    if proto.isDatagram { p.payload = [] }
    let web = proto == .webSocket
    if web {
      p.httpMethod = "GET"
      p.httpPath = "/"
      p.httpQuery = ""
      try requestLine(&p)
    }
    var seen: [String: Int] = [:]
    let options =
      web
      ? ["payload", "headers", "labels", "host"]
      : proto.isDatagram
        ? ["payload", "labels"] : ["labels"]
    let packetKind = web ? "a ws packet" : "a \(word.lowercased()) packet"
    while true {
      skipSpace()
      if i >= s.count { break }
      let at = i
      let option = scan(PacketLiteral.isKeyByte)
      guard options.contains(option) else {
        let found = option.isEmpty ? "'\(Character(UnicodeScalar(s[at])))'" : "'\(option)'"
        var why = ""
        if option == "payload" {
          why =
            ": rules on byte streams (tcp, uds) run once per connection, before any data, so the packet has no payload"
        } else if option == "headers" || option == "host" {
          why = ": HTTP headers and host exist on WebSocket (ws) packets only"
        }
        throw error(
          "unexpected \(found)\(why); after the \(proto == .unixDomainSocket ? "path" : "addresses") \(packetKind) takes \(options.joined(separator: ", "))",
          at: at, length: max(1, option.utf8.count))
      }
      if seen[option] != nil {
        throw error(
          "'\(option)' is given twice; give it once", at: at, length: option.utf8.count)
      }
      seen[option] = at
      switch option {
      case "payload": p.payload = try payloadValue()
      case "headers": p.headers = try headers()
      case "labels": p.labels = try labels()
      default:
        skipSpace()
        p.httpHost = try bareOrQuoted(PacketLiteral.isPathByte, what: "host")
      }
    }
    return ParsedPacket(protocol: proto, packet: p)
  }

  /// `[METHOD TARGET]` after a ws packet's addresses: `GET /path?x=1`.
  mutating func requestLine(_ p: inout OwnedPacket) throws(PacketLiteralError) {
    skipSpace()
    let save = i
    let method = scan(PacketLiteral.isKeyByte)
    if method.isEmpty || ["payload", "headers", "labels", "host"].contains(method) {
      i = save
      return
    }
    guard method.utf8.allSatisfy({ PacketLiteral.isAlnum($0) }) else {
      throw error(
        "expected an HTTP method such as GET or POST, found '\(method)'", at: save,
        length: method.utf8.count)
    }
    skipSpace()
    let at = i
    guard i < s.count, s[i] == UInt8(ascii: "/") || s[i] == UInt8(ascii: "\"") else {
      throw error(
        "expected the request target after \(method), e.g. \(method) /path?x=1", at: at,
        length: i < s.count ? 1 : 0)
    }
    let target = try text(
      try bareOrQuotedBytes(PacketLiteral.isPathByte, what: "request target"),
      what: "the request target", at: at)
    p.httpMethod = method
    if let q = target.firstIndex(of: "?") {
      p.httpPath = String(target[..<q])
      p.httpQuery = String(target[target.index(after: q)...])
    } else {
      p.httpPath = target
      p.httpQuery = ""
    }
  }

  // MARK: endpoints

  /// Whether a word (a method such as `GET`, or an option name) comes next rather than an
  /// address. Hex digits followed by ':' or '.' are an address (an IPv6 one without its
  /// brackets gets the endpoint's error, not a method's).
  mutating func startsWithWord() -> Bool {
    skipSpace()
    guard i < s.count, (s[i] | 0x20) >= 0x61, (s[i] | 0x20) <= 0x7A else { return false }
    var j = i
    while j < s.count, Self.isHexDigit(s[j]) { j += 1 }
    return !(j < s.count && (s[j] == UInt8(ascii: ":") || s[j] == UInt8(ascii: ".")))
  }

  /// `10.0.0.1:5000` or `[::1]:5000`.
  mutating func endpoint(what: String) throws(PacketLiteralError) -> (IPAddress, Int) {
    skipSpace()
    let start = i
    let example = "e.g. 10.0.0.1:5000 or [::1]:5000"
    guard i < s.count else {
      throw error("expected the \(what) address and port, \(example)", at: i, length: 0)
    }
    let addr: IPAddress
    if s[i] == UInt8(ascii: "[") {
      i += 1
      let textStart = i
      while i < s.count, s[i] != UInt8(ascii: "]"), !Self.isSpace(s[i]) { i += 1 }
      guard i < s.count, s[i] == UInt8(ascii: "]") else {
        throw error(
          "expected ']' after the IPv6 address, \(example)", at: i, length: i < s.count ? 1 : 0)
      }
      let text = String(decoding: s[textStart..<i], as: UTF8.self)
      switch IPAddress.parse(text) {
      case .success(let a): addr = a
      case .failure(let e):
        throw error(
          "invalid \(what) address '\(text)': \(e.message)", at: textStart,
          length: max(1, i - textStart))
      }
      i += 1
    } else {
      let run = scan { Self.isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }
      if run.utf8.count(where: { $0 == UInt8(ascii: ":") }) > 1
        || run.utf8.contains(where: Self.isHexLetter)
      {
        // An IPv6 address without brackets: where the port starts would be ambiguous.
        throw error(
          "write IPv6 endpoints in brackets, e.g. [::1]:5000", at: start,
          length: max(1, run.utf8.count))
      }
      i = start
      let text = scan { ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") }
      guard !text.isEmpty else {
        throw error("expected the \(what) address and port, \(example)", at: start)
      }
      switch IPAddress.parse(text) {
      case .success(let a): addr = a
      case .failure(let e):
        throw error(
          "invalid \(what) address '\(text)': \(e.message)", at: start, length: text.utf8.count)
      }
    }
    guard i < s.count, s[i] == UInt8(ascii: ":") else {
      throw error(
        "expected ':PORT' after the \(what) address, \(example)", at: i,
        length: i < s.count ? 1 : 0)
    }
    i += 1
    let portStart = i
    let digits = scan { $0 >= 0x30 && $0 <= 0x39 }
    guard !digits.isEmpty else {
      throw error("expected the \(what) port (0 to 65535) after ':'", at: portStart)
    }
    guard digits.count <= 5, let port = Int(digits), port <= 65535 else {
      throw error(
        "port \(digits) is out of range; ports are 0 to 65535", at: portStart,
        length: digits.utf8.count)
    }
    return (addr, port)
  }

  // MARK: values

  /// `"text"` or `x"80 00 1f"` after `payload`.
  mutating func payloadValue() throws(PacketLiteralError) -> [UInt8] {
    skipSpace()
    if let b = try stringOrBytes() { return b }
    throw error(
      "expected the payload as \"text\" or x\"hex bytes\", e.g. payload \"hello\" or payload x\"80 00 1f\"",
      at: i, length: i < s.count ? 1 : 0)
  }

  /// A string or a byte-string literal at `i`, or nil when there is neither.
  mutating func stringOrBytes() throws(PacketLiteralError) -> [UInt8]? {
    guard i < s.count else { return nil }
    if s[i] == UInt8(ascii: "\"") { return try string() }
    if s[i] == UInt8(ascii: "x"), i + 1 < s.count, s[i + 1] == UInt8(ascii: "\"") {
      return try hexBytes()
    }
    return nil
  }

  /// `"…"` with the rule language's escapes: `\n \t \r \0 \\ \" \' \xHH \u{H…}`. `\xHH` is one
  /// byte, so any payload can be written.
  mutating func string() throws(PacketLiteralError) -> [UInt8] {
    let start = i
    i += 1
    var out: [UInt8] = []
    while true {
      guard i < s.count else {
        throw error("unterminated string: add a closing '\"'", at: start, length: i - start)
      }
      let c = s[i]
      if c == UInt8(ascii: "\"") {
        i += 1
        return out
      }
      if c != UInt8(ascii: "\\") {
        out.append(c)
        i += 1
        continue
      }
      let esc = i
      i += 1
      let e: UInt8 = i < s.count ? s[i] : 0
      i += 1
      switch e {
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "0"): out.append(0)
      case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"): out.append(e)
      case UInt8(ascii: "x"):
        guard i + 1 < s.count, let h = Self.hexValue(s[i]), let l = Self.hexValue(s[i + 1]) else {
          throw error("'\\x' must be followed by two hex digits, e.g. \\x0a", at: esc, length: 2)
        }
        out.append(h << 4 | l)
        i += 2
      case UInt8(ascii: "u"):
        var scalar: UInt32 = 0
        var digits = 0
        guard i < s.count, s[i] == UInt8(ascii: "{") else {
          throw error("write unicode escapes as \\u{1F600}", at: esc, length: 2)
        }
        i += 1
        while i < s.count, let d = Self.hexValue(s[i]), digits < 8 {
          scalar = scalar << 4 | UInt32(d)
          digits += 1
          i += 1
        }
        guard i < s.count, s[i] == UInt8(ascii: "}"), digits > 0,
          let u = Unicode.Scalar(scalar)
        else {
          throw error(
            "invalid unicode escape: write \\u{1F600} with 1 to 8 hex digits", at: esc,
            length: min(i, s.count) - esc)
        }
        i += 1
        out += Array(String(Character(u)).utf8)
      default:
        throw error(
          "invalid escape in string; valid escapes are \\n \\t \\r \\0 \\\\ \\\" \\xHH \\u{H…}",
          at: esc, length: min(2, s.count - esc))
      }
    }
  }

  /// `x"80 00 1f"`: pairs of hex digits, spaces allowed between pairs.
  mutating func hexBytes() throws(PacketLiteralError) -> [UInt8] {
    let start = i
    i += 2
    var out: [UInt8] = []
    while true {
      while i < s.count, s[i] == UInt8(ascii: " ") { i += 1 }
      guard i < s.count else {
        throw error("unterminated byte string: add a closing '\"'", at: start, length: i - start)
      }
      if s[i] == UInt8(ascii: "\"") {
        i += 1
        return out
      }
      guard let h = Self.hexValue(s[i]) else {
        throw error(
          "byte strings hold pairs of hex digits, e.g. x\"80 00 1f\"", at: i, length: 1)
      }
      guard i + 1 < s.count, let l = Self.hexValue(s[i + 1]) else {
        throw error(
          "odd number of hex digits: every byte takes two, e.g. x\"0f\"", at: i,
          length: i + 1 < s.count ? 2 : 1)
      }
      out.append(h << 4 | l)
      i += 2
    }
  }

  /// A bare word of `allowed` bytes, or a quoted string.
  mutating func bareOrQuotedBytes(_ allowed: (UInt8) -> Bool, what: String)
    throws(PacketLiteralError) -> [UInt8]
  {
    skipSpace()
    if i < s.count, s[i] == UInt8(ascii: "\"") { return try string() }
    let start = i
    while i < s.count, allowed(s[i]) { i += 1 }
    guard i > start else {
      throw error(
        "expected the \(what), bare or in quotes", at: start, length: start < s.count ? 1 : 0)
    }
    return Array(s[start..<i])
  }

  mutating func bareOrQuoted(_ allowed: (UInt8) -> Bool, what: String) throws(PacketLiteralError)
    -> String
  {
    let at = i
    return try text(try bareOrQuotedBytes(allowed, what: what), what: "the \(what)", at: at)
  }

  /// Bytes that must be text (headers, method, path, host).
  func text(_ b: [UInt8], what: String, at: Int) throws(PacketLiteralError) -> String {
    guard let s = String(validating: b, as: UTF8.self) else {
      throw error("\(what) must be UTF-8 text", at: at, length: max(1, i - at))
    }
    return s
  }

  /// `{"Name": "value", …}`
  mutating func headers() throws(PacketLiteralError) -> [(name: String, value: String)] {
    var out: [(name: String, value: String)] = []
    try map(what: "headers", example: "headers {\"id\": \"1\", \"User-Agent\": \"curl\"}") {
      (r: inout LiteralReader) throws(PacketLiteralError) in
      let keyAt = r.i
      let name = try r.text(
        try r.bareOrQuotedBytes(PacketLiteral.isTokenByte, what: "header name"),
        what: "a header name", at: keyAt)
      guard !name.isEmpty, name.utf8.allSatisfy(PacketLiteral.isTokenByte) else {
        throw r.error(
          "a header name is a token: letters, digits and !#$%&'*+-.^_`|~", at: keyAt,
          length: max(1, r.i - keyAt))
      }
      try r.colon(after: "header name '\(name)'")
      r.skipSpace()
      let valueAt = r.i
      let value = try r.text(
        try r.bareOrQuotedBytes(PacketLiteral.isTokenByte, what: "value of header '\(name)'"),
        what: "a header value", at: valueAt)
      out.append((name, value))
    }
    return out
  }

  /// `{ssrc: 5, kind: "x", peer: 10.0.0.1, raw: x"01 02"}`
  mutating func labels() throws(PacketLiteralError) -> [(name: String, value: OwnedPacket.Value)] {
    var out: [(name: String, value: OwnedPacket.Value)] = []
    try map(what: "labels", example: "labels {ssrc: 5, kind: \"x\", peer: 10.0.0.1}") {
      (r: inout LiteralReader) throws(PacketLiteralError) in
      let keyAt = r.i
      let key = try r.text(
        try r.bareOrQuotedBytes(PacketLiteral.isKeyByte, what: "label name"),
        what: "a label name", at: keyAt)
      if out.contains(where: { $0.name == key }) {
        throw r.error("label '\(key)' is given twice", at: keyAt, length: max(1, r.i - keyAt))
      }
      try r.colon(after: "label '\(key)'")
      out.append((key, try r.labelValue(key)))
    }
    return out
  }

  /// An int (`5`, `-1`, `0xff`, `true`), a string or bytes, or an address (`10.0.0.1`, `::1`,
  /// `[::1]`).
  mutating func labelValue(_ key: String) throws(PacketLiteralError) -> OwnedPacket.Value {
    skipSpace()
    let at = i
    let expected =
      "label '\(key)' needs a value: an int (5), a string (\"x\"), bytes (x\"01 02\") or an address (10.0.0.1, ::1)"
    if let b = try stringOrBytes() { return .bytes(b) }
    var bracketed = false
    if i < s.count, s[i] == UInt8(ascii: "[") {
      bracketed = true
      i += 1
    }
    let word = scan {
      PacketLiteral.isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":")
        || $0 == UInt8(ascii: "-")
    }
    if bracketed {
      guard i < s.count, s[i] == UInt8(ascii: "]") else {
        throw error("expected ']' after the IPv6 address", at: i, length: i < s.count ? 1 : 0)
      }
      i += 1
    }
    guard !word.isEmpty else { throw error(expected, at: at, length: at < s.count ? 1 : 0) }
    let length = i - at
    if word == "true" || word == "false" { return .int(word == "true" ? 1 : 0) }
    if word.contains(":") || word.contains(".") || bracketed {
      switch IPAddress.parse(word) {
      case .success(let a): return .ip(a)
      case .failure(let e):
        throw error(
          "invalid address '\(word)' for label '\(key)': \(e.message)", at: at, length: length)
      }
    }
    let negative = word.hasPrefix("-")
    let digits = negative ? String(word.dropFirst()) : word
    var magnitude: UInt64? = nil
    if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
      magnitude = UInt64(digits.dropFirst(2), radix: 16)
    } else if digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
      magnitude = UInt64(digits)
    }
    guard let m = magnitude else {
      let hex = digits.lowercased().hasPrefix("0x") ? Array(digits.utf8.dropFirst(2)) : []
      let decimal = !digits.isEmpty && digits.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
      if decimal || (!hex.isEmpty && hex.allSatisfy(Self.isHexDigit)) {
        throw error("\(word) does not fit in 64 bits", at: at, length: length)
      }
      throw error(expected, at: at, length: length)
    }
    if negative {
      guard m <= UInt64(Int64.max) + 1 else {
        throw error("\(word) does not fit in 64 bits", at: at, length: length)
      }
      return .int(m == UInt64(Int64.max) + 1 ? Int64.min : -Int64(m))
    }
    guard m <= UInt64(Int64.max) else {
      throw error("\(word) does not fit in 64 bits (at most \(Int64.max))", at: at, length: length)
    }
    return .int(Int64(m))
  }

  /// `{ item, item, … }` with an optional trailing comma.
  mutating func map(
    what: String, example: String,
    _ item: (inout LiteralReader) throws(PacketLiteralError) -> Void
  ) throws(PacketLiteralError) {
    skipSpace()
    guard i < s.count, s[i] == UInt8(ascii: "{") else {
      throw error(
        "expected '{' after '\(what)', e.g. \(example)", at: i, length: i < s.count ? 1 : 0)
    }
    let open = i
    i += 1
    while true {
      skipSpace()
      guard i < s.count else {
        throw error("'{' is not closed: add '}'", at: open, length: 1)
      }
      if s[i] == UInt8(ascii: "}") {
        i += 1
        return
      }
      try item(&self)
      skipSpace()
      guard i < s.count else {
        throw error("'{' is not closed: add '}'", at: open, length: 1)
      }
      if s[i] == UInt8(ascii: ",") {
        i += 1
        continue
      }
      guard i < s.count, s[i] == UInt8(ascii: "}") else {
        throw error(
          "expected ',' or '}' in \(what), e.g. \(example)", at: i, length: i < s.count ? 1 : 0)
      }
    }
  }

  mutating func colon(after what: String) throws(PacketLiteralError) {
    skipSpace()
    guard i < s.count, s[i] == UInt8(ascii: ":") else {
      throw error("expected ':' after \(what)", at: i, length: i < s.count ? 1 : 0)
    }
    i += 1
  }

  // MARK: scanning

  static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
  static func isHexLetter(_ c: UInt8) -> Bool { c | 0x20 >= 0x61 && c | 0x20 <= 0x66 }
  static func isHexDigit(_ c: UInt8) -> Bool { hexValue(c) != nil }

  static func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: return c - 0x30
    case 0x41...0x46: return c - 0x41 + 10
    case 0x61...0x66: return c - 0x61 + 10
    default: return nil
    }
  }

  mutating func skipSpace() {
    while i < s.count, Self.isSpace(s[i]) { i += 1 }
  }

  /// The longest run of `allowed` bytes at `i`, consumed.
  mutating func scan(_ allowed: (UInt8) -> Bool) -> String {
    let start = i
    while i < s.count, allowed(s[i]) { i += 1 }
    return String(decoding: s[start..<i], as: UTF8.self)
  }

  func error(_ message: String, at offset: Int, length: Int = 1) -> PacketLiteralError {
    let o = min(offset, s.count)
    return PacketLiteralError(message: message, offset: o, length: max(0, min(length, s.count - o)))
  }
}
