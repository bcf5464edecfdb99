/// Warnings: what is legal but likely wrong.
extension Checker {
  mutating func lintConstant(_ e: Expr) {}

  /// The values a field or function can take, for spotting comparisons that can never hold.
  func valueBounds(_ e: Expr) -> (lo: Int64, hi: Int64, what: String)? {
    switch e.kind {
    case .paren(let x): return valueBounds(x)
    case .path(let segs):
      let names = segs.map(\.name)
      if names.count == 2, ["UDP", "TCP"].contains(names[0]), names[1].hasSuffix("_port") {
        return (0, 65535, "a port is 0 to 65535")
      }
      return nil
    case .index: return (0, 255, "a byte is 0 to 255")
    case .call(let n, _):
      switch n.text {
      case "u8": return (0, 255, "u8() is 0 to 255")
      case "u16": return (0, 65535, "u16() is 0 to 65535")
      case "u32": return (0, 4_294_967_295, "u32() is 0 to 4294967295")
      default: return nil
      }
    case .binary(.bitAnd, let a, let b, _):
      if case .int(let m)? = b.constant, m >= 0 { return (0, m, "'& \(m)' leaves 0 to \(m)") }
      if case .int(let m)? = a.constant, m >= 0 { return (0, m, "'\(m) &' leaves 0 to \(m)") }
      return nil
    default: return nil
    }
  }

  mutating func lintAlwaysFalse(_ e: Expr, _ op: BinaryOperator, _ l: Expr, _ r: Expr) {
    // HTTP methods are upper case on the wire.
    if case .path(let segs) = l.kind, segs.map(\.name) == ["HTTP", "method"] {
      var methods: [(String, Expr)] = []
      if op == .equal || op == .notEqual, case .string(let m)? = r.constant { methods = [(m, r)] }
      if op == .in, case .set(let xs) = r.kind {
        for x in xs { if case .string(let m)? = x.constant { methods.append((m, x)) } }
      }
      var warned = false
      for (m, x) in methods where m != m.uppercased() {
        let always = op == .notEqual ? ", so '!=' is always true" : ""
        diagnostics.warning(
          "HTTP methods are upper case: '\(m)' never matches\(always)", at: x.range,
          fixIts: x.constReference != nil
            ? [] : [FixIt(range: x.range, replacement: Value.string(m.uppercased()).description)])
        warned = true
      }
      if warned { return }
    }
    // A fixed-length slice compared with a constant of another length.
    if case .slice(_, _, let len) = l.kind, case .int(let n)? = len.constant {
      var k: Int? = nil
      if case .bytes(let b)? = r.constant { k = b.count }
      if let k, (op == .equal && k != n) || (op == .starts && k > n) {
        diagnostics.warning(
          "always false: the slice is \(n) bytes but the constant is \(k)", at: e.range)
        return
      }
    }
    guard let (lo, hi, what) = valueBounds(l) else { return }
    func outside(_ v: Value) -> Bool {
      if case .int(let x) = v { return x < lo || x > hi }
      return false
    }
    switch (op, r.constant) {
    case (.equal, let v?) where outside(v):
      diagnostics.warning("always false: \(what), so it is never \(v)", at: e.range)
    case (.notEqual, let v?) where outside(v):
      diagnostics.warning("always true: \(what), so it is never \(v)", at: e.range)
    case (.greater, .int(let x)?) where x >= hi, (.greaterEqual, .int(let x)?) where x > hi,
      (.less, .int(let x)?) where x <= lo, (.lessEqual, .int(let x)?) where x < lo:
      diagnostics.warning("always false: \(what)", at: e.range)
    case (.in, .set(let vs)?):
      let bad = vs.filter(outside)
      if !vs.isEmpty, bad.count == vs.count {
        diagnostics.warning("always false: \(what), and no element of the set is", at: e.range)
      } else if let first = bad.first {
        diagnostics.warning("\(first) in the set can never match: \(what)", at: r.range)
      }
    case (.in, .range(.int(let a), .int(let b))?) where b < lo || a > hi:
      diagnostics.warning("always false: \(what), outside \(a)..\(b)", at: e.range)
    default: break
    }
  }

