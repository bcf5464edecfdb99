/// Conditions: boolean expressions compiled to jumps.
extension RuleCompiler {
  /// Jumps to `label` when `e` evaluates to `when`; falls through otherwise.
  mutating func emitJump(_ e: Expr, when: Bool, to label: Int) {
    if case .bool(let b)? = e.constant {
      if b == when { emitJump(.jump, to: label) }
      return
    }
    switch e.kind {
    case .paren(let x):
      emitJump(x, when: when, to: label)
    case .not(let x):
      emitJump(x, when: !when, to: label)
    case .logical(let op, let xs):
      // `and` jumping on false, `or` jumping on true: any operand decides.
      if (op == .and) != when {
        for x in xs { emitJump(x, when: when, to: label) }
      } else {
        let skip = newLabel()
        for x in xs.dropLast() { emitJump(x, when: !when, to: skip) }
        emitJump(xs.last!, when: when, to: label)
        place(skip)
      }
    case .binary(let op, let l, let r, _) where op != .bitAnd:
      compileComparison(op, l, r, when: when, to: label)
    case .call(let name, let args) where name.text == "defined":
      compileDefined(args[0], when: when, to: label)
    default:
      // A bool-valued dynamic field used as a condition: true when it is a non-zero int.
      if e.type.unwrapped == .dynamic {
        let r = compileInt(e)
        emitJump(.jnei, a: pol(r, when), b: 0, to: label)
      } else {
        fail("cannot compile '\(ExprPrinter.print(e))' as a condition")
      }
    }
  }

  /// `A` with the polarity bit.
  func pol(_ reg: Int, _ when: Bool) -> UInt8 { UInt8(reg) | (when ? 0x80 : 0) }

  mutating func compileDefined(_ e: Expr, when: Bool, to label: Int) {
    switch e.type.unwrapped {
    case .dynamic:
      // A label is defined whatever kind it holds.
      let (i, s, a) = (compileInt(e), compileBytes(e), compileIP(e))
      if when {
        emitJump(.jpresent, a: pol(i, true), b: 0, to: label)
        emitJump(.jpresent, a: pol(s, true), b: 1, to: label)
        emitJump(.jpresent, a: pol(a, true), b: 2, to: label)
      } else {
        let skip = newLabel()
        emitJump(.jpresent, a: pol(i, true), b: 0, to: skip)
        emitJump(.jpresent, a: pol(s, true), b: 1, to: skip)
        emitJump(.jpresent, a: pol(a, false), b: 2, to: label)
        place(skip)
      }
    case .int:
      let r = compileInt(e)
      emitJump(.jpresent, a: pol(r, when), b: 0, to: label)
    case .ip:
      let r = compileIP(e)
      emitJump(.jpresent, a: pol(r, when), b: 2, to: label)
    default:
      let r = compileBytes(e)
      emitJump(.jpresent, a: pol(r, when), b: 1, to: label)
    }
  }

  /// The operand type a comparison works on, after the checker's coercions.
  func operandType(_ l: Expr, _ r: Expr) -> RuleType {
    let lt = l.type.unwrapped
    let rt = r.type.unwrapped
    if lt != .dynamic { return lt }
    if rt != .dynamic {
      if case .set(let et) = rt { return et == .cidr ? .ip : et }
      if case .range(let et) = rt { return et }
      if rt == .cidr { return .ip }
      return rt
    }
    return .dynamic
  }

  mutating func compileComparison(
    _ op: BinaryOperator, _ l: Expr, _ r: Expr, when: Bool, to label: Int
  ) {
    // Constants on the left of an ordering or equality move to the right.
    if l.constant != nil, r.constant == nil, op != .in, op != .starts, op != .ends,
      op != .contains, op != .matches
    {
      let mirrored: BinaryOperator
      switch op {
      case .less: mirrored = .greater
      case .lessEqual: mirrored = .greaterEqual
      case .greater: mirrored = .less
      case .greaterEqual: mirrored = .lessEqual
      default: mirrored = op
      }
      compileComparison(mirrored, r, l, when: when, to: label)
      return
    }
    // `in {}` never holds.
    if op == .in, case .set(let vs)? = r.constant, vs.isEmpty {
      if !when { emitJump(.jump, to: label) }
      return
    }
    var t = operandType(l, r)
    if t == .duration || t == .bool { t = .int }
    switch t {
    case .int: compileIntComparison(op, l, r, when: when, to: label)
    case .ip, .cidr: compileIPComparison(op, l, r, when: when, to: label)
    case .string, .bytes: compileBytesComparison(op, l, r, when: when, to: label)
    default:
      fail(
        "comparing two dynamic values ('\(ExprPrinter.print(l))' and '\(ExprPrinter.print(r))') is not supported; compare one of them with a constant"
      )
    }
  }

