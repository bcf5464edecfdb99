import RuleLang

/// The verified code as the interpreter runs it: one `PreparedOp` per instruction, made once at
/// load time. It changes nothing in what a program means; it moves work from every packet to the
/// load: each conditional jump's two successors are resolved (no polarity test per step), constants
/// are read into the instruction (no constant-pool lookup), packet fields become byte offsets into
/// the `PacketView` (no switch over the field), and the common shapes get a kind of their own — a
/// single CIDR or range compared without a search, a short `starts` prefix compared with one
/// masked load. Everything else is `.general`: the interpreter runs the original instruction out of
/// line (`Machine.general`), so the hot loop stays small.
struct PreparedOp {
  enum Kind: UInt8 {
    /// The original instruction, run by `Machine.general`.
    case general
    /// pc = ifTrue (`jump`, `apply`, `nop`).
    case goto
    case match
    case noMatch
    case dispatch
    case next
    /// Int field at byte offset `offset` (an `Int32`, -1 when absent) == x.
    case fieldEq
    /// x <= int field <= y, x >= 0 (so an absent field, -1, is outside).
    case fieldRange
    /// Int field in the interval set K[b].
    case fieldIn
    /// IPv4-mapped address field at `offset` in x...y (the low 64 bits of both bounds; their high
    /// halves are 0).
    case addrV4Range
    /// Address field at `offset` in the ip set K[b].
    case addrIn
    /// Bytes field at `offset` starts with the `a` bytes of x (little-endian; y masks them).
    case startsShort
    /// R[a] = u8 / u16 / u32 of S[b] at x.
    case loadByte, loadHalf, loadWord
    /// R[a] = len(S[b]).
    case length
    /// R[a] = R[a] & x.
    case andImm
    /// R[a] compared with x; false when R[a] is not present.
    case eqImm, neImm, ltImm, leImm, gtImm, geImm
    /// x <= R[a] <= y.
    case rangeImm
    /// A load, maybe a mask, and a comparison of the loaded register with a constant — three
    /// instructions the compiler emits in a row for `payload[0] & 0xc0 == 0x80` — run as one:
    /// R[a] = len(S[b]) / u8 / u16 / u32 of S[b] at x, then R[a] &= y (y = -1 without a mask),
    /// then the condition `relation` (see `Relation`) between R[a] and z. The instructions after
    /// the first stay in the code as they are, for paths that jump to them.
    case lengthTest, byteTest, halfTest, wordTest
  }

  /// The outcomes a comparison holds for, as bits: 4 when less, 2 when equal, 1 when greater.
  enum Relation {
    static let eq: UInt8 = 0b010
    static let ne: UInt8 = 0b101
    static let lt: UInt8 = 0b100
    static let le: UInt8 = 0b110
    static let gt: UInt8 = 0b001
    static let ge: UInt8 = 0b011

    @inline(__always) static func holds(_ relation: UInt8, _ v: Int64, _ z: Int64) -> Bool {
      let outcome: UInt8 = v < z ? 2 : v == z ? 1 : 0
      return relation &>> outcome & 1 != 0
    }
  }

  var kind: Kind
  var a: UInt8 = 0
  var b: UInt16 = 0
  /// Where a conditional jump goes when its condition holds / does not hold (polarity applied);
  /// for `goto`, the target; for other kinds, the next instruction.
  var ifTrue: UInt32 = 0
  var ifFalse: UInt32 = 0
  /// A byte offset into `PacketView`, or an original operand.
  var offset: UInt32 = 0
  var x: Int64 = 0
  var y: Int64 = 0
  var z: Int64 = 0
  /// For the `…Test` kinds.
  var relation: UInt8 = 0
}

/// Byte offsets of the fields in `PacketView`, for loads without a switch.
enum FieldOffsets {
  static let srcAddr = MemoryLayout<PacketView>.offset(of: \.srcAddr)!
  static let dstAddr = MemoryLayout<PacketView>.offset(of: \.dstAddr)!
  static let srcPort = MemoryLayout<PacketView>.offset(of: \.srcPort)!
  static let dstPort = MemoryLayout<PacketView>.offset(of: \.dstPort)!
  static let hasAddresses = MemoryLayout<PacketView>.offset(of: \.hasAddresses)!