  /// `IP.src_addr starts "10.0.1"` also matches 10.0.10.x and 10.0.100.x: text prefixes of
  /// addresses are only exact on octet boundaries.
  mutating func lintIPTextPrefix(_ e: Expr, _ op: BinaryOperator, _ l: Expr, _ r: Expr) {
    guard op == .starts, case .string(let s)? = r.constant, !s.contains(":") else { return }
    let lText = ExprPrinter.print(l)
    let parts = s.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    let trailingDot = s.hasSuffix(".")
    let groups = trailingDot ? Array(parts.dropLast()) : parts
    let octets = groups.map { g -> Int? in
      guard !g.isEmpty, g.count <= 3, g.allSatisfy(\.isASCII), g.allSatisfy(\.isNumber),
        let v = Int(g), v <= 255, g == String(v)
      else { return nil }
      return v
    }
    guard !s.isEmpty, groups.count <= 4, !octets.contains(nil), !(trailingDot && groups.count == 4)
    else {
      if s.isEmpty { return }
      diagnostics.warning(
        "always false: no IPv4 address's text starts with \(Value.string(s))", at: e.range)
      return
    }
    let values = octets.map { $0! }
    let last = values.last!
    // An octet can grow by more digits unless it is 0, has 3 digits, or is 26–99.
    let extendable = !trailingDot && last != 0 && last < 100 && !(last >= 26 && last <= 99)
    guard extendable else { return }
    if values.count == 4 {
      let addr = values.map(String.init).joined(separator: ".")
      diagnostics.warning(
        "\(Value.string(s)) is a text prefix, so it also matches \(addr)0–\(addr)9 and more; did you mean '\(lText) == \(addr)'?",
        at: e.range, fixIts: [FixIt(range: e.range, replacement: "\(lText) == \(addr)")])
      return
    }
    let padded = values + Array(repeating: 0, count: 4 - values.count)
    let cidr = "\(padded.map(String.init).joined(separator: "."))/\(8 * values.count)"
    let longer = (values.dropLast() + [last * 10]).map(String.init).joined(separator: ".")
    diagnostics.warning(
      "\(Value.string(s)) is not on an octet boundary: as text it also matches \(longer)… ; did you mean \(cidr)?",
      at: e.range, fixIts: [FixIt(range: e.range, replacement: "\(lText) in \(cidr)")])
  }

  /// A rule after one that matches everything it would match is never reached. Rule A shadows rule
  /// B when each of A's `and`-conditions is one of B's, or is an `or` one of whose alternatives is
  /// one of B's (no condition at all shadows everything).
  mutating func lintShadowedRules(_ list: RulelistDecl) {
    // Earlier rules are filed under the alternatives of one of their conditions (the rarest so
    // far, to keep the lists short): a rule can only be shadowed by one filed under one of its own
    // conditions. A shadowed rule is not filed, since what shadows it shadows everything it
    // would. Lookups are bounded, so a pathological file loses warnings rather than taking
    // quadratic time.
    var filed: [String: [Int]] = [:]
    var frequency: [String: Int] = [:]
    var clauseLists: [[Set<String>]] = []
    var rules: [Rule] = []
    var catchAll: Int? = nil
    var budget = 4_000_000
    for rule in list.rules {
      var conjuncts: Set<String> = []
      var clauses: [Set<String>] = []
      if let c = rule.condition, !(c.constant == .bool(true)) {
        if c.type.isError { continue }
        for e in ExprPrinter.conjuncts(c) {
          let text = ExprPrinter.print(e)
          conjuncts.insert(text)
          clauses.append(Set([text] + Self.alternatives(e).map(ExprPrinter.print)))
        }
      }
      var shadow = catchAll
      if shadow == nil {
        for c in conjuncts {
          for j in filed[c] ?? [] where shadow.map({ j < $0 }) ?? true {
            budget -= clauseLists[j].count
            if clauseLists[j].allSatisfy({ !$0.isDisjoint(with: conjuncts) }) { shadow = j }
          }
        }
        if budget < 0 { return }
      }
      if let j = shadow {
        let earlier = rules[j]
        let line = source.location(of: earlier.name.range.start).line
        let why =
          clauseLists[j].isEmpty
          ? "rule '\(earlier.name.text)' (line \(line)) matches every packet"
          : "rule '\(earlier.name.text)' (line \(line)) matches every packet this one would"
        diagnostics.append(
          .warning(
            "rule '\(rule.name.text)' is never reached: \(why)", at: rule.name.range,
            notes: [.init(message: "the earlier rule is here", range: earlier.headRange)]))
        if clauseLists[j].isEmpty { return }
        continue
      }
      let index = rules.count
      rules.append(rule)
      clauseLists.append(clauses)
      let weight = { (clause: Set<String>) in clause.reduce(0) { $0 + (frequency[$1] ?? 0) } }
      if let key = clauses.min(by: { (weight($0), $0.count) < (weight($1), $1.count) }) {
        for alternative in key { filed[alternative, default: []].append(index) }
      } else {
        catchAll = index
      }
      for c in conjuncts { frequency[c, default: 0] += 1 }
    }
  }

