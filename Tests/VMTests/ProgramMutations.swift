// The ways VerifierMutationTests breaks programs: bytes of the binary form (with the section
// checksums repaired or not), instructions, constants and tables in memory, and programs made up
// at random from well-formed instruction shapes.

@testable import RuleLang
@testable import VM

enum Mutate {
  /// Whether `ProgramCodec.encode` can write `p`: its table indexes fit in 32 bits.
  static func encodable(_ p: Program) -> Bool {
    let fits = { (x: Int) in UInt32(exactly: x) != nil }
    return p.rulelists.allSatisfy { fits($0.entry) }
      && p.rules.allSatisfy { r in
        switch r.action {
        case .drop: return fits(r.rulelist)
        case .route(let x), .apply(let x): return fits(r.rulelist) && fits(x)
        }
      }
  }

  /// Where each section's checksum and payload are, as far as the header can be read.
  static func sections(_ bytes: [UInt8]) -> [(crc: Int, payload: Range<Int>)] {
    func u32(_ at: Int) -> Int? {
      guard at >= 0, at + 4 <= bytes.count else { return nil }
      return (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) }
    }
    guard let count = u32(8) else { return [] }
    var out: [(Int, Range<Int>)] = []
    var at = 12
    for _ in 0..<min(count, 64) {
      guard let length = u32(at + 4), at + 12 + length <= bytes.count else { break }
      out.append((at + 8, (at + 12)..<(at + 12 + length)))
      at += 12 + length
    }
    return out
  }

  /// Rewrites every section's CRC so that only the content is wrong.
  static func repairChecksums(_ bytes: inout [UInt8]) {
    for s in sections(bytes) {
      let crc = ProgramCodec.crc32(Array(bytes[s.payload]))
      for i in 0..<4 { bytes[s.crc + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    }
  }

  static let interesting: [UInt8] = [0, 1, 2, 3, 4, 7, 8, 15, 16, 0x7F, 0x80, 0x81, 0xFE, 0xFF]

  /// Changes 1–4 bytes, or cuts or grows the tail, anywhere (`inSections`: inside a section's
  /// payload, so that a repaired checksum lets the change through).
  static func bytes(_ b: inout [UInt8], _ rng: inout SeededRandom, inSections: Bool) {
    let payloads = sections(b).map(\.payload).filter { !$0.isEmpty }
    for _ in 0..<(1 + rng.int(4)) {
      var at = rng.int(b.count)
      if inSections, !payloads.isEmpty {
        let r = payloads[rng.int(payloads.count)]
        at = r.lowerBound + rng.int(r.count)
      }
      switch rng.int(6) {
      case 0: b[at] ^= UInt8(1) << UInt8(rng.int(8))
      case 1: b[at] = interesting[rng.int(interesting.count)]
      case 2: b[at] = UInt8(truncatingIfNeeded: rng.next())
      case 3: b[at] = b[at] &+ (rng.chance(50) ? 1 : 0xFF)
      case 4 where !inSections: b.removeLast(min(b.count - 1, 1 + rng.int(16)))
      default: b[at] = b[rng.int(b.count)]
      }
    }
  }

  /// A value for an operand: small, on a register or table boundary, or anything.
  static func operand(_ rng: inout SeededRandom, _ width: Int, codeCount: Int) -> UInt64 {
    let choices: [UInt64] = [
      0, 1, 2, 3, 4, 7, 8, 15, 16, 0x7F, 0x80, 0x84, 0xFF, 0x100, 0xFFFF,
      UInt64(codeCount), UInt64(max(0, codeCount - 1)), UInt64(codeCount + 1), 0xFFFF_FFFF,
    ]
    let v = rng.chance(70) ? choices[rng.int(choices.count)] : rng.next()
    return width == 64 ? v : v & ((1 << UInt64(width)) - 1)
  }

  static func instruction(_ i: inout Instruction, _ rng: inout SeededRandom, codeCount n: Int) {
    switch rng.int(5) {
    case 0: i.op = Opcode.allCases[rng.int(Opcode.allCases.count)]
    case 1: i.a = UInt8(truncatingIfNeeded: operand(&rng, 8, codeCount: n))
    case 2: i.b = UInt16(truncatingIfNeeded: operand(&rng, 16, codeCount: n))
    case 3: i.c = UInt32(truncatingIfNeeded: operand(&rng, 32, codeCount: n))
    default: i.a ^= 0x80
    }
  }

  /// A random constant: well formed most of the time, of any kind.
  static func constant(_ rng: inout SeededRandom, codeCount n: Int) -> Constant {
    func addr() -> IPAddress {
      rng.chance(60)
        ? IPAddress(v4: UInt32(truncatingIfNeeded: rng.next()))
        : IPAddress(high: rng.next(), low: rng.next())
    }
    switch rng.int(9) {
    case 0: return .int(Int64(bitPattern: operand(&rng, 64, codeCount: n)))
    case 1: return .bytes((0..<rng.int(6)).map { _ in interesting[rng.int(interesting.count)] })
    case 2: return .ip(addr())
    case 3:
      let xs = (0..<rng.int(4)).map { _ in Int64(rng.int(100)) - 10 }.sorted()
      return .intSet(Intervals.normalize(xs.map { $0...($0 + Int64(rng.int(5))) }))
    case 4:
      let xs = (0..<rng.int(3)).map { _ in addr() }
      return .ipSet(Intervals.normalize(xs.map { IPInterval(lo: $0, hi: $0) }))
    case 5:
      let ms = Set(
        (0..<rng.int(4)).map { _ in (0..<rng.int(4)).map { _ in UInt8(0x61 + rng.int(3)) } })
      return .bytesSet(ms.sorted { $0.lexicographicallyPrecedes($1) })
    case 6:
      let patterns = ["a", "ab+c", "^x$", "[0-9]+", "(?i)get", "^$", "a|b|c$"]
      return .automaton(try! RegexAutomaton.compile(patterns[rng.int(patterns.count)]))
    case 7:
      let paths = [
        "labels.x", "labels.tenant", "HTTP.headers.x-a", "HTTP.headers.", "labels.", "JSONSocket.a",
        "x",
      ]
      return .path(paths[rng.int(paths.count)])
    default:
      var pcs = Set<UInt32>()
      for _ in 0..<rng.int(4) { pcs.insert(UInt32(rng.int(n + 1))) }
      let rules = pcs.sorted()
      func list() -> [UInt32] {
        Set((0..<rng.int(3)).map { _ in UInt32(rng.int(rules.count + 1)) }).sorted()
      }
      var x = RuleIndex(
        rulePCs: rules, end: UInt32(rng.int(n + 1)), always: list(), intTables: [], ipTables: [],
        prefixTables: [])
      if rng.chance(50) {
        x.intTables.append(
          IntKeyTable(
            field: rng.chance(80) ? .dstPort : .payload, lo: [1, 10], hi: [5, 20],
            lists: [list(), list()]))
      }
      if rng.chance(30) {
        x.ipTables.append(
          IPKeyTable(
            field: .srcAddr, lo: [IPAddress(v4: 0)], hi: [IPAddress(v4: 0xFFFF_FFFF)],
            lists: [list()]))
      }
      if rng.chance(40) {
        x.prefixTables.append(
          PrefixKeyTable(
            field: .payload, edgeBytes: [[0x47], [0x45], []], edgeTargets: [[1], [2], []],
            lists: [list(), list(), list()]))
      }
      return .ruleIndex(x)
    }
  }

  /// Changes the inside of a constant, keeping its kind.
  static func inside(_ k: Constant, _ rng: inout SeededRandom, codeCount n: Int) -> Constant {
    switch k {
    case .intSet(let rs) where !rs.isEmpty:
      var xs = rs
      let i = rng.int(xs.count)
      xs[i] = xs[i].upperBound...(xs[i].upperBound + Int64(rng.int(3)))
      if rng.chance(50) { xs.reverse() }
      return .intSet(xs)
    case .ipSet(let rs) where !rs.isEmpty:
      return .ipSet(rs.reversed() + [rs[0]])
    case .bytesSet(let ms) where !ms.isEmpty:
      return .bytesSet(ms + [ms[0]])
    case .automaton(let a):
      var t = a.transitions
      t[rng.int(t.count)] = UInt32(rng.int(a.stateCount + 2))
      return .automaton(
        RegexAutomaton(
          transitions: t, accepting: a.accepting, acceptingAtEnd: a.acceptingAtEnd,
          start: rng.chance(20) ? UInt32(a.stateCount) : a.start))
    case .ruleIndex(var x):
      switch rng.int(6) {
      case 0 where !x.rulePCs.isEmpty:
        x.rulePCs[rng.int(x.rulePCs.count)] = UInt32(rng.int(n + 2))
      case 1: x.end = UInt32(rng.int(n + 2))
      case 2: x.always.append(UInt32(rng.int(x.rulePCs.count + 2)))
      case 3 where !x.intTables.isEmpty && !x.intTables[0].lists.isEmpty:
        x.intTables[0].lists[0] = [UInt32(rng.int(x.rulePCs.count + 1))]
      case 4 where !x.prefixTables.isEmpty:
        let t = x.prefixTables[0]
        if !t.edgeTargets.isEmpty, !t.edgeTargets[0].isEmpty {
          x.prefixTables[0].edgeTargets[0][0] = UInt32(rng.int(t.lists.count + 1))
        }
      default:
        x.rulePCs = x.rulePCs.reversed()
      }
      return .ruleIndex(x)
    default:
      return constant(&rng, codeCount: n)
    }
  }

  /// One to three changes to the program in memory.
  static func program(_ p: inout Program, _ rng: inout SeededRandom) {
    for _ in 0..<(1 + rng.int(3)) {
      let n = p.code.count
      switch rng.int(12) {
      case 0...4 where n > 0:
        instruction(&p.code[rng.int(n)], &rng, codeCount: n)
      case 5 where n > 1:
        p.code.swapAt(rng.int(n), rng.int(n))
      case 6 where n > 0:
        if rng.chance(50) {
          p.code.remove(at: rng.int(n))
        } else {
          p.code.insert(p.code[rng.int(n)], at: rng.int(n + 1))
        }
      case 7 where !p.constants.isEmpty:
        let i = rng.int(p.constants.count)
        p.constants[i] = inside(p.constants[i], &rng, codeCount: n)
      case 8:
        if p.constants.isEmpty || rng.chance(30) {
          p.constants.append(constant(&rng, codeCount: n))
        } else {
          p.constants[rng.int(p.constants.count)] = constant(&rng, codeCount: n)
        }
      case 9 where !p.rulelists.isEmpty:
        let i = rng.int(p.rulelists.count)
        let l = p.rulelists[i]
        p.rulelists[i] = RulelistInfo(
          name: l.name, protocolName: l.protocolName,
          entry: rng.chance(80) ? rng.int(n + 1) : Int(Int32.min) + rng.int(3))
      case 10 where !p.rules.isEmpty:
        let i = rng.int(p.rules.count)
        let r = p.rules[i]
        let x = rng.int(p.rulelists.count + 2) - (rng.chance(10) ? 3 : 0)
        let action: RuleAction = [.drop, .route(x), .apply(x)][rng.int(3)]
        p.rules[i] = RuleInfo(
          name: r.name, rulelist: rng.chance(80) ? r.rulelist : x, line: r.line, action: action)
      default:
        if rng.chance(50), !p.rules.isEmpty { p.rules.removeLast() } else { p.routes = [] }
      }
    }
  }

  /// A program made up from nothing: mostly well-formed instructions (as `InstructionShape` has
  /// them, with registers, constants and targets drawn at random), so that many pass the verifier
  /// and run.
  static func randomProgram(_ rng: inout SeededRandom) -> Program {
    let n = 1 + rng.int(24)
    // One constant of each kind but the rule index, then a few at random.
    var constants = Array(Pool.constants.dropLast())
    for _ in 0..<rng.int(4) { constants.append(constant(&rng, codeCount: n)) }
    let shapes = InstructionShape.all
    var code: [Instruction] = []
    let rules = rng.int(4)
    for pc in 0..<n {
      if pc == n - 1 {
        code.append(
          rules > 0 && rng.chance(50)
            ? Instruction(.match, c: UInt32(rng.int(rules))) : Instruction(.noMatch))
        break
      }
      let shape = shapes[rng.int(shapes.count)]
      var ins = shape.ins
      for (operand, file) in shape.registers where rng.chance(99) {
        ins = operand.set(ins, rng.int(file.count))
      }
      if let (operand, kind) = shape.constant {
        let fitting = constants.indices.filter { constants[$0].kindName == Pool.kindNames[kind] }
        let k =
          !fitting.isEmpty && rng.chance(97)
          ? fitting[rng.int(fitting.count)] : rng.int(constants.count + 1)
        ins = operand.set(ins, k)
      }
      if ins.op == .match {
        ins.c = UInt32(rng.int(rng.chance(97) ? max(rules, 1) : rules + 1))
      }
      if ins.op.jumps {
        ins.c = UInt32(pc + 1 + rng.int(rng.chance(97) ? n - pc - 1 : n - pc))
      }
      if ins.op == .setk {
        ins.c = UInt32(
          rng.chance(97)
            ? [Pool.int, Pool.bytes, Pool.ip][rng.int(3)] : rng.int(constants.count + 1))
      }
      if ins.op.isConditionalJump, rng.chance(50) { ins.a ^= 0x80 }
      if rng.chance(2) { instruction(&ins, &rng, codeCount: n) }
      code.append(ins)
    }
    var lists = [RulelistInfo(name: "a", protocolName: "UDP", entry: 0)]
    if rng.chance(30) {
      lists.append(RulelistInfo(name: "b", protocolName: "UDP", entry: rng.int(n)))
    }
    return Program(
      code: code, constants: constants, rulelists: lists,
      rules: (0..<rules).map {
        RuleInfo(
          name: "r\($0)", rulelist: 0, line: 1,
          action: $0 == 0 ? .route(0) : .apply(lists.count - 1))
      },
      routes: [RouteInfo(destination: "d", via: [], returnVia: [])], sourceName: "random")
  }
}