  /// The offset of field `f`'s value: an `Int32` port, an `IPAddress` or an optional byte view.
  static func of(_ f: Field) -> Int {
    switch f {
    case .srcAddr: return srcAddr
    case .dstAddr: return dstAddr
    case .srcPort: return srcPort
    case .dstPort: return dstPort
    case .payload: return MemoryLayout<PacketView>.offset(of: \.payload)!
    case .httpMethod: return MemoryLayout<PacketView>.offset(of: \.httpMethod)!
    case .httpPath: return MemoryLayout<PacketView>.offset(of: \.httpPath)!
    case .httpQuery: return MemoryLayout<PacketView>.offset(of: \.httpQuery)!
    case .httpHost: return MemoryLayout<PacketView>.offset(of: \.httpHost)!
    case .unixFilename: return MemoryLayout<PacketView>.offset(of: \.unixFilename)!
    }
  }
}

extension PreparedOp {
  /// Prepares verified `code` (operands already checked: fields exist and have the right kind,
  /// constants exist and have the right kind).
  static func prepare(
    _ code: [Instruction], _ constants: [Constant], specialized: Bool = true
  ) -> [PreparedOp] {
    code.indices.map { pc in
      let op = prepare(code[pc], at: pc, constants)
      if specialized || op.kind == .match || op.kind == .noMatch {
        return specialized ? fused(code, at: pc, constants) ?? op : op
      }
      return PreparedOp(kind: .general)
    }
  }

  /// `len`/`ldb`/`ldh`/`ldw` into R[a], maybe `andi`/`andk` on R[a], then a comparison of R[a] with
  /// a constant: one `…Test` op. Falling through the three instructions is all the fused op does,
  /// so jumps into the middle need no care (those instructions are still there, unfused).
  static func fused(_ code: [Instruction], at pc: Int, _ constants: [Constant]) -> PreparedOp? {
    let load = code[pc]
    let kinds: [Opcode: Kind] = [
      .len: .lengthTest, .ldb: .byteTest, .ldh: .halfTest, .ldw: .wordTest,
    ]
    guard let kind = kinds[load.op], pc + 1 < code.count else { return nil }
    let a = load.a & 0x7F
    var mask: Int64 = -1
    var at = pc + 1
    if code[at].op == .andi || code[at].op == .andk, code[at].a & 0x7F == a {
      if code[at].op == .andi {
        mask = Int64(code[at].c)
      } else if case .int(let v) = constants[Int(code[at].c)] {
        mask = v
      }
      at += 1
      guard at < code.count else { return nil }
    }
    let test = code[at]
    guard test.a & 0x7F == a else { return nil }
    let relations: [Opcode: UInt8] = [
      .jeqi: Relation.eq, .jnei: Relation.ne, .jeqk: Relation.eq, .jnek: Relation.ne,
      .jltk: Relation.lt, .jlek: Relation.le, .jgtk: Relation.gt, .jgek: Relation.ge,
    ]
    guard let relation = relations[test.op] else { return nil }
    var value = Int64(test.b)
    if test.op != .jeqi && test.op != .jnei {
      guard case .int(let v) = constants[Int(test.b)] else { return nil }
      value = v
    }
    var op = prepare(test, at: at, constants)  // its successors
    op.kind = kind
    op.a = a
    op.b = load.b
    op.x = Int64(load.c)
    op.y = mask
    op.z = value
    op.relation = relation
    return op
  }

  /// Whether any instruction reads a byte-string register (so `S0` must hold the payload).
  static func readsBytesRegisters(_ code: [Instruction]) -> Bool {
    code.contains { ins in
      switch ins.op {
      case .ldb, .ldh, .ldw, .ldbx, .ldhx, .ldwx, .slice, .slicex, .len, .movs, .fold,
        .jbeq, .jbne, .jbstarts, .jbends, .jbcontains, .jbmatches, .jbin,
        .jbeqr, .jbner, .jbstartsr, .jbendsr, .jbcontainsr, .sets:
        return true
      case .jpresent: return ins.b == 1
      default: return false
      }
    }
  }

