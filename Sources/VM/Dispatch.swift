import RuleLang

extension Machine {
  /// The dispatch loop, over the prepared code. Jumps only go forward (the verifier saw to it), so
  /// it terminates.
  @inline(__always)
  mutating func run(from entry: Int) -> Verdict {
    let ops = program.opsBase
    let view = UnsafeRawPointer(packet)
    var pc = entry
    while true {
      let op = ops + pc
      let cond: Bool
      switch op.pointee.kind {
      case .general:
        pc = general(pc)
        continue
      case .goto:
        pc = Int(op.pointee.ifTrue)
        continue
      case .match: return verdict(Int32(truncatingIfNeeded: op.pointee.offset))
      case .noMatch: return verdict(-1)
      case .dispatch:
        pc = candidates.dispatchCall(Int(op.pointee.b), from: pc)
        continue
      case .next:
        pc = candidates.next(Int(op.pointee.b), after: Int(op.pointee.offset), from: pc)
        continue

      case .fieldEq: cond = FieldTest.eq(op, view)
      case .fieldRange: cond = FieldTest.range(op, view)
      case .fieldIn:
        let v = view.load(fromByteOffset: Int(op.pointee.offset), as: Int32.self)
        cond = v >= 0 && intervalsContain(Int(op.pointee.b), Int64(v))
      case .addrV4Range: cond = FieldTest.addrV4Range(op, view, packet)
      case .addrIn:
        cond =
          packet.pointee.hasAddresses
          && ipSetContains(
            Int(op.pointee.b), view.load(fromByteOffset: Int(op.pointee.offset), as: IPAddress.self)
          )
      case .startsShort: cond = FieldTest.startsShort(op, view)

      case .loadByte:
        setInt(Int(op.pointee.a), load(bytesReg(Int(op.pointee.b)), op.pointee.x, 1))
        cond = true
      case .loadHalf:
        setInt(Int(op.pointee.a), load(bytesReg(Int(op.pointee.b)), op.pointee.x, 2))
        cond = true
      case .loadWord:
        setInt(Int(op.pointee.a), load(bytesReg(Int(op.pointee.b)), op.pointee.x, 4))
        cond = true
      case .length:
        setInt(Int(op.pointee.a), bytesReg(Int(op.pointee.b)).map { Int64($0.count) })
        cond = true
      case .andImm:
        let a = Int(op.pointee.a)
        if intPresent & (1 &<< a) != 0 { ints[a] &= op.pointee.x }
        cond = true

      case .eqImm: cond = int(Int(op.pointee.a)) == op.pointee.x
      case .neImm: cond = int(Int(op.pointee.a)).map { $0 != op.pointee.x } ?? false
      case .ltImm: cond = int(Int(op.pointee.a)).map { $0 < op.pointee.x } ?? false
      case .leImm: cond = int(Int(op.pointee.a)).map { $0 <= op.pointee.x } ?? false
      case .gtImm: cond = int(Int(op.pointee.a)).map { $0 > op.pointee.x } ?? false
      case .geImm: cond = int(Int(op.pointee.a)).map { $0 >= op.pointee.x } ?? false
      case .rangeImm:
        cond = int(Int(op.pointee.a)).map { $0 >= op.pointee.x && $0 <= op.pointee.y } ?? false
      case .lengthTest:
        cond = test(op, bytesReg(Int(op.pointee.b)).map { Int64($0.count) })
      case .byteTest: cond = test(op, load(bytesReg(Int(op.pointee.b)), op.pointee.x, 1))
      case .halfTest: cond = test(op, load(bytesReg(Int(op.pointee.b)), op.pointee.x, 2))
      case .wordTest: cond = test(op, load(bytesReg(Int(op.pointee.b)), op.pointee.x, 4))
      }
      // Non-jumping kinds have ifTrue == ifFalse == pc + 1.
      pc = Int(cond ? op.pointee.ifTrue : op.pointee.ifFalse)
    }
  }

  /// The rest of a `…Test` op once its value is loaded: mask, write R[a], compare.
  @inline(__always) mutating func test(_ op: UnsafePointer<PreparedOp>, _ loaded: Int64?) -> Bool {
    let a = Int(op.pointee.a)
    guard let v = loaded else {
      intPresent &= ~(1 &<< a)
      return false
    }
    let masked = v & op.pointee.y
    ints[a] = masked
    intPresent |= 1 &<< a
    return PreparedOp.Relation.holds(op.pointee.relation, masked, op.pointee.z)
  }

