import RuleLang

/// The rule language's meaning, written as plainly as possible: a walk over the checked syntax
/// tree of a rule file for one packet, with Swift arrays and values and no cleverness. It is the
/// executable specification the compiler and the VM are tested against (Tests/VMTests), and the
/// baseline the VM is benchmarked against. It is slow on purpose; do not optimize it.
///
/// The semantics, in one place:
/// - Rules are tried in order; the first whose condition holds runs its actions: its `set`s, then
///   `route` or `drop` (it is the verdict) or `apply L` (evaluation continues with the first rule
///   of rulelist `L`; what no rule of `L` matches is dropped).
/// - A comparison with a missing value is false: an absent field or header, a byte or slice past
///   the end, a label of another kind than the comparison needs. `!=` too. `not`, `and`, `or` are
///   plain two-valued logic over those results.
/// - Values are ints (64-bit; `bool` is 1 or 0, `duration` is nanoseconds), byte strings (a
///   string is its UTF-8 bytes), and addresses (IPv4 held IPv4-mapped, so a range or a CIDR is an
///   interval of the 128-bit space and a v4 CIDR never holds a real v6 address).
/// - A dynamic value (`labels.x`) takes the kind the other operand needs; as a condition on its
///   own, it holds when it is a non-zero int.
/// - `set P = v` records `(P, v)` unless `v` is missing; later reads of `P` in the same evaluation
///   see the latest value. Header names fold to lower case. A string field (`HTTP.…`) set to an
///   int or an address reads back as its text.
/// - `IP.x starts "10.0.1"` compares the dotted text of an IPv4 address; an IPv6 address never
///   matches a text prefix. `lower` folds ASCII letters only. `matches` searches anywhere.
public enum ReferenceEvaluator {
  public static func evaluate(_ checked: CheckedFile, rulelist: String, packet: OwnedPacket)
    -> (
      rule: (rulelist: String, name: String)?,
      rewrites: [(path: String, value: OwnedPacket.Value)]
    )
  {
    let run = ReferenceRun(packet: packet)
    var lists: [String: RulelistDecl] = [:]
    for l in checked.file.rulelists where lists[l.name.text] == nil { lists[l.name.text] = l }
    var current = rulelist
    var applies = 0
    // `apply` cannot loop (the checker refuses cycles); the count is a second guard.
    while let list = lists[current], applies <= lists.count {
      var next: String? = nil
      rules: for rule in list.rules {
        if let condition = rule.condition, !run.holds(condition) { continue }
        for action in rule.actions {
          switch action {
          case .set(let target, let value, _): run.set(target, value)
          case .route, .drop: return ((current, rule.name.text), run.rewrites)
          case .apply(let name, _):
            next = name.text
            break rules
          }
        }
      }
      guard let next else { break }
      current = next
      applies += 1
    }
    return (nil, run.rewrites)
  }
}

/// One evaluation: the packet, the rewrites so far, compiled patterns.
final class ReferenceRun {
  typealias V = OwnedPacket.Value
  enum Kind { case int, bytes, ip }

  let packet: OwnedPacket
  var rewrites: [(path: String, value: V)] = []
  var automata: [String: RegexAutomaton?] = [:]

  init(packet: OwnedPacket) { self.packet = packet }

  // MARK: conditions

  func holds(_ e: Expr) -> Bool {
    if case .bool(let b)? = e.constant { return b }
    switch e.kind {
    case .paren(let x): return holds(x)
    case .not(let x): return !holds(x)
    case .logical(.and, let xs):
      for x in xs where !holds(x) { return false }
      return true
    case .logical(.or, let xs):
      for x in xs where holds(x) { return true }
      return false
    case .binary(let op, let l, let r, _) where op != .bitAnd: return compare(op, l, r)
    case .call(let name, let args) where name.text == "defined": return value(args[0]) != nil
    default:
      if case .int(let x)? = value(e) { return x != 0 }
      return false
    }
  }

