/// Typing of comparisons, `&`, and calls.
extension Checker {
  mutating func inferBinary(
    _ e: Expr, _ op: BinaryOperator, _ l: Expr, _ r: Expr, _ opRange: SourceRange
  ) -> RuleType {
    let lt = infer(l)
    let rt = infer(r)
    if lt.isError || rt.isError { return .error }
    let lu = lt.unwrapped
    let ru = rt.unwrapped
    func mismatch(_ why: String, fixIts: [FixIt] = []) -> RuleType {
      diagnostics.error(why, at: e.range, fixIts: fixIts)
      return .error
    }
    let lText = ExprPrinter.print(l)

    switch op {
    case .bitAnd:
      guard coerce(l, to: .int), coerce(r, to: .int) else {
        return mismatch("'&' masks bits of int values, but the operands are \(lt) and \(rt)")
      }
      if case .int(let a)? = l.constant, case .int(let b)? = r.constant { e.constant = .int(a & b) }
      return lu == .int && ru == .int && !lt.isOptional && !rt.isOptional ? .int : .optional(.int)

    case .equal, .notEqual:
      // A set is never one value, whatever a dynamic left side holds at run time.
      if case .set = ru {
        return mismatch(
          "'\(op.rawValue)' compares single values; test membership with 'in'",
          fixIts: [FixIt(range: opRange, replacement: op == .equal ? "in" : "not in")])
      }
      if lu == .dynamic, ru == .dynamic { return bothDynamic(e, op) }
      if lu == .dynamic || ru == .dynamic { return .bool }
      if lu == .ip, ru == .cidr {
        return mismatch(
          "an address is never equal to a CIDR; test membership with 'in'",
          fixIts: [FixIt(range: opRange, replacement: op == .equal ? "in" : "not in")])
      }
      guard unify(l, r) else {
        return mismatch(
          "cannot compare \(lt) with \(rt)\(literalHint(l, r))", fixIts: literalFix(l, r))
      }
      foldEquality(e, op, l, r)
      lintAlwaysFalse(e, op, l, r)
      return .bool

    case .less, .lessEqual, .greater, .greaterEqual:
      if lu == .dynamic, ru == .dynamic { return bothDynamic(e, op) }
      if lu == .dynamic || ru == .dynamic { return .bool }
      guard unify(l, r) else { return mismatch("cannot compare \(lt) with \(rt)") }
      let t = l.type.unwrapped
      guard t == .int || t == .duration else {
        return mismatch(
          "'\(op.rawValue)' orders int and duration values; \(t) cannot be ordered\(t == .ip ? " (use 'in' with a CIDR or a range)" : "")"
        )
      }
      lintAlwaysFalse(e, op, l, r)
      return .bool

    case .in:
      if ru == .dynamic {
        return mismatch(
          "'in' needs a constant set, range or CIDR on the right, but '\(ExprPrinter.print(r))' is typed at run time"
        )
      }
      switch ru {
      case .cidr:
        guard coerce(l, to: .ip) else {
          return mismatch("'in' a CIDR needs an ip on the left, found \(lt)")
        }
        return .bool
      case .set(let et):
        if case .set(let vs)? = r.constant, vs.isEmpty {
          diagnostics.warning("'in {}' is always false: the set is empty", at: r.range)
          return .bool
        }
        if lu == .dynamic { return .bool }
        if et == .cidr {
          guard coerce(l, to: .ip) else {
            return mismatch("a set of CIDRs holds addresses; the left side is \(lt)")
          }
          return .bool
        }
        if lu == .ip, et == .string, coerce(r, to: .set(.cidr)) { return .bool }
        guard coerce(r, to: .set(lu)) || coerce(l, to: et) else {
          return mismatch("'\(lText)' is \(lt) but the set holds \(et)")
        }
        lintAlwaysFalse(e, op, l, r)
        return .bool
      case .range(let et):
        if lu == .dynamic { return .bool }
        guard coerce(r, to: .range(lu)) || coerce(l, to: et) else {
          return mismatch("'\(lText)' is \(lt) but the range is of \(et)")
        }
        lintAlwaysFalse(e, op, l, r)
        return .bool
      case .string where lu == .ip:
        if coerce(r, to: .cidr) { return .bool }
        return mismatch("'in' needs a set, a range or a CIDR on the right, found a string")
      case .string, .bytes:
        return mismatch(
          "'in' needs a set, a range or a CIDR on the right; to find a substring use 'contains'",
          fixIts: [])
      default:
        return mismatch("'in' needs a set, a range or a CIDR on the right, found \(rt)")
      }

    case .starts, .ends, .contains:
      if lu == .dynamic, ru == .dynamic { return bothDynamic(e, op) }
      if lu == .ip {
        // An address by its text form, as l7mp does: IP.src_addr starts "10.0.0".
        guard op == .starts else {
          return mismatch(
            "'\(op.rawValue)' does not apply to an address; use 'starts' with its text, 'in' a CIDR, or '=='"
          )
        }
        guard ru == .string, case .string(let text)? = r.constant else {
          return mismatch(
            "'starts' on an address compares its text with a constant string; found \(rt)")
        }
        if text.contains(":") {
          return mismatch(
            "text prefixes of IPv6 addresses are not supported; use a CIDR such as 2001:db8::/32")
        }
        lintIPTextPrefix(e, op, l, r)
        return .bool
      }
      if lu == .dynamic || ru == .dynamic { return .bool }
      guard lu == .string || lu == .bytes else {
        return mismatch(
          "'\(op.rawValue)' needs a string or bytes on the left, but '\(lText)' is \(lt)\(lu == .int ? "; compare numbers with '==' or 'in'" : "")"
        )
      }
      guard coerce(r, to: lu) else {
        return mismatch(
          "'\(op.rawValue)' needs \(lu) on the right to match '\(lText)', found \(rt)")
      }
      lintAlwaysFalse(e, op, l, r)
      return .bool

    case .matches:
      if lu == .dynamic { return .bool }
      guard lu == .string || lu == .bytes else {
        return mismatch("'matches' needs a string or bytes on the left, but '\(lText)' is \(lt)")
      }
      guard ru == .string, case .string(let pattern)? = r.constant else {
        return mismatch(
          "'matches' needs a constant string holding a regular expression on the right")
      }
      checkRegex(pattern, r)
      return .bool
    }
  }

