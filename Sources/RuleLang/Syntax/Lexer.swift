/// Turns rule source into tokens. Errors become diagnostics and `.invalid` tokens, so the parser can
/// go on and report more than the first mistake.
public struct Lexer {
  let source: SourceFile
  let s: [UInt8]
  var i = 0
  var line = 1
  var lineStart = 0
  var tokenStart = 0
  var tokenLine = 1
  var tokenColumn = 1
  /// The end of the last run of hex digits, ':' and '.' in which `lexIPv6` found no address: no
  /// token starting inside it is one either, so the run is not scanned again at every token
  /// (which made a long run such as `a:a:a:…` quadratic).
  var noAddressBefore = 0
  public private(set) var diagnostics = DiagnosticBag()

  public init(_ source: SourceFile) {
    self.source = source
    self.s = source.bytes
  }

  /// Every token of the source, ending with `.endOfFile`.
  public static func tokenize(_ source: SourceFile) -> (tokens: [Token], diagnostics: DiagnosticBag)
  {
    var lexer = Lexer(source)
    var tokens: [Token] = []
    while true {
      let t = lexer.next()
      tokens.append(t)
      if t.kind == .endOfFile { break }
    }
    return (tokens, lexer.diagnostics)
  }

  /// The token from `tokenStart` to the current position.
  func make(_ kind: TokenKind, _ value: TokenValue = .none) -> Token {
    Token(
      kind: kind, range: SourceRange(tokenStart, i), line: tokenLine, column: tokenColumn,
      value: value, text: String(decoding: s[tokenStart..<i], as: UTF8.self))
  }

  private func peek(_ k: Int = 0) -> UInt8 { i + k < s.count ? s[i + k] : 0 }

  public mutating func next() -> Token {
    skipTrivia()
    let start = i
    tokenStart = i
    tokenLine = line
    tokenColumn = i - lineStart + 1
    guard i < s.count else { return make(.endOfFile) }
    let c = s[i]

    if let (kind, value) = lexIPv6() { return make(kind, value) }
    if isDigit(c) { return lexNumber() }
    if c == UInt8(ascii: "x"), peek(1) == UInt8(ascii: "\"") { return lexBytes() }
    if isIdentStart(c) { return lexIdentifier() }
    if c == UInt8(ascii: "\"") { return lexString(quote: c) }
    if c == UInt8(ascii: "'") {
      let t = lexString(quote: c)
      let fixed =
        "\""
        + source.text(of: SourceRange(t.range.start + 1, max(t.range.start + 1, t.range.end - 1)))
        + "\""
      diagnostics.append(
        .error(
          "strings are written in double quotes", at: t.range,
          fixIts: [FixIt(range: t.range, replacement: fixed)]))
      return t
    }

    i += 1
    switch c {
    case UInt8(ascii: "("): return make(.leftParen)
    case UInt8(ascii: ")"): return make(.rightParen)
    case UInt8(ascii: "{"): return make(.leftBrace)
    case UInt8(ascii: "}"): return make(.rightBrace)
    case UInt8(ascii: "["): return make(.leftBracket)
    case UInt8(ascii: "]"): return make(.rightBracket)
    case UInt8(ascii: ","): return make(.comma)
    case UInt8(ascii: ":"): return make(.colon)
    case UInt8(ascii: "="):
      if peek() == UInt8(ascii: "=") {
        i += 1
        return make(.equal)
      }
      return make(.assign)
    case UInt8(ascii: "!"):
      if peek() == UInt8(ascii: "=") {
        i += 1
        return make(.notEqual)
      }
      return make(.bang)
    case UInt8(ascii: "<"):
      if peek() == UInt8(ascii: "=") {
        i += 1
        return make(.lessEqual)
      }
      return make(.less)
    case UInt8(ascii: ">"):
      if peek() == UInt8(ascii: "=") {
        i += 1
        return make(.greaterEqual)
      }
      return make(.greater)
    case UInt8(ascii: "&"):
      if peek() == UInt8(ascii: "&") {
        i += 1
        return make(.ampAmp)
      }
      return make(.ampersand)
    case UInt8(ascii: "|"):
      if peek() == UInt8(ascii: "|") {
        i += 1
        return make(.pipePipe)
      }
      diagnostics.error(
        "'|' is not an operator; write 'or' (or '||')", at: SourceRange(start, i),
        fixIts: [FixIt(range: SourceRange(start, i), replacement: "or")])
      return make(.pipePipe)
    case UInt8(ascii: "."):
      if peek() == UInt8(ascii: ".") {
        i += 1
        return make(.dotDot)
      }
      diagnostics.error("unexpected '.'", at: SourceRange(start, i))
      return make(.invalid)
    case UInt8(ascii: "-"):
      diagnostics.error(
        "there is no minus in rule expressions ('-' may only appear inside a name such as my-rule)",
        at: SourceRange(start, i))
      return make(.invalid)
    default:
      // Skip a whole UTF-8 sequence so one stray character is one error.
      while i < s.count, s[i] & 0xC0 == 0x80 { i += 1 }
      let shown = String(decoding: s[start..<i], as: UTF8.self)
      diagnostics.error("unexpected character '\(shown)'", at: SourceRange(start, i))
      return make(.invalid)
    }
  }