  func compare(_ op: BinaryOperator, _ l: Expr, _ r: Expr) -> Bool {
    // Text tests on an address: its dotted text (IPv4 only).
    if op == .starts || op == .ends || op == .contains, l.type.unwrapped == .ip {
      guard case .ip(let a)? = value(l), case .string(let s)? = r.constant, a.isV4 else {
        return false
      }
      return textTest(op, Array(a.description.utf8), Array(s.utf8))
    }
    let kind: Kind?
    switch op {
    case .starts, .ends, .contains, .matches: kind = .bytes
    default: kind = Self.kind(l.type) ?? Self.kind(r.type)
    }
    if op == .in {
      guard let x = typed(value(l), kind), let set = r.constant else { return false }
      return member(x, set)
    }
    if op == .matches {
      guard case .bytes(let b)? = value(l), case .string(let pattern)? = r.constant else {
        return false
      }
      // The checker accepted the pattern; one that cannot be built would match nothing.
      return automaton(pattern)?.matches(b) ?? false
    }
    guard let a = typed(value(l), kind), let b = typed(value(r), kind) else { return false }
    switch (op, a, b) {
    case (.equal, _, _): return a == b
    case (.notEqual, _, _): return a != b
    case (.less, .int(let x), .int(let y)): return x < y
    case (.lessEqual, .int(let x), .int(let y)): return x <= y
    case (.greater, .int(let x), .int(let y)): return x > y
    case (.greaterEqual, .int(let x), .int(let y)): return x >= y
    case (.starts, .bytes(let x), .bytes(let y)), (.ends, .bytes(let x), .bytes(let y)),
      (.contains, .bytes(let x), .bytes(let y)):
      return textTest(op, x, y)
    default: return false
    }
  }

  func textTest(_ op: BinaryOperator, _ x: [UInt8], _ y: [UInt8]) -> Bool {
    switch op {
    case .starts: return x.starts(with: y)
    case .ends: return x.count >= y.count && Array(x.suffix(y.count)) == y
    default:
      if y.isEmpty { return true }
      if y.count > x.count { return false }
      for start in 0...(x.count - y.count) where Array(x[start..<(start + y.count)]) == y {
        return true
      }
      return false
    }
  }

  /// `x in S`: a set (any element equal, or a CIDR holding it), a range, a CIDR.
  func member(_ x: V, _ s: Value) -> Bool {
    switch s {
    case .set(let elements): return elements.contains { member(x, $0) }
    case .range(let lo, let hi):
      switch (x, scalar(lo), scalar(hi)) {
      case (.int(let v), .int(let a)?, .int(let b)?): return a <= v && v <= b
      case (.ip(let v), .ip(let a)?, .ip(let b)?): return a <= v && v <= b
      default: return false
      }
    case .cidr(let c):
      guard case .ip(let a) = x else { return false }
      return contains(c, a)
    default: return scalar(s) == x
    }
  }

  /// Over the 128-bit space: an IPv4 block `a.b.c.d/n` is `::ffff:a.b.c.d/(96+n)`.
  func contains(_ c: CIDR, _ a: IPAddress) -> Bool {
    let bits = (c.network.isV4 ? 96 : 0) + c.prefixLength
    func top(_ x: IPAddress) -> (UInt64, UInt64) {
      let hi = bits >= 64 ? x.high : bits == 0 ? 0 : (x.high >> (64 - bits)) << (64 - bits)
      let lo = bits <= 64 ? 0 : bits == 128 ? x.low : (x.low >> (128 - bits)) << (128 - bits)
      return (hi, lo)
    }
    return top(a) == top(c.network)
  }

  func automaton(_ pattern: String) -> RegexAutomaton? {
    if let a = automata[pattern] { return a }
    let a = try? RegexAutomaton.compile(pattern)
    automata[pattern] = a
    return a
  }

  // MARK: values

  /// What a comparison of this static type works on; nil for dynamic values.
  static func kind(_ t: RuleType) -> Kind? {
    switch t.unwrapped {
    case .int, .duration, .bool: return .int
    case .string, .bytes: return .bytes
    case .ip, .cidr: return .ip
    case .set(let e), .range(let e): return kind(e)
    default: return nil
    }
  }

  /// The value if it is of the kind wanted (any kind when nothing is wanted).
  func typed(_ v: V?, _ kind: Kind?) -> V? {
    guard let v, let kind else { return v }
    switch (v, kind) {
    case (.int, .int), (.bytes, .bytes), (.ip, .ip): return v
    default: return nil
    }
  }

  /// A constant as a run-time value; sets, ranges and CIDRs are not values.
  func scalar(_ c: Value) -> V? {
    switch c {
    case .bool(let b): return .int(b ? 1 : 0)
    case .int(let x), .duration(let x): return .int(x)
    case .string(let s): return .bytes(Array(s.utf8))
    case .bytes(let b): return .bytes(b)
    case .ip(let a): return .ip(a)
    case .cidr, .set, .range: return nil
    }
  }

