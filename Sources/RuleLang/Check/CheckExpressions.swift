/// Typing of expressions. Literals take their type from the other side of an operator (a string
/// beside an `ip` is parsed as an address; beside `bytes`, it is its UTF-8 bytes): see `coerce`.
extension Checker {
  @discardableResult
  mutating func infer(_ e: Expr) -> RuleType {
    let t = inferUncached(e)
    e.type = t
    return t
  }

  private mutating func inferUncached(_ e: Expr) -> RuleType {
    switch e.kind {
    case .error: return .error
    case .integer(let v):
      e.constant = .int(v)
      return .int
    case .string(let s):
      e.constant = .string(s)
      return .string
    case .bytes(let b):
      e.constant = .bytes(b)
      return .bytes
    case .ip(let a):
      e.constant = .ip(a)
      return .ip
    case .cidr(let c):
      e.constant = .cidr(c)
      if c.hadHostBits {
        diagnostics.warning(
          "'\(source.text(of: e.range))' has bits set after the /\(c.prefixLength) prefix; it means \(c)",
          at: e.range, fixIts: [FixIt(range: e.range, replacement: c.description)])
      }
      return .cidr
    case .duration(let d):
      e.constant = .duration(d)
      return .duration
    case .bool(let b):
      e.constant = .bool(b)
      return .bool
    case .paren(let x):
      let t = infer(x)
      e.constant = x.constant
      return t
    case .set(let elements): return inferSet(e, elements)
    case .range(let lo, let hi): return inferRange(e, lo, hi)
    case .path(let segs): return inferPath(e, segs)
    case .index(let base, let index):
      let bt = infer(base)
      let it = infer(index)
      if bt.isError || it.isError { return .error }
      guard bt.unwrapped == .bytes || bt.unwrapped == .dynamic else {
        diagnostics.error(
          "only bytes can be indexed, but '\(ExprPrinter.print(base))' is \(bt)", at: base.range)
        return .error
      }
      guard coerce(index, to: .int) else {
        diagnostics.error("an index must be int, found \(it)", at: index.range)
        return .error
      }
      return .optional(.int)
    case .slice(let base, let offset, let length):
      let bt = infer(base)
      let ot = infer(offset)
      let lt = infer(length)
      if bt.isError || ot.isError || lt.isError { return .error }
      guard bt.unwrapped == .bytes || bt.unwrapped == .dynamic else {
        diagnostics.error(
          "only bytes can be sliced, but '\(ExprPrinter.print(base))' is \(bt)", at: base.range)
        return .error
      }
      for (x, t, what) in [(offset, ot, "offset"), (length, lt, "length")]
      where !coerce(x, to: .int) {
        diagnostics.error("a slice \(what) must be int, found \(t)", at: x.range)
        return .error
      }
      return .optional(.bytes)
    case .call(let name, let args): return inferCall(e, name, args)
    case .not(let x):
      let t = infer(x)
      if t.isError { return .error }
      guard t.unwrapped == .bool || t.unwrapped == .dynamic else {
        diagnostics.error("'not' needs a bool operand, found \(t)", at: x.range)
        return .error
      }
      if case .bool(let b)? = x.constant { e.constant = .bool(!b) }
      return .bool
    case .logical(let op, let xs):
      var failed = false
      var constants: [Bool] = []
      for x in xs {
        let t = infer(x)
        if t.isError {
          failed = true
          continue
        }
        if t.unwrapped != .bool, t.unwrapped != .dynamic {
          diagnostics.error(
            "'\(op.rawValue)' needs bool operands, but '\(ExprPrinter.print(x))' is \(t)\(conditionHint(x, t))",
            at: x.range)
          failed = true
        }
        if case .bool(let b)? = x.constant { constants.append(b) }
      }
      if failed { return .error }
      if constants.count == xs.count {
        e.constant = .bool(op == .and ? !constants.contains(false) : constants.contains(true))
      } else if op == .and, constants.contains(false) {
        // `false and …` is false, `true or …` true, whatever the packet.
        e.constant = .bool(false)
      } else if op == .or, constants.contains(true) {
        e.constant = .bool(true)
      }
      return .bool
    case .binary(let op, let l, let r, let opRange):
      return inferBinary(e, op, l, r, opRange)
    }
  }

  // MARK: names