  private mutating func skipTrivia() {
    while i < s.count {
      let c = s[i]
      if c == UInt8(ascii: "\n") {
        i += 1
        line += 1
        lineStart = i
      } else if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") {
        i += 1
      } else if c == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "/") {
        while i < s.count, s[i] != UInt8(ascii: "\n") { i += 1 }
      } else if c == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "*") {
        let start = i
        i += 2
        var closed = false
        while i < s.count {
          if s[i] == UInt8(ascii: "*"), peek(1) == UInt8(ascii: "/") {
            i += 2
            closed = true
            break
          }
          if s[i] == UInt8(ascii: "\n") {
            line += 1
            lineStart = i + 1
          }
          i += 1
        }
        if !closed {
          diagnostics.error(
            "unterminated block comment: add '*/'", at: SourceRange(start, start + 2))
        }
      } else {
        return
      }
    }
  }

  private mutating func lexIdentifier() -> Token {
    let start = i
    i += 1
    while true {
      while i < s.count, isIdentContinue(s[i]) { i += 1 }
      // '-' and '.' join name parts (my-udp-endpoint, IP.src_addr), but '..' is a range.
      if i + 1 < s.count, s[i] == UInt8(ascii: "-") || s[i] == UInt8(ascii: "."),
        isIdentContinue(s[i + 1])
      {
        i += 1
        continue
      }
      break
    }
    let text = String(decoding: s[start..<i], as: UTF8.self)
    if let k = Keyword(rawValue: text) { return make(.keyword(k)) }
    return make(.identifier)
  }

  /// An IPv6 address or CIDR: a run of hex digits, ':' and '.' holding '::' or seven ':'.
  private mutating func lexIPv6() -> (TokenKind, TokenValue)? {
    let c = s[i]
    guard isHexDigit(c) || c == UInt8(ascii: ":"), i >= noAddressBefore else { return nil }
    var j = i
    var colons = 0
    var doubleColon = false
    while j < s.count {
      let b = s[j]
      if b == UInt8(ascii: ":") {
        colons += 1
        if j + 1 < s.count, s[j + 1] == UInt8(ascii: ":") { doubleColon = true }
      } else if b == UInt8(ascii: ".") {
        if j + 1 < s.count, s[j + 1] == UInt8(ascii: ".") { break }
      } else if !isHexDigit(b) {
        break
      }
      j += 1
    }
    // A name such as `abc` directly followed by letters is not an address.
    guard doubleColon || colons == 7, j >= s.count || !isIdentContinue(s[j]) else {
      noAddressBefore = j
      return nil
    }
    let start = i
    let text = String(decoding: s[i..<j], as: UTF8.self)
    i = j
    var withPrefix = text
    if peek() == UInt8(ascii: "/"), isDigit(peek(1)) {
      i += 1
      while i < s.count, isDigit(s[i]) { i += 1 }
      withPrefix = String(decoding: s[start..<i], as: UTF8.self)
      switch CIDR.parse(withPrefix) {
      case .success(let cidr): return (.cidr, .cidr(cidr))
      case .failure(let e):
        diagnostics.error("invalid CIDR '\(withPrefix)': \(e.message)", at: SourceRange(start, i))
        return (.invalid, .none)
      }
    }
    switch IPAddress.parse(text) {
    case .success(let ip): return (.ip, .ip(ip))
    case .failure(let e):
      diagnostics.error("invalid IPv6 address '\(text)': \(e.message)", at: SourceRange(start, i))
      return (.invalid, .none)
    }
  }

  private mutating func lexNumber() -> Token {
    let start = i
    if s[i] == UInt8(ascii: "0"), peek(1) == UInt8(ascii: "x") || peek(1) == UInt8(ascii: "X") {
      i += 2
      var value: UInt64 = 0
      var overflow = false
      var digits = 0
      while i < s.count, let d = hexValue(s[i]) {
        if value > (UInt64(Int64.max) >> 4) { overflow = true }
        value = value &<< 4 | UInt64(d)
        digits += 1
        i += 1
      }
      while i < s.count, isIdentContinue(s[i]) { i += 1 }
      let r = SourceRange(start, i)
      if digits == 0 || i - start != digits + 2 {
        diagnostics.error("invalid hexadecimal integer '\(source.text(of: r))'", at: r)
        return make(.invalid, .none)
      }
      if overflow || value > UInt64(Int64.max) {
        diagnostics.error("integer literal '\(source.text(of: r))' does not fit in 64 bits", at: r)
        return make(.invalid, .none)
      }
      return make(.integer, .integer(Int64(value)))
    }
    while i < s.count, isDigit(s[i]) { i += 1 }
    // IPv4 address or CIDR: digits and dots, but '..' starts a range.
    if peek() == UInt8(ascii: "."), isDigit(peek(1)) {
      while i < s.count,
        isDigit(s[i]) || (s[i] == UInt8(ascii: ".") && peek(1) != UInt8(ascii: "."))
      {
        i += 1
      }
      let addrText = String(decoding: s[start..<i], as: UTF8.self)
      if peek() == UInt8(ascii: "/"), isDigit(peek(1)) {
        i += 1
        while i < s.count, isDigit(s[i]) { i += 1 }
        let text = String(decoding: s[start..<i], as: UTF8.self)
        switch CIDR.parse(text) {
        case .success(let cidr): return make(.cidr, .cidr(cidr))
        case .failure(let e):
          diagnostics.error("invalid CIDR '\(text)': \(e.message)", at: SourceRange(start, i))
          return make(.invalid, .none)
        }
      }
      switch IPAddress.parse(addrText) {
      case .success(let ip): return make(.ip, .ip(ip))
      case .failure(let e):
        diagnostics.error(
          "invalid IPv4 address '\(addrText)': \(e.message)", at: SourceRange(start, i))
        return make(.invalid, .none)
      }
    }
    if i < s.count, isIdentStart(s[i]) { return lexDuration(from: start) }
    let text = String(decoding: s[start..<i], as: UTF8.self)
    guard let v = Int64(text) else {
      diagnostics.error(
        "integer literal '\(text)' does not fit in 64 bits (the largest is \(Int64.max))",
        at: SourceRange(start, i))
      return make(.invalid, .none)
    }
    return make(.integer, .integer(v))
  }

  /// `2s`, `500ms`, `1m30s`: digits and units, one after another.
  private mutating func lexDuration(from start: Int)
    -> Token
  {
    i = start
    var total: Int64 = 0
    var ok = true
    var problem = ""
    while i < s.count, isDigit(s[i]) {
      var n: Int64 = 0
      while i < s.count, isDigit(s[i]) {
        let (m, o1) = n.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(Int64(s[i] - 0x30))
        if o1 || o2 { ok = false }
        n = a
        i += 1
      }
      let unitStart = i
      while i < s.count, isIdentStart(s[i]) { i += 1 }
      let unit = String(decoding: s[unitStart..<i], as: UTF8.self)
      let scale: Int64
      switch unit {
      case "ns": scale = 1
      case "us", "µs": scale = 1_000
      case "ms": scale = 1_000_000
      case "s": scale = 1_000_000_000
      case "m": scale = 60_000_000_000
      case "h": scale = 3_600_000_000_000
      default:
        ok = false
        problem =
          unit.isEmpty
          ? "a duration needs a unit after every number"
          : "unknown duration unit '\(unit)'; use ns, us, ms, s, m or h"
        scale = 1
      }
      let (m, o1) = n.multipliedReportingOverflow(by: scale)
      let (sum, o2) = total.addingReportingOverflow(m)
      if o1 || o2, problem.isEmpty {
        ok = false
        problem = "duration is too long"
      }
      total = sum
    }
    while i < s.count, isIdentContinue(s[i]) { i += 1 }
    if !ok {
      let r = SourceRange(start, i)
      diagnostics.error(
        "invalid duration '\(source.text(of: r))': \(problem.isEmpty ? "number too large" : problem)",
        at: r)
      return make(.invalid, .none)
    }
    return make(.duration, .duration(total))
  }

  private mutating func lexString(quote: UInt8) -> Token {
    let start = i
    i += 1
    var bytes: [UInt8] = []
    var valid = true
    while true {
      guard i < s.count, s[i] != UInt8(ascii: "\n") else {
        diagnostics.error(
          "unterminated string: add a closing quote before the end of the line",
          at: SourceRange(start, i))
        return make(.invalid, .none)
      }
      let c = s[i]
      if c == quote {
        i += 1
        break
      }
      if c != UInt8(ascii: "\\") {
        bytes.append(c)
        i += 1
        continue
      }
      let escStart = i
      i += 1
      let e = peek()
      i += 1
      switch e {
      case UInt8(ascii: "n"): bytes.append(0x0A)
      case UInt8(ascii: "t"): bytes.append(0x09)
      case UInt8(ascii: "r"): bytes.append(0x0D)
      case UInt8(ascii: "0"): bytes.append(0)
      case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"): bytes.append(e)
      case UInt8(ascii: "x"):
        if let h = hexValue(peek()), let l = hexValue(peek(1)) {
          bytes.append(h << 4 | l)
          i += 2
        } else {
          diagnostics.error(
            "'\\x' must be followed by two hex digits", at: SourceRange(escStart, min(i, s.count)))
          valid = false
        }
      case UInt8(ascii: "u"):
        var scalar: UInt32 = 0
        var digits = 0
        var closed = false
        if peek() == UInt8(ascii: "{") {
          i += 1
          while i < s.count, let d = hexValue(s[i]), digits < 8 {
            scalar = scalar << 4 | UInt32(d)
            digits += 1
            i += 1
          }
          if peek() == UInt8(ascii: "}") {
            i += 1
            closed = true
          }
        }
        if closed, digits > 0, let u = Unicode.Scalar(scalar) {
          bytes.append(contentsOf: Array(String(Character(u)).utf8))
        } else {
          diagnostics.error(
            "invalid unicode escape: write \\u{1F600} with 1 to 8 hex digits",
            at: SourceRange(escStart, min(i, s.count)))
          valid = false
        }
      default:
        if e == UInt8(ascii: "\n") || e == 0 { i -= 1 }
        diagnostics.error(
          "invalid escape '\\\(e >= 0x20 && e < 0x7F ? String(UnicodeScalar(e)) : "")' in string; valid escapes are \\n \\t \\r \\0 \\\\ \\\" \\xHH \\u{H…}",
          at: SourceRange(escStart, min(i, s.count)))
        valid = false
      }
    }
    guard valid else { return make(.invalid, .none) }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      // `\xHH` is one byte, so "\x80" means the byte 0x80: a string that is not UTF-8 text is
      // a bytes literal (decoding it as text would silently make U+FFFD of it).
      return make(.bytes, .bytes(bytes))
    }
    return make(.string, .string(text))
  }

  /// `x"80 00 1f"`: pairs of hex digits, spaces between pairs allowed.
  private mutating func lexBytes() -> Token {
    let start = i
    i += 2
    var bytes: [UInt8] = []
    var pending: UInt8? = nil
    var pendingAt = 0
    // Held back until the closing quote: without it, the rest of the line is code, not digits.
    var problems = DiagnosticBag()
    while true {
      guard i < s.count, s[i] != UInt8(ascii: "\n") else {
        diagnostics.error(
          "unterminated byte string: add a closing '\"'", at: SourceRange(start, i))
        return make(.invalid, .none)
      }
      let c = s[i]
      if c == UInt8(ascii: "\"") {
        i += 1
        break
      }
      if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") {
        if pending != nil {
          problems.error(
            "odd number of hex digits in byte string: each byte is two digits, e.g. 0f",
            at: SourceRange(pendingAt, pendingAt + 1))
          pending = nil
        }
        i += 1
        continue
      }
      guard let d = hexValue(c) else {
        var end = i + 1
        while end < s.count, s[end] & 0xC0 == 0x80 { end += 1 }
        problems.error(
          "'\(String(decoding: s[i..<end], as: UTF8.self))' is not a hex digit; a byte string holds hex pairs such as x\"80 00 1f\"",
          at: SourceRange(i, end))
        // The pair it broke is reported with it.
        pending = nil
        i = end
        continue
      }
      if let p = pending {
        bytes.append(p << 4 | d)
        pending = nil
      } else {
        pending = d
        pendingAt = i
      }
      i += 1
    }
    if pending != nil {
      problems.error(
        "odd number of hex digits in byte string: each byte is two digits, e.g. 0f",
        at: SourceRange(pendingAt, pendingAt + 1))
    }
    guard problems.diagnostics.isEmpty else {
      diagnostics.append(contentsOf: problems)
      return make(.invalid, .none)
    }
    return make(.bytes, .bytes(bytes))
  }
}

@inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
@inline(__always) func isHexDigit(_ c: UInt8) -> Bool { hexValue(c) != nil }
@inline(__always) func isIdentStart(_ c: UInt8) -> Bool {
  (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt8(ascii: "_")
}
@inline(__always) func isIdentContinue(_ c: UInt8) -> Bool { isIdentStart(c) || isDigit(c) }
