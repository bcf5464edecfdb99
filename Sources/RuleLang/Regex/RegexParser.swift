/// A mistake in a regular expression, found when the rule is compiled.
///
/// `offset` and `length` are in UTF-8 bytes of the pattern text (after the rule language's own
/// string escapes have been decoded).
public struct RegexSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
  public let message: String
  /// UTF-8 byte offset into the pattern.
  public let offset: Int
  /// Length in UTF-8 bytes of the offending part of the pattern (at least 1 when the pattern is
  /// not empty).
  public let length: Int

  public var description: String { "\(message) (pattern byte \(offset))" }
}

/// Parses a pattern (RE2 / POSIX-ERE subset, over the pattern's UTF-8 bytes) into a `RegexNode`.
///
/// Literals, `.`, classes `[...]` `[^...]` (with `[:alpha:]`-style POSIX classes), escapes
/// (`\d \w \s \D \W \S \xHH \n \r \t \f \v \a \0`, and `\` before any ASCII punctuation), anchors
/// `^ $ \A \z`, groups `(...)` `(?:...)` `(?<name>...)` `(?P<name>...)`, `|`, quantifiers
/// `* + ? {n} {n,} {n,m}` (a lazy `?` suffix is accepted and means the same), flags `(?i)` (ASCII
/// case-insensitive) and `(?s)` (`.` matches `\n`), also as `(?-i)` and `(?i:...)`. A non-ASCII
/// literal is the sequence of its UTF-8 bytes; `.` and negated classes match one byte.
struct RegexParser {
  /// The largest repeat count in `{n}`, `{n,}`, `{n,m}`.
  static let maxRepeatCount = 1000
  /// The largest number of automaton positions a pattern may expand to (repeats multiply).
  static let maxWeight = 20_000
  /// The deepest nesting of groups.
  static let maxDepth = 100

  private let p: [UInt8]
  private var pos = 0
  private var caseInsensitive = false
  private var dotMatchesNewline = false
  private var depth = 0

  private init(_ pattern: String) {
    p = Array(pattern.utf8)
  }

  static func parse(_ pattern: String) throws(RegexSyntaxError) -> RegexNode {
    var parser = RegexParser(pattern)
    let node = try parser.parseAlternation()
    if parser.pos < parser.p.count {
      // parseAlternation stops only at the end or at a ')' that closes no group.
      throw parser.error(
        "unmatched ')': remove it, or write \\) to match a literal ')'", at: parser.pos)
    }
    if node.weight > maxWeight {
      throw parser.error(
        "the pattern is too large (more than \(maxWeight) positions); shorten it",
        at: 0, length: parser.p.count)
    }
    return node
  }

  // MARK: - Structure

  private mutating func parseAlternation() throws(RegexSyntaxError) -> RegexNode {
    var branches = [try parseConcatenation()]
    while pos < p.count, p[pos] == UInt8(ascii: "|") {
      pos += 1
      branches.append(try parseConcatenation())
    }
    return branches.count == 1 ? branches[0] : .alternate(branches)
  }

  private mutating func parseConcatenation() throws(RegexSyntaxError) -> RegexNode {
    var items: [RegexNode] = []
    while pos < p.count, p[pos] != UInt8(ascii: "|"), p[pos] != UInt8(ascii: ")") {
      let atomStart = pos
      guard let (atom, repeatable) = try parseAtom() else { continue }  // a flag group like (?i)
      items.append(try parseQuantifiers(atom, repeatable: repeatable, atomStart: atomStart))
    }
    switch items.count {
    case 0: return .empty
    case 1: return items[0]
    default: return .concat(items)
    }
  }