  // MARK: int

  mutating func compileIntComparison(
    _ op: BinaryOperator, _ l: Expr, _ r: Expr, when: Bool, to label: Int
  ) {
    if op == .in {
      guard let v = r.constant, let intervals = Intervals.ints(v) else {
        fail("'in' needs a constant set or range here")
        return
      }
      let k = constant(.intSet(intervals))
      if let f = intField(l) {
        emitJump(.jfink, a: UInt8(f.rawValue) | (when ? 0x80 : 0), b: k, to: label)
      } else {
        let reg = compileInt(l)
        emitJump(.jink, a: pol(reg, when), b: k, to: label)
      }
      return
    }
    if let v = r.constant, let x = Intervals.int(v) ?? boolInt(v) {
      if op == .equal, let f = intField(l), (0...0xFFFF).contains(x) {
        emitJump(.jfeqi, a: UInt8(f.rawValue) | (when ? 0x80 : 0), b: UInt16(x), to: label)
        return
      }
      let reg = compileInt(l)
      if (0...0xFFFF).contains(x), op == .equal || op == .notEqual {
        emitJump(op == .equal ? .jeqi : .jnei, a: pol(reg, when), b: UInt16(x), to: label)
        return
      }
      let k = constant(.int(x))
      let opcode: Opcode
      switch op {
      case .equal: opcode = .jeqk
      case .notEqual: opcode = .jnek
      case .less: opcode = .jltk
      case .lessEqual: opcode = .jlek
      case .greater: opcode = .jgtk
      case .greaterEqual: opcode = .jgek
      default:
        fail("'\(op.rawValue)' does not apply to int")
        return
      }
      emitJump(opcode, a: pol(reg, when), b: k, to: label)
      return
    }
    let a = compileInt(l)
    let b = compileInt(r)
    switch op {
    case .equal: emitJump(.jeq, a: pol(a, when), b: UInt16(b), to: label)
    case .notEqual: emitJump(.jne, a: pol(a, when), b: UInt16(b), to: label)
    case .less: emitJump(.jlt, a: pol(a, when), b: UInt16(b), to: label)
    case .lessEqual: emitJump(.jle, a: pol(a, when), b: UInt16(b), to: label)
    case .greater: emitJump(.jlt, a: pol(b, when), b: UInt16(a), to: label)
    case .greaterEqual: emitJump(.jle, a: pol(b, when), b: UInt16(a), to: label)
    default: fail("'\(op.rawValue)' does not apply to int")
    }
  }

  func boolInt(_ v: Value) -> Int64? {
    if case .bool(let b) = v { return b ? 1 : 0 }
    return nil
  }

  // MARK: ip

  mutating func compileIPComparison(
    _ op: BinaryOperator, _ l: Expr, _ r: Expr, when: Bool, to label: Int
  ) {
    var intervals: [IPInterval]? = nil
    switch (op, r.constant) {
    case (.in, let v?): intervals = Intervals.ips(v)
    case (.starts, .string(let s)?): intervals = ipTextPrefix(s)
    case (.starts, _):
      fail("'starts' on an address needs a constant string, as in IP.src_addr starts \"10.0.0\"")
      return
    case (.ends, _), (.contains, _):
      fail("'\(op.rawValue)' on an address is not supported; use 'starts', 'in' a CIDR, or '=='")
      return
    default: break
    }
    if let intervals {
      let k = constant(.ipSet(intervals))
      if let f = ipField(l) {
        emitJump(.jfcidr, a: UInt8(f.rawValue) | (when ? 0x80 : 0), b: k, to: label)
      } else {
        let reg = compileIP(l)
        emitJump(.jipin, a: pol(reg, when), b: k, to: label)
      }
      return
    }
    let a = compileIP(l)
    if case .ip(let addr)? = r.constant {
      let k = constant(.ip(addr))
      emitJump(op == .equal ? .jipeq : .jipne, a: pol(a, when), b: k, to: label)
      return
    }
    let b = compileIP(r)
    emitJump(op == .equal ? .jipeqr : .jipner, a: pol(a, when), b: UInt16(b), to: label)
  }

