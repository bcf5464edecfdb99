// One hand-made bad program for every check the verifier makes, each asserting that the error names
// the instruction (or table) and says what is wrong; the well-formed version of every instruction,
// which must pass; and the inputs that once got past the verifier or crashed the VM, kept as
// regressions (as WasmKit keeps its fuzz crashes). The building blocks are in
// HandMadePrograms.swift.

import Testing

@testable import RuleLang
@testable import VM

// MARK: - The bad programs

let badPrograms: [BadProgram] = {
  var cases: [BadProgram] = []
  let shapes = InstructionShape.all

  // Each register file's bound, for every operand that names a register.
  for shape in shapes {
    for (operand, file) in shape.registers {
      let ins = operand.set(shape.ins, file.count)
      cases.append(
        BadProgram(
          "\(shape.ins.op) \(operand) is \(file) register \(file.count)", ins,
          "\(file.rawValue) register \(file.count) does not exist (there are \(file.count))"))
    }
  }

  // Each constant operand: a missing constant, then every other kind in its place.
  for shape in shapes {
    guard let (operand, kind) = shape.constant else { continue }
    cases.append(
      BadProgram(
        "\(shape.ins.op) names a missing constant", operand.set(shape.ins, 99),
        "constant 99 does not exist (the pool has \(Pool.constants.count))"))
    for other in Pool.constants.indices where Pool.kindNames[other] != Pool.kindNames[kind] {
      cases.append(
        BadProgram(
          "\(shape.ins.op) given \(Pool.kindNames[other]) for \(Pool.kindNames[kind])",
          operand.set(shape.ins, other),
          "\(shape.ins.op) needs a constant of kind \(Pool.kindNames[kind]), but K[\(other)] is \(Pool.kindNames[other])"
        ))
    }
  }
  // setk's value: an int, bytes or ip constant.
  for other in [Pool.intSet, Pool.ipSet, Pool.bytesSet, Pool.automaton, Pool.path, 99] {
    cases.append(
      BadProgram(
        "setk stores constant \(other)", Instruction(.setk, b: UInt16(Pool.path), c: UInt32(other)),
        "setk needs an int, bytes or ip constant at K[\(other)]"))
  }

  // Each field kind: a field that does not exist, and one of the wrong kind, for every reader.
  let fieldReaders: [(Opcode, Field.Kind, Bool)] = [
    (.ldf, .int, false), (.lds, .bytes, false), (.ldip, .ip, false), (.jfeqi, .int, true),
    (.jfink, .int, true), (.jfcidr, .ip, true), (.jfstarts, .bytes, true),
  ]
  for (op, kind, inA) in fieldReaders {
    let base = shapes.first { $0.ins.op == op }!.ins
    for wrong in Field.allCases where wrong.kind != kind {
      var ins = base
      if inA { ins.a = 0x80 | wrong.rawValue } else { ins.b = UInt16(wrong.rawValue) }
      cases.append(
        BadProgram(
          "\(op) reads field \(wrong)", ins, "field \(wrong) is not of the kind \(op) reads"))
    }
    var missing = base
    let raw = Field.allCases.count
    if inA { missing.a = 0x80 | UInt8(raw) } else { missing.b = UInt16(raw) }
    cases.append(BadProgram("\(op) reads field \(raw)", missing, "field \(raw) does not exist"))
  }
  var far = Instruction(.ldf, b: 300)
  cases.append(BadProgram("ldf reads field 300", far, "field 300 does not exist"))
  far = Instruction(.lds, b: 0xFFFF)
  cases.append(BadProgram("lds reads field 65535", far, "field 65535 does not exist"))

  // ldlab and jpresent: the register kind in B.
  cases.append(
    BadProgram(
      "ldlab kind 3", Instruction(.ldlab, b: 3, c: UInt32(Pool.path)),
      "ldlab kind 3 is not 0 (int), 1 (bytes) or 2 (ip)"))
  cases.append(
    BadProgram(
      "jpresent kind 3", Instruction(.jpresent, a: 0x80, b: 3, c: 1),
      "jpresent kind 3 is not 0 (int), 1 (bytes) or 2 (ip)"))

  // The polarity bit only on conditional jumps (slices use all of A for two registers).
  var polarityOps = Set<Opcode>()
  for shape in shapes where !shape.ins.op.isConditionalJump {
    guard shape.ins.op != .slice, shape.ins.op != .slicex,
      polarityOps.insert(shape.ins.op).inserted
    else { continue }
    var ins = shape.ins
    ins.a = 0x80
    cases.append(
      BadProgram(
        "\(ins.op) with a polarity bit", ins, "\(ins.op) does not take a polarity bit in A"))
  }

  // Jumps: backward, to themselves, past the end; for every opcode whose C is a target.
  for op in Opcode.allCases where op.jumps {
    let a: UInt8 = op.isConditionalJump ? 0x80 : 0
    var code = [Instruction(.nop), Instruction(op, a: a, c: 0), Instruction(.noMatch)]
    cases.append(
      BadProgram(
        "\(op) backward", handMade(code, lists: [0, 1]), pc: 1, "jump to 0 does not go forward"))
    code[1].c = 1
    cases.append(
      BadProgram(
        "\(op) to itself", handMade(code, lists: [0, 1]), pc: 1, "jump to 1 does not go forward"))
    code[1].c = 3
    cases.append(
      BadProgram(
        "\(op) past the end", handMade(code), pc: 1,
        "jump to 3 is past the end of the code (3)"))
    code[1].c = 0xFFFF_FFFF
    cases.append(
      BadProgram(
        "\(op) to 2^32-1", handMade(code), pc: 1,
        "jump to 4294967295 is past the end of the code (3)"))
  }
  cases.append(
    BadProgram(
      "apply to the middle of a rulelist",
      handMade([Instruction(.apply, c: 2), Instruction(.noMatch), Instruction(.noMatch)]), pc: 0,
      "apply to 2, which is not the start of a rulelist"))

  // The last instruction must end the program.
  for shape in shapes
  where !shape.ins.op.isTerminal && shape.ins.op != .jump && !shape.ins.op.isConditionalJump {
    cases.append(
      BadProgram(
        "\(shape.ins.op) last", handMade([shape.ins]), pc: 0,
        "the last instruction must end the program (match, noMatch, jump or apply)"))
  }

  // match names a rule of the table.
  cases.append(
    BadProgram(
      "match rule 1 of 1", Instruction(.match, c: 1), "match names rule 1, which does not exist"))
  cases.append(
    BadProgram(
      "match with no rules", handMade([Instruction(.match, c: 0)], rules: 0), pc: 0,
      "match names rule 0, which does not exist"))

  // The whole program and its tables.
  cases.append(BadProgram("no code", handMade([]), pc: nil, "the program has no code"))
  var p = handMade([Instruction(.noMatch)])
  p.rulelists = [RulelistInfo(name: "far", protocolName: "UDP", entry: 1)]
  cases.append(
    BadProgram(
      "rulelist entry past the code", p, pc: nil,
      "rulelist 0 'far' starts at 1, outside the code (0..<1)"))
  p.rulelists = [RulelistInfo(name: "neg", protocolName: "UDP", entry: -1)]
  cases.append(
    BadProgram(
      "negative rulelist entry", p, pc: nil, "rulelist 0 'neg' starts at -1, outside the code"))
  p = handMade([Instruction(.noMatch)])
  p.rules = [RuleInfo(name: "lost", rulelist: 1, line: 1, action: .drop)]
  cases.append(
    BadProgram(
      "rule in a missing rulelist", p, pc: nil,
      "rule 0 'lost' names rulelist 1, which does not exist"))
  p.rules = [RuleInfo(name: "nowhere", rulelist: 0, line: 1, action: .route(1))]
  cases.append(
    BadProgram(
      "rule with a missing route", p, pc: nil,
      "rule 0 'nowhere' names route 1, which does not exist"))
  p.rules = [RuleInfo(name: "loop", rulelist: 0, line: 1, action: .apply(-1))]
  cases.append(
    BadProgram(
      "rule applying a missing rulelist", p, pc: nil,
      "rule 0 'loop' applies rulelist -1, which does not exist"))

  // Constants that the VM searches must be well formed.
  func pool(_ k: Constant) -> Program {
    handMade([Instruction(.noMatch)], constants: [.int(0), k])
  }
  cases.append(
    BadProgram(
      "int set out of order", pool(.intSet([5...6, 1...2])), pc: nil,
      "constant 1: int set intervals are not sorted and disjoint"))
  cases.append(
    BadProgram(
      "int set overlapping", pool(.intSet([1...5, 5...6])), pc: nil,
      "constant 1: int set intervals are not sorted and disjoint"))
  let a1 = IPAddress(v4: 1)
  let a2 = IPAddress(v4: 2)
  cases.append(
    BadProgram(
      "ip interval empty", pool(.ipSet([IPInterval(lo: a2, hi: a1)])), pc: nil,
      "constant 1: ip interval 0.0.0.2..0.0.0.1 is empty"))
  cases.append(
    BadProgram(
      "ip set out of order",
      pool(.ipSet([IPInterval(lo: a2, hi: a2), IPInterval(lo: a1, hi: a1)])), pc: nil,
      "constant 1: ip set intervals are not sorted and disjoint"))
  cases.append(
    BadProgram(
      "ip set repeated", pool(.ipSet([IPInterval(lo: a1, hi: a1), IPInterval(lo: a1, hi: a2)])),
      pc: nil,
      "constant 1: ip set intervals are not sorted and disjoint"))
  cases.append(
    BadProgram(
      "bytes set out of order", pool(.bytesSet([[2], [1]])), pc: nil,
      "constant 1: byte-string set is not sorted and distinct"))
  cases.append(
    BadProgram(
      "bytes set repeated", pool(.bytesSet([[1], [1]])), pc: nil,
      "constant 1: byte-string set is not sorted and distinct"))
  let good = try! RegexAutomaton.compile("x")
  let automata: [(String, RegexAutomaton, String)] = [
    (
      "no states", RegexAutomaton(transitions: [], accepting: [], acceptingAtEnd: [], start: 0),
      "it has no states"
    ),
    (
      "short row",
      RegexAutomaton(
        transitions: Array(good.transitions.dropLast()), accepting: good.accepting,
        acceptingAtEnd: good.acceptingAtEnd, start: good.start),
      "\(good.transitions.count - 1) transitions for \(good.stateCount) states (expected \(good.stateCount * 256))"
    ),
    (
      "flags missing",
      RegexAutomaton(
        transitions: good.transitions, accepting: good.accepting, acceptingAtEnd: [],
        start: good.start),
      "0 end-of-input flags for \(good.stateCount) states"
    ),
    (
      "start out of range",
      RegexAutomaton(
        transitions: good.transitions, accepting: good.accepting,
        acceptingAtEnd: good.acceptingAtEnd, start: UInt32(good.stateCount)),
      "start state \(good.stateCount) is out of range"
    ),
    (
      "transition out of range",
      RegexAutomaton(
        transitions: good.transitions.enumerated().map { $0.offset == 300 ? 99 : $0.element },
        accepting: good.accepting, acceptingAtEnd: good.acceptingAtEnd, start: good.start),
      "state 1 on byte 44 goes to 99, out of range"
    ),
    (
      "state 0 accepting",
      RegexAutomaton(
        transitions: good.transitions, accepting: [true] + good.accepting.dropFirst(),
        acceptingAtEnd: good.acceptingAtEnd, start: good.start),
      "state 0 is not the dead state"
    ),
    (
      "state 0 live",
      RegexAutomaton(
        transitions: [1] + good.transitions.dropFirst(), accepting: good.accepting,
        acceptingAtEnd: good.acceptingAtEnd, start: good.start),
      "state 0 is not the dead state"
    ),
  ]
  for (what, auto, message) in automata {
    cases.append(
      BadProgram(
        "automaton: \(what)", pool(.automaton(auto)), pc: nil,
        "constant 1: invalid regex automaton: \(message)"))
  }

  // Bounds on every path.
  let sets = [Instruction](
    repeating: Instruction(.setk, b: UInt16(Pool.path), c: UInt32(Pool.int)),
    count: Verifier.maxRewrites + 1)
  cases.append(
    BadProgram(
      "\(Verifier.maxRewrites + 1) rewrites on a path", handMade(sets + [Instruction(.noMatch)]),
      pc: nil,
      "a path records \(Verifier.maxRewrites + 1) rewrites; the limit is \(Verifier.maxRewrites)"))
  cases += indexCases()

  // The same description twice (ldlab and setk have several shapes) is one case.
  var seen = Set<String>()
  return cases.filter { seen.insert($0.what).inserted }
}()