  /// Two values typed at run time: the VM compares a run-time value with a typed one only.
  mutating func bothDynamic(_ e: Expr, _ op: BinaryOperator) -> RuleType {
    diagnostics.error(
      "'\(op.rawValue)' between two run-time-typed values (labels, JSONSocket) is not supported; compare each with a constant",
      at: e.range)
    return .error
  }

  /// Brings both sides of a comparison to one type, converting whichever is a constant.
  mutating func unify(_ l: Expr, _ r: Expr) -> Bool {
    let lu = l.type.unwrapped
    let ru = r.type.unwrapped
    if lu == ru {
      if case .set = lu { return false }
      if case .range = lu { return false }
      return true
    }
    if r.constant != nil, coerce(r, to: lu) { return true }
    if l.constant != nil, coerce(l, to: ru) { return true }
    return false
  }

  func literalHint(_ l: Expr, _ r: Expr) -> String {
    let types = Set([l.type.unwrapped, r.type.unwrapped])
    if types == [.int, .duration] { return "; write durations with a unit, e.g. 2s" }
    // The constant string, if one side is one: the hints are about literals.
    let text = [l, r].lazy.compactMap { e -> String? in
      if case .string(let s)? = e.constant { return s }
      return nil
    }.first
    if types == [.ip, .string], text != nil { return "; the string is not an IP address" }
    if types == [.int, .string], let text, Int64(text) != nil { return "; numbers are not quoted" }
    return ""
  }