  @inline(__always) func verdict(_ rule: Int32) -> Verdict {
    Verdict(
      rule: rule, rewriteCount: Int32(truncatingIfNeeded: min(rewriteCount, rewrites.count)))
  }

  /// One instruction of any kind, as the instruction set defines it: the interpreter's path for
  /// everything `PreparedOp` has no kind of its own for. Out of line, so that the rare opcodes'
  /// code and registers stay out of the hot loop. Returns the next pc; `match` and `noMatch`
  /// (which the hot loop handles) return -1.
  @inline(never)
  mutating func general(_ pc: Int) -> Int {
    let ins = program.code[pc]
    let a = Int(ins.a & 0x7F)
    let b = Int(ins.b)
    let k = ins.a & 0x80 != 0
    var cond = false
    switch ins.op {
    case .nop: return pc + 1
    case .jump, .apply: return Int(ins.c)
    case .dispatch: return candidates.dispatchCall(b, from: pc)
    case .next: return candidates.next(b, after: Int(ins.c), from: pc)
    case .match, .noMatch: return -1

    // loads
    case .ldf: setInt(a, intField(b))
    case .ldi: setInt(a, Int64(ins.c))
    case .ldk: setInt(a, program.slots[Int(ins.c)].int)
    case .lds: setBytes(a, bytesField(b))
    case .ldsk: setBytes(a, constBytes(Int(ins.c)))
    case .ldhdr:
      if let n = named(Int(ins.c)), case .bytes(let v) = n.value {
        setBytes(a, v, fold: n.folded)
      } else {
        setBytes(a, nil)
      }
    case .ldip: setIP(a, ipField(b))
    case .ldipk: setIP(a, program.slots[Int(ins.c)].ip)
    case .ldlab:
      let n = named(Int(ins.c))
      switch b {
      case 0:
        if case .int(let x)? = n?.value { setInt(a, x) } else { setInt(a, nil) }
      case 1:
        if case .bytes(let x)? = n?.value {
          setBytes(a, x, fold: n!.folded)
        } else {
          setBytes(a, nil)
        }
      default:
        if case .ip(let x)? = n?.value { setIP(a, x) } else { setIP(a, nil) }
      }
    case .ldb: setInt(a, load(bytesReg(b), Int64(ins.c), 1))
    case .ldh: setInt(a, load(bytesReg(b), Int64(ins.c), 2))
    case .ldw: setInt(a, load(bytesReg(b), Int64(ins.c), 4))
    case .ldbx: setInt(a, int(Int(ins.c)).flatMap { load(bytesReg(b), $0, 1) })
    case .ldhx: setInt(a, int(Int(ins.c)).flatMap { load(bytesReg(b), $0, 2) })
    case .ldwx: setInt(a, int(Int(ins.c)).flatMap { load(bytesReg(b), $0, 4) })
    case .slice, .slicex:
      let dst = Int(ins.a & 0x0F)
      let src = Int(ins.a >> 4)
      var off: Int64? = Int64(ins.b)
      var len: Int64? = Int64(ins.c)
      if ins.op == .slicex {
        off = int(b)
        len = int(Int(ins.c))
      }
      if let s = bytesReg(src), let off, let len, off >= 0, len >= 0,
        off <= Int64(s.count), len <= Int64(s.count) - off
      {
        bytes[dst] = BytesRegister(base: s.base + Int(off), count: Int(len), fold: s.fold)
        bytesPresent |= 1 << dst
      } else {
        bytesPresent &= ~(1 << dst)
      }
    case .len: setInt(a, bytesReg(b).map { Int64($0.count) })
    case .movs:
      if let s = bytesReg(b) {
        bytes[a] = s
        bytesPresent |= 1 << a
      } else {
        bytesPresent &= ~(1 << a)
      }
    case .fold:
      bytes[a].fold = true
    case .andi: if let x = int(a) { ints[a] = x & Int64(ins.c) }
    case .andk: if let x = int(a) { ints[a] = x & program.slots[Int(ins.c)].int }
    case .andr: setInt(a, int(a).flatMap { x in int(b).map { x & $0 } })

    // integer comparisons
    case .jeqi: cond = int(a) == Int64(b)
    case .jnei: if let x = int(a) { cond = x != Int64(b) }
    case .jeqk: cond = int(a) == program.slots[b].int
    case .jnek: if let x = int(a) { cond = x != program.slots[b].int }
    case .jltk: if let x = int(a) { cond = x < program.slots[b].int }
    case .jlek: if let x = int(a) { cond = x <= program.slots[b].int }
    case .jgtk: if let x = int(a) { cond = x > program.slots[b].int }
    case .jgek: if let x = int(a) { cond = x >= program.slots[b].int }
    case .jink: if let x = int(a) { cond = intervalsContain(b, x) }
    case .jeq: if let x = int(a), let y = int(b) { cond = x == y }
    case .jne: if let x = int(a), let y = int(b) { cond = x != y }
    case .jlt: if let x = int(a), let y = int(b) { cond = x < y }
    case .jle: if let x = int(a), let y = int(b) { cond = x <= y }

    // fused field comparisons
    case .jfeqi: cond = intField(a) == Int64(b)
    case .jfink: if let x = intField(a) { cond = intervalsContain(b, x) }
    case .jfcidr: if let x = ipField(a) { cond = ipSetContains(b, x) }
    case .jfstarts:
      if let f = bytesField(a) {
        let s = BytesRegister(
          base: f.baseAddress ?? UnsafeRawPointer(program.arena.baseAddress!), count: f.count,
          fold: false)
        cond = bytesOp(.jfstarts, s, constBytes(b), fold: false)
      }

    // byte strings
    case .jbeq, .jbne, .jbstarts, .jbends, .jbcontains:
      if let s = bytesReg(a) { cond = bytesOp(ins.op, s, constBytes(b), fold: s.fold) }
    case .jbmatches: if let s = bytesReg(a) { cond = automatonMatches(b, s) }
    case .jbin: if let s = bytesReg(a) { cond = bytesSetContains(b, s) }
    case .jbeqr, .jbner, .jbstartsr, .jbendsr, .jbcontainsr:
      if let s = bytesReg(a), let t = bytesReg(b) {
        if t.fold {
          // Both sides folded: compare folded copies byte by byte.
          cond = foldedOp(ins.op, s, t)
        } else {
          cond = bytesOp(
            ins.op, s, UnsafeRawBufferPointer(start: t.base, count: t.count), fold: s.fold)
        }
      }

    // addresses
    case .jipeq: cond = ip(a) == program.slots[b].ip
    case .jipne: if let x = ip(a) { cond = x != program.slots[b].ip }
    case .jipin: if let x = ip(a) { cond = ipSetContains(b, x) }
    case .jipeqr: if let x = ip(a), let y = ip(b) { cond = x == y }
    case .jipner: if let x = ip(a), let y = ip(b) { cond = x != y }
    case .jpresent:
      switch b {
      case 0: cond = intPresent & (1 << a) != 0
      case 1: cond = bytesPresent & (1 << a) != 0
      default: cond = ipPresent & (1 << a) != 0
      }

    // rewrites
    case .setk: record(ins.b, .constant(ins.c))
    case .setr: if let x = int(a) { record(ins.b, .int(x)) }
    case .sets:
      if let s = bytesReg(a) {
        record(
          ins.b, .bytes(UnsafeRawBufferPointer(start: s.base, count: s.count), folded: s.fold))
      }
    case .setip: if let x = ip(a) { record(ins.b, .ip(x)) }
    }
    if ins.op.isConditionalJump { return cond == k ? Int(ins.c) : pc + 1 }
    return pc + 1
  }