  private mutating func inferPath(_ e: Expr, _ segs: [PathSegment]) -> RuleType {
    let names = segs.map(\.name)
    if segs.count == 1, consts[names[0]] != nil {
      consts[names[0]]!.used = true
      e.constReference = names[0]
      guard let v = resolveConst(names[0]) else { return .error }
      e.constant = v
      return Checker.type(of: v)
    }
    switch MetadataSchema.lookup(names) {
    case .notARoot:
      if currentProtocol == nil, segs.count == 1 {
        let suggest = keepsDiagnostics
        if suggest, let best = Spelling.closest(to: names[0], in: Array(consts.keys)).first {
          consts[best]!.used = true
        }
        diagnostics.error(
          "unknown constant '\(names[0])'\(suggest ? Spelling.suggestion(names[0], in: Array(consts.keys)) : "")",
          at: e.range)
        return .error
      }
      let best =
        keepsDiagnostics
        ? Spelling.closest(to: names[0], in: Array(consts.keys) + MetadataSchema.roots).first : nil
      // The constant it is probably meant to be is not reported as unused as well.
      if let best, consts[best] != nil { consts[best]!.used = true }
      let what = segs.count == 1 ? "name" : "metadata root"
      let roots = "metadata starts with \(MetadataSchema.roots.joined(separator: ", "))"
      diagnostics.error(
        "unknown \(what) '\(names[0])'\(best.map { "; did you mean '\($0)'?" } ?? "; \(roots)")",
        at: segs[0].range,
        fixIts: best.map { [FixIt(range: segs[0].range, replacement: $0)] } ?? [])
      return .error
    case .unknownField(let suggestions):
      // `payload["a"]`: a string index into bytes, not a path segment.
      if let last = segs.last, last.bracketed,
        case .field(let f) = MetadataSchema.lookup(Array(names.dropLast())), f.type == .bytes
      {
        diagnostics.error("an index must be int, found string", at: last.range)
        return .error
      }
      let written = names.joined(separator: ".")
      diagnostics.error(
        "unknown metadata field '\(written)'\(suggestions.first.map { "; did you mean '\($0)'?" } ?? "")",
        at: e.range,
        fixIts: suggestions.first.map { [FixIt(range: e.range, replacement: $0)] } ?? [])
      return .error
    case .group(let members):
      diagnostics.error(
        "'\(names.joined(separator: "."))' is a group of fields, not a value; use \(members.prefix(4).joined(separator: ", "))",
        at: e.range)
      return .error
    case .field(let f):
      guard let proto = currentProtocol else {
        diagnostics.error(
          "a constant cannot depend on the packet ('\(names.joined(separator: "."))')", at: e.range)
        return .error
      }
      guard f.readableOn.contains(proto) else {
        let on = RuleProtocol.allCases.filter { f.readableOn.contains($0) }.map(\.rawValue)
        var why = "it exists on \(on.joined(separator: ", "))"
        if names == ["payload"] {
          why =
            "rules on byte-stream protocols run once per connection, before any data; payload exists on \(on.joined(separator: ", "))"
        }
        diagnostics.error(
          "'\(names.joined(separator: "."))' is not available on a \(proto) rulelist: \(why)",
          at: e.range)
        return .error
      }
      return f.type
    }
  }

  static func type(of v: Value) -> RuleType {
    switch v {
    case .bool: return .bool
    case .int: return .int
    case .string: return .string
    case .bytes: return .bytes
    case .ip: return .ip
    case .cidr: return .cidr
    case .duration: return .duration
    case .set(let vs): return .set(vs.first.map(type(of:)) ?? .dynamic)
    case .range(let a, _): return .range(type(of: a))
    }
  }

  // MARK: sets and ranges

  private mutating func inferSet(_ e: Expr, _ elements: [Expr]) -> RuleType {
    var types: [RuleType] = []
    var failed = false
    for x in elements {
      let t = infer(x)
      // Type the other elements too: one bad element is one error, and constants they name are used.
      if t.isError || failed {
        failed = true
        continue
      }
      if x.constant == nil {
        diagnostics.error(
          "set elements must be constants; '\(ExprPrinter.print(x))' depends on the packet",
          at: x.range)
        failed = true
        continue
      }
      if case .set = t {
        diagnostics.error("sets cannot contain sets", at: x.range)
        failed = true
        continue
      }
      if case .range = t {
        diagnostics.error(
          "sets cannot contain ranges; test the range on its own: 'x in a..b or x in {…}'",
          at: x.range)
        failed = true
        continue
      }
      types.append(t)
    }
    if failed { return .error }
    guard let first = types.first else {
      e.constant = .set([])
      return .set(.dynamic)
    }
    // Addresses mixed with CIDRs: an address is its own /32 (/128). Quoted addresses among
    // addresses or CIDRs (`{"10.0.0.1", 10.0.0.2}`) are addresses, whichever comes first.
    var element = first
    let kinds = Set(types)
    if kinds.contains(.cidr), kinds.isSubset(of: [.ip, .cidr, .string]) {
      element = .cidr
    } else if kinds == [.ip, .string] {
      element = .ip
    }
    var values: [Value] = []
    var seen = Set<Value>()
    for (x, t) in zip(elements, types) {
      if t != element, !coerce(x, to: element) {
        diagnostics.error(
          "set elements must all have one type: this is \(t), the first is \(element)", at: x.range)
        return .error
      }
      let v = x.constant!
      if !seen.insert(v).inserted {
        diagnostics.warning("\(v) appears twice in the set", at: x.range)
      }
      values.append(v)
    }
    e.constant = .set(values)
    return .set(element)
  }

