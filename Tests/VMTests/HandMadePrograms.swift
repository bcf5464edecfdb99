// Programs built instruction by instruction, for the verifier's tests: a constant pool with one
// entry of every kind, the well-formed shape of every instruction (which registers and constants
// its operands name), and a bad program with what the verifier must say about it.

import Testing

@testable import RuleLang
@testable import VM

/// A constant pool with one entry of every kind, in this order.
enum Pool {
  static let int = 0
  static let bytes = 1
  static let ip = 2
  static let intSet = 3
  static let ipSet = 4
  static let bytesSet = 5
  static let automaton = 6
  static let path = 7
  static let ruleIndex = 8

  static let constants: [Constant] = [
    .int(7),
    .bytes(Array("abc".utf8)),
    .ip(IPAddress(v4: 0x0A00_0001)),
    .intSet([1...2, 10...20]),
    .ipSet([IPInterval(lo: IPAddress(v4: 0x0A00_0000), hi: IPAddress(v4: 0x0AFF_FFFF))]),
    .bytesSet([Array("a".utf8), Array("b".utf8)]),
    .automaton(try! RegexAutomaton.compile("ab+c")),
    .path("labels.x"),
    // For code of two instructions (the tested one, then `noMatch`): one rule at 1, ending at 1.
    .ruleIndex(
      RuleIndex(rulePCs: [1], end: 1, always: [0], intTables: [], ipTables: [], prefixTables: [])),
  ]

  static let kindNames = constants.map(\.kindName)
}

/// A program of one rulelist (entry 0) around `code`, with `rules` drop rules and `routes` routes.
func handMade(
  _ code: [Instruction], constants: [Constant] = Pool.constants, rules: Int = 1, routes: Int = 1,
  lists: [Int] = [0]
) -> Program {
  Program(
    code: code, constants: constants,
    rulelists: lists.enumerated().map {
      RulelistInfo(name: "l\($0.offset)", protocolName: "UDP", entry: $0.element)
    },
    rules: (0..<rules).map { RuleInfo(name: "r\($0)", rulelist: 0, line: $0 + 1, action: .drop) },
    routes: (0..<routes).map { _ in RouteInfo(destination: "d", via: [], returnVia: []) },
    sourceName: "hand-made")
}

/// A bad program and what the verifier must say about it.
struct BadProgram: Sendable, CustomTestStringConvertible {
  let what: String
  let program: Program
  /// The instruction the error must name (nil: a table or the whole program).
  let pc: Int?
  /// A part of the message.
  let message: String

  var testDescription: String { what }

  /// `ins` followed by `noMatch`, failing at instruction 0.
  init(_ what: String, _ ins: Instruction, _ message: String) {
    self.what = what
    self.program = handMade([ins, Instruction(.noMatch)])
    self.pc = 0
    self.message = message
  }

  init(_ what: String, _ program: Program, pc: Int?, _ message: String) {
    self.what = what
    self.program = program
    self.pc = pc
    self.message = message
  }
}

/// Which operand of an instruction names a register.
enum RegisterOperand: Sendable {
  case a, b, c, sliceDestination, sliceSource

  func set(_ ins: Instruction, _ value: Int) -> Instruction {
    var i = ins
    switch self {
    case .a: i.a = i.a & 0x80 | UInt8(value)
    case .b: i.b = UInt16(value)
    case .c: i.c = UInt32(value)
    case .sliceDestination: i.a = i.a & 0xF0 | UInt8(value)
    case .sliceSource: i.a = i.a & 0x0F | UInt8(value << 4)
    }
    return i
  }
}

enum RegisterFile: String, Sendable {
  case int, bytes, ip
  var count: Int {
    switch self {
    case .int: return Registers.ints
    case .bytes: return Registers.bytes
    case .ip: return Registers.ips
    }
  }
}