  /// IPv4 addresses by dotted text; IPv6 text prefixes are matched on the canonical text of
  /// every address in the 128-bit space, which is not an interval set: refuse them.
  mutating func ipTextPrefix(_ s: String) -> [IPInterval]? {
    if s.contains(":") {
      fail("text prefixes of IPv6 addresses are not supported; use a CIDR such as 2001:db8::/32")
      return nil
    }
    return Intervals.ipv4TextPrefix(s)
  }

  // MARK: bytes

  mutating func compileBytesComparison(
    _ op: BinaryOperator, _ l: Expr, _ r: Expr, when: Bool, to label: Int
  ) {
    if var v = r.constant {
      // lower(x) never equals, starts, ends or contains a constant with upper-case letters.
      let folded = isFolded(l)
      // (`!=` is true for any present value, so it keeps its test.)
      if folded, op != .matches, op != .notEqual {
        switch v {
        case .set(let vs): v = .set(vs.filter { !hasUpper($0) })
        default:
          if hasUpper(v) {
            if !when { emitJump(.jump, to: label) }
            return
          }
        }
      }
      let opcode: Opcode
      let k: UInt16
      switch op {
      case .in:
        guard case .set(let vs) = v else {
          fail("'in' needs a constant set of strings here")
          return
        }
        let members = Set(vs.compactMap(bytesOf))
        k = constant(.bytesSet(members.sorted { $0.lexicographicallyPrecedes($1) }))
        opcode = .jbin
      case .matches:
        guard case .string(let pattern) = v else {
          fail("'matches' needs a constant pattern")
          return
        }
        do {
          k = constant(.automaton(try RegexAutomaton.compile(pattern)))
        } catch {
          fail("invalid regular expression: \(error.message)")
          return
        }
        opcode = .jbmatches
      default:
        guard let bytes = bytesOf(v) else {
          fail("cannot compare bytes with \(v)")
          return
        }
        k = constant(.bytes(bytes))
        switch op {
        case .equal: opcode = .jbeq
        case .notEqual: opcode = .jbne
        case .starts: opcode = .jbstarts
        case .ends: opcode = .jbends
        case .contains: opcode = .jbcontains
        default:
          fail("'\(op.rawValue)' does not apply to bytes")
          return
        }
      }
      if opcode == .jbstarts, let f = bytesField(l) {
        emitJump(.jfstarts, a: UInt8(f.rawValue) | (when ? 0x80 : 0), b: k, to: label)
        return
      }
      let reg = compileBytes(l)
      emitJump(opcode, a: pol(reg, when), b: k, to: label)
      return
    }
    let a = compileBytes(l)
    let b = compileBytes(r)
    let opcode: Opcode
    switch op {
    case .equal: opcode = .jbeqr
    case .notEqual: opcode = .jbner
    case .starts: opcode = .jbstartsr
    case .ends: opcode = .jbendsr
    case .contains: opcode = .jbcontainsr
    default:
      fail("'\(op.rawValue)' needs a constant on the right here")
      return
    }
    emitJump(opcode, a: pol(a, when), b: UInt16(b), to: label)
  }

  func hasUpper(_ v: Value) -> Bool {
    bytesOf(v)?.contains { $0 >= 0x41 && $0 <= 0x5A } ?? false
  }

  /// Whether an expression's bytes go through lower().
  func isFolded(_ e: Expr) -> Bool {
    switch e.kind {
    case .paren(let x): return isFolded(x)
    case .call(let n, _): return n.text == "lower"
    case .slice(let b, _, _): return isFolded(b)
    default: return false
    }
  }

  func bytesOf(_ v: Value) -> [UInt8]? {
    switch v {
    case .bytes(let b): return b
    case .string(let s): return Array(s.utf8)
    default: return nil
    }
  }
}