  private mutating func parseQuantifiers(
    _ atom: RegexNode, repeatable: Bool, atomStart: Int
  ) throws(RegexSyntaxError) -> RegexNode {
    var node = atom
    var quantified = false
    while pos < p.count {
      let qStart = pos
      let min: Int
      let max: Int?
      switch p[pos] {
      case UInt8(ascii: "*"):
        (min, max) = (0, nil)
        pos += 1
      case UInt8(ascii: "+"):
        (min, max) = (1, nil)
        pos += 1
      case UInt8(ascii: "?"):
        (min, max) = (0, 1)
        pos += 1
      case UInt8(ascii: "{"): (min, max) = try parseBraces()
      default: return node
      }
      let q = text(qStart..<pos)
      if quantified {
        throw error(
          "'\(q)' follows another quantifier: wrap the repeated part in (?:...) to repeat it again",
          at: qStart, length: pos - qStart)
      }
      if !repeatable {
        throw error(
          "nothing to repeat before '\(q)': '\(text(atomStart..<qStart))' is an anchor, not a"
            + " character", at: qStart, length: pos - qStart)
      }
      if pos < p.count, p[pos] == UInt8(ascii: "?") {
        pos += 1  // lazy: only match / no match matters, so it is the same as greedy
      } else if pos < p.count, p[pos] == UInt8(ascii: "+") {
        throw error(
          "possessive quantifier '\(q)+' needs backtracking and is not supported: use '\(q)'",
          at: qStart, length: pos + 1 - qStart)
      }
      quantified = true
      node = .repetition(node, min: min, max: max)
      if node.weight > RegexParser.maxWeight {
        throw error(
          "repeat '\(q)' makes the pattern too large (more than \(RegexParser.maxWeight)"
            + " positions): use smaller repeat counts", at: qStart, length: q.utf8.count)
      }
    }
    return node
  }

  /// Parses `{n}`, `{n,}` or `{n,m}` at `pos`.
  private mutating func parseBraces() throws(RegexSyntaxError) -> (Int, Int?) {
    let start = pos
    pos += 1
    let invalid = error(
      "invalid repeat: expected {n}, {n,} or {n,m} after '{'; write \\{ to match a literal '{'",
      at: start)
    guard let min = parseNumber() else { throw invalid }
    var max: Int? = min
    if pos < p.count, p[pos] == UInt8(ascii: ",") {
      pos += 1
      max = parseNumber()
    }
    guard pos < p.count, p[pos] == UInt8(ascii: "}") else { throw invalid }
    pos += 1
    let written = text(start..<pos)
    for n in [min, max ?? 0] where n > RegexParser.maxRepeatCount {
      throw error(
        "repeat count in \(written) is larger than the limit of \(RegexParser.maxRepeatCount)",
        at: start, length: pos - start)
    }
    if let max, max < min {
      throw error(
        "invalid repeat \(written): the minimum is larger than the maximum", at: start,
        length: pos - start)
    }
    return (min, max)
  }