/// The well-formed form of every instruction, with the highest register numbers that exist, and
/// which of its operands are registers and constants. A conditional jump targets instruction 1
/// (`noMatch`) and has its polarity bit set.
struct InstructionShape: Sendable {
  let ins: Instruction
  let registers: [(RegisterOperand, RegisterFile)]
  /// The operand holding a constant index, and the kind it needs.
  let constant: (RegisterOperand, Int)?

  init(
    _ ins: Instruction, _ registers: [(RegisterOperand, RegisterFile)] = [],
    constant: (RegisterOperand, Int)? = nil
  ) {
    self.ins = ins
    self.registers = registers
    self.constant = constant
  }

  static func jump(_ op: Opcode, a: Int = 0, b: Int = 0) -> Instruction {
    Instruction(op, a: UInt8(a) | 0x80, b: UInt16(b), c: 1)
  }

  static let all: [InstructionShape] = {
    let field = { (f: Field) in UInt16(f.rawValue) }
    let (i, s, p) = (Registers.ints - 1, Registers.bytes - 1, Registers.ips - 1)
    func ins(_ op: Opcode, a: Int = 0, b: Int = 0, c: Int = 0) -> Instruction {
      Instruction(op, a: UInt8(a), b: UInt16(b), c: UInt32(c))
    }
    var shapes: [InstructionShape] = [
      .init(ins(.nop)),
      .init(ins(.jump, c: 1)),
      .init(ins(.match, c: 0)),
      .init(ins(.dispatch, b: Pool.ruleIndex), constant: (.b, Pool.ruleIndex)),
      .init(ins(.next, b: Pool.ruleIndex, c: 0), constant: (.b, Pool.ruleIndex)),
      .init(Instruction(.ldf, a: UInt8(i), b: field(.dstPort)), [(.a, .int)]),
      .init(ins(.ldi, a: i, c: 0xFFFF_FFFF), [(.a, .int)]),
      .init(ins(.ldk, a: i, c: Pool.int), [(.a, .int)], constant: (.c, Pool.int)),
      .init(Instruction(.lds, a: UInt8(s), b: field(.unixFilename)), [(.a, .bytes)]),
      .init(ins(.ldsk, a: s, c: Pool.bytes), [(.a, .bytes)], constant: (.c, Pool.bytes)),
      .init(ins(.ldhdr, a: s, c: Pool.path), [(.a, .bytes)], constant: (.c, Pool.path)),
      .init(Instruction(.ldip, a: UInt8(p), b: field(.dstAddr)), [(.a, .ip)]),
      .init(ins(.ldipk, a: p, c: Pool.ip), [(.a, .ip)], constant: (.c, Pool.ip)),
      .init(ins(.ldlab, a: i, b: 0, c: Pool.path), [(.a, .int)], constant: (.c, Pool.path)),
      .init(ins(.ldlab, a: s, b: 1, c: Pool.path), [(.a, .bytes)], constant: (.c, Pool.path)),
      .init(ins(.ldlab, a: p, b: 2, c: Pool.path), [(.a, .ip)], constant: (.c, Pool.path)),
      .init(
        ins(.slice, a: s | s << 4, b: 0xFFFF, c: 0xFFFF_FFFF),
        [
          (.sliceDestination, .bytes), (.sliceSource, .bytes),
        ]),
      .init(
        ins(.slicex, a: s | s << 4, b: i, c: i),
        [
          (.sliceDestination, .bytes), (.sliceSource, .bytes), (.b, .int), (.c, .int),
        ]),
      .init(ins(.len, a: i, b: s), [(.a, .int), (.b, .bytes)]),
      .init(ins(.movs, a: s, b: s), [(.a, .bytes), (.b, .bytes)]),
      .init(ins(.fold, a: s), [(.a, .bytes)]),
      .init(ins(.andi, a: i, c: 0xFF), [(.a, .int)]),
      .init(ins(.andk, a: i, c: Pool.int), [(.a, .int)], constant: (.c, Pool.int)),
      .init(ins(.andr, a: i, b: i), [(.a, .int), (.b, .int)]),
      .init(jump(.jfeqi, a: Int(Field.srcPort.rawValue), b: 0xFFFF)),
      .init(
        jump(.jfink, a: Int(Field.srcPort.rawValue), b: Pool.intSet), constant: (.b, Pool.intSet)),
      .init(
        jump(.jfcidr, a: Int(Field.srcAddr.rawValue), b: Pool.ipSet), constant: (.b, Pool.ipSet)),
      .init(
        jump(.jfstarts, a: Int(Field.httpHost.rawValue), b: Pool.bytes), constant: (.b, Pool.bytes)),
      .init(jump(.jpresent, a: i, b: 0), [(.a, .int)]),
      .init(jump(.jpresent, a: s, b: 1), [(.a, .bytes)]),
      .init(jump(.jpresent, a: p, b: 2), [(.a, .ip)]),
      .init(ins(.setk, b: Pool.path, c: Pool.int), constant: (.b, Pool.path)),
      .init(ins(.setk, b: Pool.path, c: Pool.bytes)),
      .init(ins(.setk, b: Pool.path, c: Pool.ip)),
      .init(ins(.setr, a: i, b: Pool.path), [(.a, .int)], constant: (.b, Pool.path)),
      .init(ins(.sets, a: s, b: Pool.path), [(.a, .bytes)], constant: (.b, Pool.path)),
      .init(ins(.setip, a: p, b: Pool.path), [(.a, .ip)], constant: (.b, Pool.path)),
    ]
    for op: Opcode in [.ldb, .ldh, .ldw] {
      shapes.append(.init(ins(op, a: i, b: s, c: 0xFFFF_FFFF), [(.a, .int), (.b, .bytes)]))
    }
    for op: Opcode in [.ldbx, .ldhx, .ldwx] {
      shapes.append(.init(ins(op, a: i, b: s, c: i), [(.a, .int), (.b, .bytes), (.c, .int)]))
    }
    for op: Opcode in [.jeqi, .jnei] {
      shapes.append(.init(jump(op, a: i, b: 0xFFFF), [(.a, .int)]))
    }
    for op: Opcode in [.jeqk, .jnek, .jltk, .jlek, .jgtk, .jgek] {
      shapes.append(.init(jump(op, a: i, b: Pool.int), [(.a, .int)], constant: (.b, Pool.int)))
    }
    shapes.append(
      .init(jump(.jink, a: i, b: Pool.intSet), [(.a, .int)], constant: (.b, Pool.intSet)))
    for op: Opcode in [.jeq, .jne, .jlt, .jle] {
      shapes.append(.init(jump(op, a: i, b: i), [(.a, .int), (.b, .int)]))
    }
    for op: Opcode in [.jbeq, .jbne, .jbstarts, .jbends, .jbcontains] {
      shapes.append(
        .init(jump(op, a: s, b: Pool.bytes), [(.a, .bytes)], constant: (.b, Pool.bytes)))
    }
    shapes.append(
      .init(
        jump(.jbmatches, a: s, b: Pool.automaton), [(.a, .bytes)], constant: (.b, Pool.automaton)))
    shapes.append(
      .init(jump(.jbin, a: s, b: Pool.bytesSet), [(.a, .bytes)], constant: (.b, Pool.bytesSet)))
    for op: Opcode in [.jbeqr, .jbner, .jbstartsr, .jbendsr, .jbcontainsr] {
      shapes.append(.init(jump(op, a: s, b: s), [(.a, .bytes), (.b, .bytes)]))
    }
    for op: Opcode in [.jipeq, .jipne] {
      shapes.append(.init(jump(op, a: p, b: Pool.ip), [(.a, .ip)], constant: (.b, Pool.ip)))
    }
    shapes.append(.init(jump(.jipin, a: p, b: Pool.ipSet), [(.a, .ip)], constant: (.b, Pool.ipSet)))
    for op: Opcode in [.jipeqr, .jipner] {
      shapes.append(.init(jump(op, a: p, b: p), [(.a, .ip), (.b, .ip)]))
    }
    return shapes
  }()
}
