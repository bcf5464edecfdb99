import RuleLang

extension Machine {
  /// The dispatch loop. Jumps only go forward (the verifier saw to it), so it terminates.
  mutating func run(from entry: Int) -> Verdict {
    let code = program.code.baseAddress!
    var pc = entry
    while true {
      let ins = code[pc]
      let a = Int(ins.a & 0x7F)
      let b = Int(ins.b)
      let k = ins.a & 0x80 != 0
      var cond = false
      switch ins.op {
      case .nop:
        pc += 1
        continue
      case .jump, .apply:
        pc = Int(ins.c)
        continue
      case .dispatch, .next:
        let target = ins.op == .dispatch ? dispatch(b) : next(b, after: Int(ins.c))
        // Forward only, whatever the tables say: the verified end is the fallback.
        pc = target > pc ? target : program.indexes[program.slots[b].extra].end
        continue
      case .match:
        return Verdict(
          rule: Int32(truncatingIfNeeded: ins.c),
          rewriteCount: Int32(min(rewriteCount, rewrites.count)))
      case .noMatch:
        return Verdict(rule: -1, rewriteCount: Int32(min(rewriteCount, rewrites.count)))

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
      if ins.op.isConditionalJump {
        pc = cond == k ? Int(ins.c) : pc + 1
      } else {
        pc += 1
      }
    }
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