  /// A comparison where the right-hand register is folded: each side is folded if its register
  /// is (`x == lower(y)` folds `y` only).
  func foldedOp(_ op: Opcode, _ s: BytesRegister, _ t: BytesRegister) -> Bool {
    let lower = { (r: BytesRegister, i: Int) -> UInt8 in
      let c = r.base.load(fromByteOffset: i, as: UInt8.self)
      return r.fold ? asciiLower(c) : c
    }
    func at(_ o: Int) -> Bool {
      for i in 0..<t.count where lower(s, o + i) != lower(t, i) { return false }
      return true
    }
    switch op {
    case .jbeqr: return s.count == t.count && at(0)
    case .jbner: return !(s.count == t.count && at(0))
    case .jbstartsr: return s.count >= t.count && at(0)
    case .jbendsr: return s.count >= t.count && at(s.count - t.count)
    default:
      if t.count > s.count { return false }
      for o in 0...(s.count - t.count) where at(o) { return true }
      return false
    }
  }
}

/// The fused field tests that read only the packet: no registers, no constants outside the op.
/// `VM.evaluate` runs a program's leading run of them (and `goto`, `match`, `noMatch`) before it
/// sets up a `Machine`, so a rule decided by such tests — the seed's rule, most early rejects,
/// chains of port/address/prefix rules — costs no register file at all.
enum FieldTest {
  @inline(__always) static func eq(_ op: UnsafePointer<PreparedOp>, _ view: UnsafeRawPointer)
    -> Bool
  {
    Int64(view.load(fromByteOffset: Int(op.pointee.offset), as: Int32.self)) == op.pointee.x
  }