/// Rule indexes (`dispatch`, `next`): where they may jump, and their tables.
func indexCases() -> [BadProgram] {
  func index(
    _ pcs: [UInt32] = [1], end: UInt32 = 1, always: [UInt32] = [0], ints: [IntKeyTable] = [],
    ips: [IPKeyTable] = [], prefixes: [PrefixKeyTable] = []
  ) -> Constant {
    .ruleIndex(
      RuleIndex(
        rulePCs: pcs, end: end, always: always, intTables: ints, ipTables: ips,
        prefixTables: prefixes))
  }
  func dispatching(_ k: Constant, _ code: [Instruction]? = nil) -> Program {
    handMade(code ?? [Instruction(.dispatch, b: 0), Instruction(.noMatch)], constants: [k])
  }
  func table(_ m: String) -> String { "constant 0 (rule index): " + m }
  let a1 = IPAddress(v4: 1)
  let a2 = IPAddress(v4: 2)
  let someInts = IntKeyTable(field: .dstPort, lo: [1], hi: [2], lists: [[0]])
  return [
    BadProgram(
      "next after the last rule",
      dispatching(index(), [Instruction(.next, b: 0, c: 1), Instruction(.noMatch)]), pc: 0,
      "next after rule 1, but index K[0] has 1 rules"),
    BadProgram(
      "dispatch to a rule at itself", dispatching(index([0])), pc: 0,
      "dispatch can reach rule 0 at 0, which is not forward"),
    BadProgram(
      "next to a rule behind it",
      dispatching(
        index([0, 1], end: 2),
        [Instruction(.nop), Instruction(.next, b: 0, c: 0), Instruction(.noMatch)]), pc: 1,
      "next can reach rule 1 at 1, which is not forward"),
    BadProgram(
      "dispatch to an end behind it", dispatching(index(end: 0)), pc: 0,
      "dispatch: the index's end 0 is not forward"),
    BadProgram(
      "rule addresses repeated", dispatching(index([1, 1], always: [0, 1])), pc: nil,
      table("rule addresses are not increasing")),
    BadProgram(
      "rule address past the code", dispatching(index([1, 2], always: [0, 1])), pc: nil,
      table("rule address 2 is past the code")),
    BadProgram(
      "end past the code", dispatching(index(end: 2)), pc: nil, table("end 2 is past the code")),
    BadProgram(
      "too many tables",
      dispatching(index(ints: [IntKeyTable](repeating: someInts, count: RuleIndex.maxTables + 1))),
      pc: nil, table("\(RuleIndex.maxTables + 1) tables; at most \(RuleIndex.maxTables)")),
    BadProgram(
      "candidates repeated", dispatching(index(always: [0, 0])), pc: nil,
      table("a candidate list is not sorted")),
    BadProgram(
      "candidate past the rules", dispatching(index(always: [1])), pc: nil,
      table("candidate 1 is not a rule of the index")),
    BadProgram(
      "int table on an address",
      dispatching(index(ints: [IntKeyTable(field: .srcAddr, lo: [], hi: [], lists: [])])),
      pc: nil, table("int table on field IP.src_addr")),
    BadProgram(
      "int table sizes",
      dispatching(index(ints: [IntKeyTable(field: .srcPort, lo: [1, 2], hi: [1], lists: [[0]])])),
      pc: nil, table("int table sizes differ")),
    BadProgram(
      "int intervals overlap",
      dispatching(
        index(ints: [IntKeyTable(field: .srcPort, lo: [1, 3], hi: [3, 4], lists: [[0], [0]])])),
      pc: nil, table("int intervals are not sorted and disjoint")),
    BadProgram(
      "int interval empty",
      dispatching(index(ints: [IntKeyTable(field: .srcPort, lo: [5], hi: [4], lists: [[0]])])),
      pc: nil, table("int intervals are not sorted and disjoint")),
    BadProgram(
      "int table candidate past the rules",
      dispatching(index(ints: [IntKeyTable(field: .srcPort, lo: [5], hi: [6], lists: [[3]])])),
      pc: nil, table("candidate 3 is not a rule of the index")),
    BadProgram(
      "ip table on a port",
      dispatching(index(ips: [IPKeyTable(field: .srcPort, lo: [], hi: [], lists: [])])), pc: nil,
      table("ip table on field src_port")),
    BadProgram(
      "ip table sizes",
      dispatching(index(ips: [IPKeyTable(field: .srcAddr, lo: [a1], hi: [a1], lists: [])])),
      pc: nil, table("ip table sizes differ")),
    BadProgram(
      "ip intervals out of order",
      dispatching(
        index(ips: [IPKeyTable(field: .dstAddr, lo: [a2, a1], hi: [a2, a1], lists: [[0], [0]])])),
      pc: nil, table("ip intervals are not sorted and disjoint")),
    BadProgram(
      "prefix table on an address",
      dispatching(
        index(
          prefixes: [
            PrefixKeyTable(field: .srcAddr, edgeBytes: [[]], edgeTargets: [[]], lists: [[]])
          ])),
      pc: nil, table("prefix table on field IP.src_addr")),
    BadProgram(
      "trie without nodes",
      dispatching(
        index(prefixes: [PrefixKeyTable(field: .payload, edgeBytes: [], edgeTargets: [], lists: [])]
        )),
      pc: nil, table("trie sizes differ")),
    BadProgram(
      "trie edge sizes",
      dispatching(
        index(
          prefixes: [
            PrefixKeyTable(field: .payload, edgeBytes: [[1]], edgeTargets: [[]], lists: [[]])
          ])),
      pc: nil, table("trie node 0: edge sizes differ")),
    BadProgram(
      "trie edges out of order",
      dispatching(
        index(
          prefixes: [
            PrefixKeyTable(
              field: .payload, edgeBytes: [[2, 1], [], []], edgeTargets: [[1, 2], [], []],
              lists: [[], [], []])
          ])),
      pc: nil, table("trie node 0: edges are not sorted")),
    BadProgram(
      "trie edge back to the root",
      dispatching(
        index(
          prefixes: [
            PrefixKeyTable(
              field: .payload, edgeBytes: [[1], [1]], edgeTargets: [[1], [0]], lists: [[], []])
          ])),
      pc: nil, table("trie node 1: edge to 0 does not go to a later node")),
    BadProgram(
      "trie edge past the nodes",
      dispatching(
        index(
          prefixes: [
            PrefixKeyTable(field: .payload, edgeBytes: [[1]], edgeTargets: [[7]], lists: [[]])
          ])),
      pc: nil, table("trie node 0: edge to 7 does not go to a later node")),
  ]
}