  /// A quoted number compared with an int: unquote it.
  func literalFix(_ l: Expr, _ r: Expr) -> [FixIt] {
    for (a, b) in [(l, r), (r, l)] where a.type.unwrapped == .int {
      if case .string(let s)? = b.constant, Int64(s) != nil, b.constReference == nil {
        return [FixIt(range: b.range, replacement: s)]
      }
    }
    return []
  }

  mutating func foldEquality(_ e: Expr, _ op: BinaryOperator, _ l: Expr, _ r: Expr) {
    guard let a = l.constant, let b = r.constant else { return }
    e.constant = .bool((a == b) == (op == .equal))
  }

  // MARK: calls

  mutating func inferCall(_ e: Expr, _ name: Name, _ args: [Expr]) -> RuleType {
    guard let fn = Builtin.named(name.text) else {
      let best = Spelling.closest(to: name.text, in: Builtin.all.map(\.name)).first
      diagnostics.error(
        "unknown function '\(name.text)'\(best.map { "; did you mean '\($0)'?" } ?? "; functions are \(Builtin.all.map(\.name).joined(separator: ", "))")",
        at: name.range, fixIts: best.map { [FixIt(range: name.range, replacement: $0)] } ?? [])
      for a in args { infer(a) }
      return .error
    }
    guard args.count == fn.parameters.count else {
      diagnostics.error(
        "\(fn.name)() takes \(fn.parameters.count) argument\(fn.parameters.count == 1 ? "" : "s"), found \(args.count): \(fn.signature)",
        at: e.range)
      for a in args { markConstantsUsed(a) }
      return .error
    }
    if fn.name == "defined" {
      let a = args[0]
      guard case .path = a.kind, a.constReference == nil, consts[a.pathText ?? ""] == nil else {
        infer(a)
        diagnostics.error(
          "defined() takes a metadata field, such as defined(HTTP.headers.x-id)", at: a.range)
        return .error
      }
      let t = infer(a)
      if t.isError { return .error }
      if !t.isOptional, t != .dynamic {
        diagnostics.warning(
          "'\(a.pathText ?? "")' is always present on a \(currentProtocol?.rawValue ?? "") rulelist: defined() is always true",
          at: e.range)
      }
      return .bool
    }
    var types: [RuleType] = []
    var optional = false
    for (k, (a, accepted)) in zip(args, fn.parameters).enumerated() {
      let t = infer(a)
      if t.isError {
        // Still type the arguments after it: their mistakes are their own.
        for b in args.dropFirst(k + 1) { infer(b) }
        return .error
      }
      optional = optional || t.isOptional
      if t.unwrapped == .dynamic || accepted.contains(t.unwrapped) {
        types.append(t.unwrapped)
        continue
      }
      if let target = accepted.first, coerce(a, to: target) {
        types.append(target)
        continue
      }
      diagnostics.error(
        "argument \(k + 1) of \(fn.name)() must be \(accepted.map(\.description).joined(separator: " or ")), found \(t): \(fn.signature)",
        at: a.range)
      for b in args.dropFirst(k + 1) { infer(b) }
      return .error
    }
    let result: RuleType
    switch fn.name {
    case "lower": result = types[0] == .bytes ? .bytes : .string
    default: result = .int
    }
    if fn.name == "len", case .string(let s)? = args[0].constant {
      e.constant = .int(Int64(s.utf8.count))
    }
    if fn.name == "len", case .bytes(let b)? = args[0].constant {
      e.constant = .int(Int64(b.count))
    }
    if fn.name == "lower", case .string(let s)? = args[0].constant {
      // ASCII only, as at run time: lower("ÄB") is "Äb".
      e.constant = .string(
        String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self))
    }
    // u8/u16/u32 read past the end → the comparison is false: the result may be absent.
    let mayBeAbsent = optional || ["u8", "u16", "u32"].contains(fn.name)
    return mayBeAbsent ? .optional(result) : result
  }
}