  /// The alternatives of an `or` (flattened through parentheses and nested `or`s); none for
  /// anything else.
  static func alternatives(_ e: Expr) -> [Expr] {
    switch e.kind {
    case .paren(let x): return alternatives(x)
    case .logical(.or, let xs):
      return xs.flatMap { x in
        let inner = alternatives(x)
        return inner.isEmpty ? [x] : inner
      }
    default: return []
    }
  }

  mutating func checkRegex(_ pattern: String, _ r: Expr) {
    do {
      _ = try RegexAutomaton.compile(pattern)
    } catch {
      var range = r.range
      // Point into the literal, where its escapes (`\\d` is the pattern's `\d`) allow.
      if case .syntax(let syntax) = error, case .string(let raw) = r.kind,
        let map = literalOffsets(r.range), map.count == raw.utf8.count + 1
      {
        let lo = map[min(syntax.offset, raw.utf8.count)]
        let hi = map[min(syntax.offset + max(1, syntax.length), raw.utf8.count)]
        range = SourceRange(lo, max(hi, lo + 1))
      }
      diagnostics.error("invalid regular expression: \(error.message)", at: range)
    }
  }

  /// For a string literal at `range`: the source offset of each byte of its value, then that of
  /// the closing quote. Nil when the range is not a plain `"…"` literal.
  func literalOffsets(_ range: SourceRange) -> [Int]? {
    let b = source.bytes
    guard range.length >= 2, range.end <= b.count, b[range.start] == UInt8(ascii: "\""),
      b[range.end - 1] == UInt8(ascii: "\"")
    else { return nil }
    var map: [Int] = []
    var i = range.start + 1
    while i < range.end - 1 {
      guard b[i] == UInt8(ascii: "\\"), i + 1 < range.end - 1 else {
        map.append(i)
        i += 1
        continue
      }
      var next = i + 2
      var count = 1
      switch b[i + 1] {
      case UInt8(ascii: "x"): next = i + 4
      case UInt8(ascii: "u"):
        // \u{…}: as many bytes as the scalar's UTF-8 encoding.
        guard let close = b[i..<(range.end - 1)].firstIndex(of: UInt8(ascii: "}")),
          let v = UInt32(String(decoding: b[(i + 3)..<close], as: UTF8.self), radix: 16),
          let u = Unicode.Scalar(v)
        else { return nil }
        next = close + 1
        count = String(Character(u)).utf8.count
      default: break
      }
      map.append(contentsOf: repeatElement(i, count: count))
      i = next
    }
    map.append(range.end - 1)
    return map
  }
}