@Suite struct VerifierTests {
  @Test(arguments: badPrograms)
  func refuses(_ bad: BadProgram) {
    do {
      _ = try Verifier.verify(bad.program)
      Issue.record("accepted: \(bad.what)")
    } catch {
      #expect(error.pc == bad.pc, "\(error)")
      #expect(error.message.contains(bad.message), "\(error.description)")
      if let pc = bad.pc { #expect(error.description.hasPrefix("instruction \(pc): ")) }
    }
  }

  @Test func everyCheckHasACase() {
    #expect(badPrograms.count > 250)
    // Every opcode appears in at least one bad program.
    let ops = Set(badPrograms.flatMap { $0.program.code.map(\.op) })
    #expect(ops == Set(Opcode.allCases))
  }

  /// The well-formed form of every instruction passes, with the highest registers and fields there
  /// are: the verifier is not stricter than the instruction set.
  @Test func acceptsEveryInstructionShape() throws {
    for shape in InstructionShape.all {
      let p = handMade([shape.ins, Instruction(.noMatch)])
      do {
        _ = try Verifier.verify(p)
      } catch {
        Issue.record("\(shape.ins.op) refused: \(error)")
      }
    }
    let covered = Set(InstructionShape.all.map(\.ins.op))
    #expect(covered.union([.noMatch, .apply]) == Set(Opcode.allCases))
  }

  /// Rewrites are counted on the worst path, not over the whole program: two arms of 20 `set`s
  /// that join before 12 more make 32 on any path (the limit); one more at the join makes 33.
  @Test func rewritesAreCountedOnOnePath() throws {
    let set = Instruction(.setk, b: UInt16(Pool.path), c: UInt32(Pool.int))
    let arm = [Instruction](repeating: set, count: 20)
    var code = [Instruction(.jeqi, a: 0x80, b: 0, c: 22)] + arm + [Instruction(.jump, c: 42)] + arm
    code += [Instruction](repeating: set, count: 12) + [Instruction(.noMatch)]
    #expect(code[42] == set && code[22] == set)
    _ = try Verifier.verify(handMade(code))
    code.insert(set, at: 42)
    do {
      _ = try Verifier.verify(handMade(code))
      Issue.record("33 rewrites on a path were accepted")
    } catch {
      #expect(error.message == "a path records 33 rewrites; the limit is 32")
    }
  }

  /// The one check that needs a big program: a path one instruction longer than the limit (2^20
  /// `nop`s and a `noMatch`). Paths of the limit's length pass (`longestPathsAreMeasured`).
  @Test func longestPathIsBounded() throws {
    var code = [Instruction](repeating: Instruction(.nop), count: Verifier.maxPath)
    code.append(Instruction(.noMatch))
    do {
      _ = try Verifier.verify(handMade(code))
      Issue.record("a path of \(Verifier.maxPath + 1) instructions was accepted")
    } catch {
      #expect(error.pc == nil)
      #expect(
        error.message
          == "the longest path is \(Verifier.maxPath + 1) instructions; the limit is \(Verifier.maxPath)"
      )
    }
  }