  @inline(__always) static func range(_ op: UnsafePointer<PreparedOp>, _ view: UnsafeRawPointer)
    -> Bool
  {
    let v = Int64(view.load(fromByteOffset: Int(op.pointee.offset), as: Int32.self))
    return v >= op.pointee.x && v <= op.pointee.y
  }

  @inline(__always) static func addrV4Range(
    _ op: UnsafePointer<PreparedOp>, _ view: UnsafeRawPointer, _ packet: UnsafePointer<PacketView>
  ) -> Bool {
    guard packet.pointee.hasAddresses else { return false }
    let x = view.load(fromByteOffset: Int(op.pointee.offset), as: IPAddress.self)
    return x.high == 0 && x.low >= UInt64(bitPattern: op.pointee.x)
      && x.low <= UInt64(bitPattern: op.pointee.y)
  }

  /// The bytes field starts with the `a` (<= 8) bytes of x (little-endian; y keeps them).
  @inline(__always) static func startsShort(
    _ op: UnsafePointer<PreparedOp>, _ view: UnsafeRawPointer
  ) -> Bool {
    guard
      let f = view.load(fromByteOffset: Int(op.pointee.offset), as: UnsafeRawBufferPointer?.self)
    else { return false }
    let prefix = op.pointee.x
    if f.count >= 8 {
      let v = UInt64(littleEndian: f.baseAddress!.loadUnaligned(as: UInt64.self))
      return v & UInt64(bitPattern: op.pointee.y) == UInt64(bitPattern: prefix)
    }
    let count = Int(op.pointee.a)
    guard f.count >= count else { return false }
    for i in 0..<count where f[i] != UInt8(truncatingIfNeeded: prefix >> (8 * i)) { return false }
    return true
  }

  /// Runs from `pc` while the ops are field tests, `goto`, `match` or `noMatch` — and, given
  /// `candidates`, `dispatch` and `next`. Returns the verdict (`rule` -1 for `noMatch`; no
  /// rewrites, as no `set` ran), or nil with `pc` where a `Machine` must go on (with
  /// `candidates` as they are).
  @inline(__always) static func run(
    _ ops: UnsafePointer<PreparedOp>, _ packet: UnsafePointer<PacketView>, pc: inout Int,
    candidates: UnsafeMutablePointer<CandidateLists>? = nil
  ) -> Verdict? {
    let view = UnsafeRawPointer(packet)
    while true {
      let op = ops + pc
      let cond: Bool
      switch op.pointee.kind {
      case .goto:
        pc = Int(op.pointee.ifTrue)
        continue
      case .match:
        return Verdict(rule: Int32(truncatingIfNeeded: op.pointee.offset), rewriteCount: 0)
      case .noMatch: return Verdict(rule: -1, rewriteCount: 0)
      case .dispatch:
        guard let candidates else { return nil }
        pc = candidates.pointee.dispatch(Int(op.pointee.b), from: pc)
        continue
      case .next:
        guard let candidates else { return nil }
        pc = candidates.pointee.next(Int(op.pointee.b), after: Int(op.pointee.offset), from: pc)
        continue
      case .fieldEq: cond = eq(op, view)
      case .fieldRange: cond = range(op, view)
      case .addrV4Range: cond = addrV4Range(op, view, packet)
      case .startsShort: cond = startsShort(op, view)
      default: return nil
      }
      pc = Int(cond ? op.pointee.ifTrue : op.pointee.ifFalse)
    }
  }
}