  static func prepare(_ ins: Instruction, at pc: Int, _ constants: [Constant]) -> PreparedOp {
    let next = UInt32(pc + 1)
    let k = ins.a & 0x80 != 0
    let a = ins.a & 0x7F
    let b = Int(ins.b)
    var op = PreparedOp(kind: .general, ifTrue: next, ifFalse: next)
    if ins.op.isConditionalJump {
      op.ifTrue = k ? ins.c : next
      op.ifFalse = k ? next : ins.c
    }
    func int(_ i: Int) -> Int64 {
      if case .int(let v) = constants[i] { return v }
      return 0
    }
    /// The single interval of set K[i], if it has exactly one.
    func oneInterval(_ i: Int) -> ClosedRange<Int64>? {
      if case .intSet(let rs) = constants[i], rs.count == 1 { return rs[0] }
      return nil
    }
    func field(_ raw: UInt8) -> Field { Field(rawValue: raw)! }
    switch ins.op {
    case .nop, .jump, .apply:
      op.kind = .goto
      if ins.op != .nop { op.ifTrue = ins.c }
    case .match:
      op.kind = .match
      op.offset = ins.c
    case .noMatch: op.kind = .noMatch
    case .dispatch, .next:
      op.kind = ins.op == .dispatch ? .dispatch : .next
      op.b = ins.b
      op.offset = ins.c
    case .jfeqi:
      op.kind = .fieldEq
      op.offset = UInt32(FieldOffsets.of(field(a)))
      op.x = Int64(b)
    case .jfink:
      op.offset = UInt32(FieldOffsets.of(field(a)))
      op.b = ins.b
      op.kind = .fieldIn
      if let r = oneInterval(b) {
        // Present fields are >= 0; an empty range after clamping never holds.
        op.kind = .fieldRange
        op.x = max(r.lowerBound, 0)
        op.y = r.upperBound
      }
    case .jfcidr:
      op.offset = UInt32(FieldOffsets.of(field(a)))
      op.b = ins.b
      op.kind = .addrIn
      if case .ipSet(let rs) = constants[b], rs.count == 1, rs[0].lo.high == 0,
        rs[0].hi.high == 0
      {
        op.kind = .addrV4Range
        op.x = Int64(bitPattern: rs[0].lo.low)
        op.y = Int64(bitPattern: rs[0].hi.low)
      }
    case .jfstarts:
      if case .bytes(let prefix) = constants[b], prefix.count <= 8 {
        op.kind = .startsShort
        op.offset = UInt32(FieldOffsets.of(field(a)))
        op.a = UInt8(prefix.count)
        var value: UInt64 = 0
        for (i, c) in prefix.enumerated() { value |= UInt64(c) << (8 * i) }
        op.x = Int64(bitPattern: value)
        op.y = prefix.count == 8 ? -1 : Int64(bitPattern: (1 << (8 * UInt64(prefix.count))) - 1)
      }
    case .ldb, .ldh, .ldw:
      op.kind = ins.op == .ldb ? .loadByte : ins.op == .ldh ? .loadHalf : .loadWord
      op.a = a
      op.b = ins.b
      op.x = Int64(ins.c)
    case .len:
      op.kind = .length
      op.a = a
      op.b = ins.b
    case .andi, .andk:
      op.kind = .andImm
      op.a = a
      op.x = ins.op == .andi ? Int64(ins.c) : int(Int(ins.c))
    case .jeqi, .jnei:
      op.kind = ins.op == .jeqi ? .eqImm : .neImm
      op.a = a
      op.x = Int64(b)
    case .jeqk, .jnek, .jltk, .jlek, .jgtk, .jgek:
      let kinds: [Opcode: Kind] = [
        .jeqk: .eqImm, .jnek: .neImm, .jltk: .ltImm, .jlek: .leImm, .jgtk: .gtImm, .jgek: .geImm,
      ]
      op.kind = kinds[ins.op]!
      op.a = a
      op.x = int(b)
    case .jink:
      if let r = oneInterval(b) {
        op.kind = .rangeImm
        op.a = a
        op.x = r.lowerBound
        op.y = r.upperBound
      }
    default: break
    }
    return op
  }
}