  @Test func longestPathsAreMeasured() throws {
    // 0: skip 1…9 when R0 == 0; either way 10…12; the worst path is 0, 1…9, 10, 11, 12.
    var code = [Instruction(.jeqi, a: 0x80, c: 10)]
    code += [Instruction](repeating: Instruction(.nop), count: 9)
    code += [Instruction(.nop), Instruction(.match, c: 0), Instruction(.noMatch)]
    #expect(try Verifier.verify(handMade(code)).worstPath == 12)
    // A second rulelist starting at 10 does not change the worst.
    #expect(try Verifier.verify(handMade(code, lists: [0, 10])).worstPath == 12)
  }

  // MARK: regressions

  /// `next` of one index after `dispatch` of another used the first index's candidate lists with
  /// the second's rule addresses: a read past its table and a jump anywhere, backward included.
  /// `next` now collects its own index's candidates when another one is active.
  @Test func nextOfAnotherIndexThanDispatched() throws {
    let k0 = RuleIndex(
      rulePCs: [1, 2, 3], end: 4, always: [0, 1, 2], intTables: [], ipTables: [], prefixTables: [])
    let k1 = RuleIndex(
      rulePCs: [3], end: 4, always: [0], intTables: [], ipTables: [], prefixTables: [])
    let code = [
      Instruction(.dispatch, b: 0),  // → rule 0 of K0, at 1
      Instruction(.next, b: 1, c: 0),  // K1 after its rule 0: none left → its end, 4
      Instruction(.match, c: 0),
      Instruction(.match, c: 1),
      Instruction(.noMatch),
    ]
    let v = try Verifier.verify(
      handMade(code, constants: [.ruleIndex(k0), .ruleIndex(k1)], rules: 2))
    #expect(VM.evaluate(v, rulelist: 0, packet: OwnedPacket()).verdict == .noMatch)
  }

  @Test func applyToAnotherRulelistPasses() throws {
    let p = handMade(
      [Instruction(.apply, c: 1), Instruction(.noMatch)], lists: [0, 1])
    let v = try Verifier.verify(p)
    #expect(VM.evaluate(v, rulelist: 0, packet: OwnedPacket()).verdict == .noMatch)
  }
}