  func value(_ e: Expr) -> V? {
    if let c = e.constant { return scalar(c) }
    switch e.kind {
    case .paren(let x): return value(x)
    case .path(let segments): return field(segments.map(\.name))
    case .index(let base, let index):
      guard case .bytes(let b)? = value(base), case .int(let k)? = value(index), k >= 0,
        k < Int64(b.count)
      else { return nil }
      return .int(Int64(b[Int(k)]))
    case .slice(let base, let offset, let length):
      guard case .bytes(let b)? = value(base), case .int(let o)? = value(offset),
        case .int(let n)? = value(length), o >= 0, n >= 0, o <= Int64(b.count),
        n <= Int64(b.count) - o
      else { return nil }
      return .bytes(Array(b[Int(o)..<Int(o + n)]))
    case .call(let name, let args):
      switch name.text {
      case "len":
        guard case .bytes(let b)? = value(args[0]) else { return nil }
        return .int(Int64(b.count))
      case "lower":
        guard case .bytes(let b)? = value(args[0]) else { return nil }
        return .bytes(b.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 })
      case "u8", "u16", "u32":
        let width = name.text == "u8" ? 1 : name.text == "u16" ? 2 : 4
        guard case .bytes(let b)? = value(args[0]), case .int(let o)? = value(args[1]), o >= 0,
          o <= Int64(b.count - width)
        else { return nil }
        var v: Int64 = 0
        for k in 0..<width { v = v << 8 | Int64(b[Int(o) + k]) }
        return .int(v)
      default:
        // defined(): a bool, as a value 1 or 0.
        return .int(holds(e) ? 1 : 0)
      }
    case .binary(.bitAnd, let l, let r, _):
      guard case .int(let a)? = value(l), case .int(let b)? = value(r) else { return nil }
      return .int(a & b)
    case .binary, .not, .logical:
      return .int(holds(e) ? 1 : 0)
    default:
      return nil
    }
  }

  // MARK: metadata

  /// The path `set` writes and reads back: header names in lower case.
  static func canonicalPath(_ names: [String]) -> String {
    var names = names
    if names.count == 3, names[0] == "HTTP", names[1] == "headers" {
      names[2] = asciiLowercased(names[2])
    }
    return names.joined(separator: ".")
  }

  static func asciiLowercased(_ s: String) -> String {
    String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
  }

  /// A metadata field: this evaluation's latest `set` of it, else the packet's.
  func field(_ names: [String]) -> V? {
    let path = Self.canonicalPath(names)
    if let latest = rewrites.last(where: { $0.path == path }) {
      if names.first == "HTTP" {
        // String fields hold text.
        switch latest.value {
        case .int(let x): return .bytes(Array(String(x).utf8))
        case .ip(let a): return .bytes(Array(a.description.utf8))
        case .bytes: break
        }
      }
      return latest.value
    }
    func text(_ s: String?) -> V? { s.map { .bytes(Array($0.utf8)) } }
    switch names {
    case ["IP", "src_addr"]: return packet.srcAddr.map { .ip($0) }
    case ["IP", "dst_addr"]: return packet.dstAddr.map { .ip($0) }
    case ["UDP", "src_port"], ["TCP", "src_port"]: return packet.srcPort.map { .int(Int64($0)) }
    case ["UDP", "dst_port"], ["TCP", "dst_port"]: return packet.dstPort.map { .int(Int64($0)) }
    case ["payload"]: return packet.payload.map { .bytes($0) }
    case ["HTTP", "method"]: return text(packet.httpMethod)
    case ["HTTP", "url", "path"]: return text(packet.httpPath)
    case ["HTTP", "url", "query"]: return text(packet.httpQuery)
    case ["HTTP", "url", "host"]: return text(packet.httpHost)
    case ["UNIX", "filename"]: return text(packet.unixFilename)
    default: break
    }
    if names.count == 3, names[0] == "HTTP", names[1] == "headers" {
      let name = Self.asciiLowercased(names[2])
      return text(packet.headers.first { Self.asciiLowercased($0.name) == name }?.value)
    }
    if names.count == 2, names[0] == "labels" {
      return packet.labels.first { $0.name == names[1] }?.value
    }
    if names.first == "JSONSocket" {
      return packet.labels.first { $0.name == path }?.value
    }
    return nil
  }

  /// `set P = v`: recorded unless `v` is missing.
  func set(_ target: Expr, _ value: Expr) {
    var t = target
    while case .paren(let x) = t.kind { t = x }
    guard case .path(let segments) = t.kind, let v = self.value(value) else { return }
    rewrites.append((Self.canonicalPath(segments.map(\.name)), v))
  }
}