  private mutating func parseNumber() -> Int? {
    var n = 0
    let start = pos
    while pos < p.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p[pos]) {
      n = Swift.min(n * 10 + Int(p[pos] - UInt8(ascii: "0")), 1_000_000)
      pos += 1
    }
    return pos > start ? n : nil
  }

  // MARK: - Atoms

  /// Parses one atom; nil for a flag group such as `(?i)` that matches nothing itself.
  private mutating func parseAtom() throws(RegexSyntaxError) -> (RegexNode, Bool)? {
    let c = p[pos]
    switch c {
    case UInt8(ascii: "("):
      return try parseGroup()
    case UInt8(ascii: "["):
      return (try parseClass(), true)
    case UInt8(ascii: "."):
      pos += 1
      var set = RegexByteSet.all
      if !dotMatchesNewline { set = RegexByteSet(0x0A).inverted }
      return (.bytes(set), true)
    case UInt8(ascii: "^"):
      pos += 1
      return (.startOfInput, false)
    case UInt8(ascii: "$"):
      pos += 1
      return (.endOfInput, false)
    case UInt8(ascii: "\\"):
      switch try parseEscape(inClass: false) {
      case .byte(let b): return (literal(b), true)
      case .set(let s): return (.bytes(s), true)
      case .anchor(let a): return (a, false)
      }
    case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"):
      throw error(
        "nothing to repeat before '\(text(pos..<pos + 1))': put a character or group before it,"
          + " or escape it", at: pos)
    case UInt8(ascii: "{"):
      let start = pos
      _ = try parseBraces()
      throw error(
        "nothing to repeat before '\(text(start..<pos))': put a character or group before it",
        at: start, length: pos - start)
    case 0x80...:
      let seq = multibyteCharacter()
      return (.concat(seq.map { .bytes(RegexByteSet($0)) }), true)
    default:
      pos += 1
      return (literal(c), true)
    }
  }

  private func literal(_ b: UInt8) -> RegexNode {
    caseInsensitive ? .bytes(RegexByteSet(b).caseFolded) : .bytes(RegexByteSet(b))
  }

  /// The bytes of the UTF-8 character starting at `pos` (a lead byte ≥ 0x80).
  private mutating func multibyteCharacter() -> [UInt8] {
    let lead = p[pos]
    let count = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
    let end = Swift.min(pos + count, p.count)
    defer { pos = end }
    return Array(p[pos..<end])
  }

  private mutating func parseGroup() throws(RegexSyntaxError) -> (RegexNode, Bool)? {
    let open = pos
    pos += 1
    var scopedFlags: (Bool, Bool)? = nil
    if pos < p.count, p[pos] == UInt8(ascii: "?") {
      pos += 1
      let next = pos < p.count ? p[pos] : 0
      let after = pos + 1 < p.count ? p[pos + 1] : 0
      switch (next, after) {
      case (UInt8(ascii: ":"), _):
        pos += 1
      case (UInt8(ascii: "="), _), (UInt8(ascii: "!"), _):
        throw error(
          "lookahead '\(text(open..<pos + 1))' needs backtracking and is not supported",
          at: open, length: pos + 1 - open)
      case (UInt8(ascii: "<"), UInt8(ascii: "=")), (UInt8(ascii: "<"), UInt8(ascii: "!")):
        throw error(
          "lookbehind '\(text(open..<pos + 2))' needs backtracking and is not supported",
          at: open, length: pos + 2 - open)
      case (UInt8(ascii: ">"), _):
        throw error(
          "atomic group '(?>' needs backtracking and is not supported: use '(?:'", at: open,
          length: 3)
      case (UInt8(ascii: "P"), UInt8(ascii: "=")), (UInt8(ascii: "P"), UInt8(ascii: ">")):
        throw error(
          "'\(text(open..<pos + 2))' (named backreference or recursion) needs backtracking and"
            + " is not supported", at: open, length: pos + 2 - open)
      case (UInt8(ascii: "<"), _), (UInt8(ascii: "P"), UInt8(ascii: "<")):
        try skipGroupName(open: open)
      default:
        scopedFlags = try parseFlags(open: open)
        if scopedFlags == nil { return nil }
      }
    }
    depth += 1
    if depth > RegexParser.maxDepth {
      throw error(
        "groups are nested too deeply (more than \(RegexParser.maxDepth) levels)", at: open)
    }
    let saved = (caseInsensitive, dotMatchesNewline)
    if let scopedFlags { (caseInsensitive, dotMatchesNewline) = scopedFlags }
    let inner = try parseAlternation()
    guard pos < p.count, p[pos] == UInt8(ascii: ")") else {
      throw error("missing ')': the group opened here is never closed", at: open)
    }
    pos += 1
    (caseInsensitive, dotMatchesNewline) = saved
    depth -= 1
    return (inner, true)
  }

  /// Skips `<name>` or `P<name>` of a named group (accepted as a plain group).
  private mutating func skipGroupName(open: Int) throws(RegexSyntaxError) {
    if p[pos] == UInt8(ascii: "P") { pos += 1 }
    pos += 1  // '<'
    let nameStart = pos
    while pos < p.count, Self.isWordByte(p[pos]) { pos += 1 }
    guard pos > nameStart, pos < p.count, p[pos] == UInt8(ascii: ">") else {
      throw error(
        "invalid group name: write (?<name>...) with letters, digits and '_' in the name",
        at: open, length: Swift.min(pos + 1, p.count) - open)
    }
    pos += 1
  }

  /// Parses flags after `(?`: `i`, `s`, `-i`, …, ended by `)` (returns nil after setting the
  /// flags for the rest of the enclosing group) or `:` (returns the flags for the new group).
  private mutating func parseFlags(open: Int) throws(RegexSyntaxError) -> (Bool, Bool)? {
    var flags = (caseInsensitive, dotMatchesNewline)
    var negate = false
    var sawFlag = false
    while pos < p.count {
      let c = p[pos]
      switch c {
      case UInt8(ascii: "i"):
        flags.0 = !negate
        sawFlag = true
      case UInt8(ascii: "s"):
        flags.1 = !negate
        sawFlag = true
      case UInt8(ascii: "-") where !negate:
        negate = true
      case UInt8(ascii: ")") where sawFlag:
        pos += 1
        (caseInsensitive, dotMatchesNewline) = flags
        return nil
      case UInt8(ascii: ":") where sawFlag:
        pos += 1
        return flags
      case UInt8(ascii: "m"):
        throw error(
          "multi-line mode (?m) is not supported: '^' and '$' match only at the start and end of"
            + " the input", at: pos)
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
        throw error(
          "unsupported flag '\(text(pos..<pos + 1))': only (?i) (ASCII case-insensitive) and (?s)"
            + " ('.' matches newline) are supported", at: pos)
      default:
        throw unknownGroup(open: open)
      }
      pos += 1
    }
    throw unknownGroup(open: open)
  }

  private func unknownGroup(open: Int) -> RegexSyntaxError {
    let end = Swift.min(pos + 1, p.count)
    return error(
      "unknown group syntax '\(text(open..<end))': expected (...), (?:...), (?<name>...), (?i)"
        + " or (?i:...)", at: open, length: end - open)
  }

  private static func isWordByte(_ c: UInt8) -> Bool { RegexByteSet.word.contains(c) }

  // MARK: - Escapes

  private enum Escape {
    case byte(UInt8)
    case set(RegexByteSet)
    case anchor(RegexNode)
  }

  /// Parses an escape at `pos` (a backslash).
  private mutating func parseEscape(inClass: Bool) throws(RegexSyntaxError) -> Escape {
    let start = pos
    pos += 1
    guard pos < p.count else {
      throw error("trailing backslash: write \\\\ to match a backslash", at: start)
    }
    let e = p[pos]
    pos += 1
    let written = text(start..<pos)
    switch e {
    case UInt8(ascii: "d"): return .set(.digit)
    case UInt8(ascii: "D"): return .set(RegexByteSet.digit.inverted)
    case UInt8(ascii: "w"): return .set(.word)
    case UInt8(ascii: "W"): return .set(RegexByteSet.word.inverted)
    case UInt8(ascii: "s"): return .set(.space)
    case UInt8(ascii: "S"): return .set(RegexByteSet.space.inverted)
    case UInt8(ascii: "n"): return .byte(0x0A)
    case UInt8(ascii: "r"): return .byte(0x0D)
    case UInt8(ascii: "t"): return .byte(0x09)
    case UInt8(ascii: "f"): return .byte(0x0C)
    case UInt8(ascii: "v"): return .byte(0x0B)
    case UInt8(ascii: "a"): return .byte(0x07)
    case UInt8(ascii: "0"):
      if pos < p.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p[pos]) {
        throw error(
          "octal escapes are not supported: write a byte as \\xHH", at: start, length: 3)
      }
      return .byte(0)
    case UInt8(ascii: "x"):
      guard pos + 1 < p.count, let hi = Self.hexDigit(p[pos]), let lo = Self.hexDigit(p[pos + 1])
      else {
        throw error(
          "\\x must be followed by exactly two hex digits, e.g. \\x41", at: start, length: 2)
      }
      pos += 2
      return .byte(hi << 4 | lo)
    case UInt8(ascii: "A"), UInt8(ascii: "z"):
      if inClass {
        throw error(
          "the anchor \(written) cannot be used inside a character class", at: start, length: 2)
      }
      return .anchor(e == UInt8(ascii: "A") ? .startOfInput : .endOfInput)
    case UInt8(ascii: "b"), UInt8(ascii: "B"):
      throw error(
        inClass
          ? "\(written) is not supported inside a character class: write \\x08 for a backspace"
          : "word boundary \(written) is not supported", at: start, length: 2)
    case UInt8(ascii: "1")...UInt8(ascii: "9"):
      throw error(
        "backreference \(written) needs backtracking and is not supported", at: start, length: 2)
    case UInt8(ascii: "k"):
      throw error(
        "named backreference \\k needs backtracking and is not supported", at: start, length: 2)
    case UInt8(ascii: "p"), UInt8(ascii: "P"):
      throw error(
        "Unicode classes (\(written){...}) are not supported: use a byte class like [a-z]",
        at: start, length: 2)
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      0x80...:
      pos = start + 1
      let character = e >= 0x80 ? multibyteCharacter() : [e]
      if e < 0x80 { pos += 1 }
      let shown = String(decoding: character, as: UTF8.self)
      throw error(
        "unknown escape \\\(shown): remove the backslash to match '\(shown)'", at: start,
        length: pos - start)
    default:
      // Any other ASCII punctuation, space or control byte stands for itself: \. \\ \/ \- \[ …
      return .byte(e)
    }
  }

  private static func hexDigit(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
  }

  // MARK: - Character classes

  private enum ClassItem {
    case byte(UInt8)
    case set(RegexByteSet)
    case character([UInt8])
  }

  private mutating func parseClass() throws(RegexSyntaxError) -> RegexNode {
    let open = pos
    pos += 1
    var negated = false
    if pos < p.count, p[pos] == UInt8(ascii: "^") {
      negated = true
      pos += 1
    }
    var set = RegexByteSet()
    var characters: [[UInt8]] = []
    var first = true
    while true {
      guard pos < p.count else {
        throw error("unterminated character class: add ']'", at: open)
      }
      if p[pos] == UInt8(ascii: "]"), !first {
        pos += 1
        break
      }
      first = false
      let itemStart = pos
      if let posix = try parsePosixClass() {
        set.formUnion(posix)
        continue
      }
      let item = try parseClassItem()
      let isRange =
        pos + 1 < p.count && p[pos] == UInt8(ascii: "-") && p[pos + 1] != UInt8(ascii: "]")
      switch item {
      case .byte(let lo) where isRange:
        pos += 1
        let hiStart = pos
        let hi = try parseClassItem()
        let written = text(itemStart..<pos)
        switch hi {
        case .byte(let hi):
          guard lo <= hi else {
            throw error(
              "invalid range \(written) in character class: the start comes after the end",
              at: itemStart, length: pos - itemStart)
          }
          set.insert(lo...hi)
        case .set:
          throw error(
            "invalid range \(written) in character class: '\(text(hiStart..<pos))' cannot end a"
              + " range; put '-' first or last to match it literally", at: itemStart,
            length: pos - itemStart)
        case .character:
          throw error(
            "invalid range \(written) in character class: ranges of non-ASCII characters are not"
              + " supported (classes match single bytes)", at: itemStart, length: pos - itemStart)
        }
      case .byte(let b):
        set.insert(b)
      case .set(let s):
        if isRange {
          throw error(
            "invalid range in character class: '\(text(itemStart..<pos))' cannot start a range;"
              + " put '-' first or last to match it literally", at: itemStart,
            length: pos + 1 - itemStart)
        }
        set.formUnion(s)
      case .character(let c):
        if isRange {
          throw error(
            "invalid range in character class: ranges of non-ASCII characters are not supported"
              + " (classes match single bytes)", at: itemStart, length: pos + 1 - itemStart)
        }
        if negated {
          throw error(
            "non-ASCII character '\(text(itemStart..<pos))' in a negated character class is not"
              + " supported (classes match single bytes)", at: itemStart, length: pos - itemStart)
        }
        if !characters.contains(c) { characters.append(c) }
      }
    }
    if caseInsensitive { set = set.caseFolded }
    if negated { set = set.inverted }
    if characters.isEmpty { return .bytes(set) }
    let sequences = characters.map { RegexNode.concat($0.map { .bytes(RegexByteSet($0)) }) }
    return .alternate(set.isEmpty ? sequences : [.bytes(set)] + sequences)
  }

  private mutating func parseClassItem() throws(RegexSyntaxError) -> ClassItem {
    let c = p[pos]
    if c == UInt8(ascii: "\\") {
      switch try parseEscape(inClass: true) {
      case .byte(let b): return .byte(b)
      case .set(let s): return .set(s)
      case .anchor: preconditionFailure("parseEscape(inClass: true) returns no anchors")
      }
    }
    if c >= 0x80 { return .character(multibyteCharacter()) }
    pos += 1
    return .byte(c)
  }

  private static let posixClasses: [String: RegexByteSet] = {
    func set(_ ranges: [ClosedRange<UInt8>]) -> RegexByteSet {
      var s = RegexByteSet()
      for r in ranges { s.insert(r) }
      return s
    }
    let (a, z, bigA, bigZ, d0, d9) = (
      UInt8(ascii: "a"), UInt8(ascii: "z"), UInt8(ascii: "A"), UInt8(ascii: "Z"),
      UInt8(ascii: "0"), UInt8(ascii: "9")
    )
    return [
      "alnum": set([d0...d9, a...z, bigA...bigZ]), "alpha": set([a...z, bigA...bigZ]),
      "ascii": set([0...0x7F]), "blank": set([0x09...0x09, 0x20...0x20]),
      "cntrl": set([0...0x1F, 0x7F...0x7F]), "digit": .digit, "graph": set([0x21...0x7E]),
      "lower": set([a...z]), "print": set([0x20...0x7E]),
      "punct": set([0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E]), "space": .space,
      "upper": set([bigA...bigZ]), "word": .word,
      "xdigit": set([d0...d9, a...UInt8(ascii: "f"), bigA...UInt8(ascii: "F")]),
    ]
  }()

  /// Parses `[:name:]` or `[:^name:]` inside a class; nil (consuming nothing) if there is none.
  private mutating func parsePosixClass() throws(RegexSyntaxError) -> RegexByteSet? {
    guard pos + 1 < p.count, p[pos] == UInt8(ascii: "["), p[pos + 1] == UInt8(ascii: ":") else {
      return nil
    }
    var end = pos + 2
    while end + 1 < p.count, !(p[end] == UInt8(ascii: ":") && p[end + 1] == UInt8(ascii: "]")) {
      if p[end] == UInt8(ascii: "]") { return nil }
      end += 1
    }
    guard end + 1 < p.count else { return nil }
    var nameStart = pos + 2
    let negated = p[nameStart] == UInt8(ascii: "^")
    if negated { nameStart += 1 }
    let name = text(nameStart..<end)
    guard let set = Self.posixClasses[name] else {
      throw error(
        "unknown POSIX class [:\(name):]; known: "
          + Self.posixClasses.keys.sorted().joined(separator: ", "), at: pos,
        length: end + 2 - pos)
    }
    pos = end + 2
    return negated ? set.inverted : set
  }

  // MARK: - Helpers

  private func text(_ range: Range<Int>) -> String {
    String(
      decoding: p[Swift.max(0, range.lowerBound)..<Swift.min(range.upperBound, p.count)],
      as: UTF8.self)
  }

  private func error(_ message: String, at offset: Int, length: Int = 1) -> RegexSyntaxError {
    RegexSyntaxError(message: message, offset: offset, length: length)
  }
}