  private mutating func inferRange(_ e: Expr, _ lo: Expr, _ hi: Expr) -> RuleType {
    let lt = infer(lo)
    let ht = infer(hi)
    if lt.isError || ht.isError { return .error }
    guard lo.constant != nil, hi.constant != nil else {
      let bad = lo.constant == nil ? lo : hi
      diagnostics.error(
        "range bounds must be constants; '\(ExprPrinter.print(bad))' depends on the packet",
        at: bad.range)
      return .error
    }
    var t = lt
    if lt != ht {
      if coerce(hi, to: lt) {
        t = lt
      } else if coerce(lo, to: ht) {
        t = ht
      } else {
        diagnostics.error("range bounds must have one type, found \(lt) and \(ht)", at: e.range)
        return .error
      }
    }
    // Quoted addresses as bounds: `"10.0.0.1".."10.0.0.9"`.
    if t == .string, coerce(lo, to: .ip), coerce(hi, to: .ip) { t = .ip }
    guard [.int, .duration, .ip].contains(t) else {
      diagnostics.error("ranges need int, duration or ip bounds, found \(t)", at: e.range)
      return .error
    }
    let (a, b) = (lo.constant!, hi.constant!)
    if Checker.compare(a, b) == .some(false), a != b {
      diagnostics.error(
        "empty range \(a)..\(b): the lower bound is greater than the upper", at: e.range)
      return .error
    }
    e.constant = .range(a, b)
    return .range(t)
  }

  /// Whether a <= b, for ordered constants.
  static func compare(_ a: Value, _ b: Value) -> Bool? {
    switch (a, b) {
    case (.int(let x), .int(let y)): return x <= y
    case (.duration(let x), .duration(let y)): return x <= y
    case (.ip(let x), .ip(let y)): return x <= y
    default: return nil
    }
  }

  // MARK: coercion

  /// Gives a constant expression the type `target` when its value can be read as one (a string as
  /// an address, a string as bytes, an address as a /32 block, a set element by element). Returns
  /// whether `e` now has type `target` (or already had it, or is dynamic).
  mutating func coerce(_ e: Expr, to target: RuleType) -> Bool {
    let t = e.type
    if t == target || t.unwrapped == target || t.unwrapped == .dynamic || target == .dynamic {
      return true
    }
    guard let v = e.constant, let converted = Checker.convert(v, to: target) else { return false }
    e.type = target
    e.constant = converted
    return true
  }

  static func convert(_ v: Value, to target: RuleType) -> Value? {
    switch (v, target) {
    case (.string(let s), .ip):
      if case .success(let a) = IPAddress.parse(s) { return .ip(a) }
      return nil
    case (.string(let s), .cidr):
      if case .success(let c) = CIDR.parse(s) { return .cidr(c) }
      // A plain address is its own block, as in `{10.0.0.0/8, 192.168.1.1}`.
      if !s.contains("/"), case .success(let a) = IPAddress.parse(s) {
        return .cidr(CIDR(address: a, prefixLength: a.isV4 ? 32 : 128))
      }
      return nil
    case (.string(let s), .bytes): return .bytes(Array(s.utf8))
    case (.ip(let a), .cidr): return .cidr(CIDR(address: a, prefixLength: a.isV4 ? 32 : 128))
    case (.set(let vs), .set(let et)):
      var out: [Value] = []
      for x in vs {
        if type(of: x) == et {
          out.append(x)
        } else if let c = convert(x, to: et) {
          out.append(c)
        } else {
          return nil
        }
      }
      return .set(out)
    case (.range(let a, let b), .range(let et)):
      guard let ca = type(of: a) == et ? a : convert(a, to: et),
        let cb = type(of: b) == et ? b : convert(b, to: et)
      else { return nil }
      return .range(ca, cb)
    default: return nil
    }
  }
}
