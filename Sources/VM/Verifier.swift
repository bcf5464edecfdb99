import RuleLang

/// Why a program was refused: the instruction (or table) and what is wrong with it.
public struct VerificationError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The offending instruction's index, if the problem is in the code.
  public let pc: Int?
  public let message: String

  public var description: String {
    if let pc { return "instruction \(pc): \(message)" }
    return message
  }
}

/// The load-time verifier. Every program passes it before it runs, the compiler's output too:
/// opcodes and operands in range, constants of the right kind, jumps forward and inside the code,
/// every path ending in `match` or `noMatch`, a bound on the longest path and on the rewrites a
/// path can record.
public enum Verifier {
  /// The most instructions any path may execute.
  public static let maxPath = 1 << 20
  /// The most `set` instructions on any path (the capacity of a verdict's rewrite list).
  public static let maxRewrites = 32

  public static func verify(_ p: Program) throws(VerificationError) -> VerifiedProgram {
    let code = p.code
    let n = code.count
    guard n > 0 else { throw VerificationError(pc: nil, message: "the program has no code") }
    guard n < Int(UInt32.max) else {
      throw VerificationError(pc: nil, message: "the program is too long")
    }
    func fail(_ pc: Int, _ m: String) -> VerificationError { VerificationError(pc: pc, message: m) }

    let entries = Set(p.rulelists.map(\.entry))
    for (i, l) in p.rulelists.enumerated() where !(0..<n).contains(l.entry) {
      throw VerificationError(
        pc: nil,
        message: "rulelist \(i) '\(l.name)' starts at \(l.entry), outside the code (0..<\(n))")
    }
    for (i, r) in p.rules.enumerated() {
      guard (0..<p.rulelists.count).contains(r.rulelist) else {
        throw VerificationError(
          pc: nil,
          message: "rule \(i) '\(r.name)' names rulelist \(r.rulelist), which does not exist")
      }
      switch r.action {
      case .route(let k) where !(0..<p.routes.count).contains(k):
        throw VerificationError(
          pc: nil, message: "rule \(i) '\(r.name)' names route \(k), which does not exist")
      case .apply(let k) where !(0..<p.rulelists.count).contains(k):
        throw VerificationError(
          pc: nil, message: "rule \(i) '\(r.name)' applies rulelist \(k), which does not exist")
      default: break
      }
    }

    func constant(_ pc: Int, _ index: Int, _ kind: String) throws(VerificationError) -> Constant {
      guard (0..<p.constants.count).contains(index) else {
        throw fail(pc, "constant \(index) does not exist (the pool has \(p.constants.count))")
      }
      let k = p.constants[index]
      guard k.kindName == kind else {
        throw fail(
          pc, "\(code[pc].op) needs a constant of kind \(kind), but K[\(index)] is \(k.kindName)")
      }
      return k
    }
    func reg(_ pc: Int, _ r: Int, _ limit: Int, _ what: String) throws(VerificationError) {
      guard r < limit else {
        throw fail(pc, "\(what) register \(r) does not exist (there are \(limit))")
      }
    }
    func field(_ pc: Int, _ raw: Int, _ kind: Field.Kind) throws(VerificationError) {
      guard raw <= Int(UInt8.max), let f = Field(rawValue: UInt8(raw)) else {
        throw fail(pc, "field \(raw) does not exist")
      }
      guard f.kind == kind else {
        throw fail(pc, "field \(f) is not of the kind \(code[pc].op) reads")
      }
    }
    let ints = Registers.ints
    let bytes = Registers.bytes
    let ips = Registers.ips

    for pc in 0..<n {
      let ins = code[pc]
      let a = ins.reg
      let b = Int(ins.b)
      let c = Int(ins.c)
      if !ins.op.isConditionalJump, ins.op != .slice, ins.op != .slicex, ins.a & 0x80 != 0 {
        throw fail(pc, "\(ins.op) does not take a polarity bit in A")
      }
      if ins.op.jumps {
        guard c > pc else { throw fail(pc, "jump to \(c) does not go forward") }
        guard c < n else { throw fail(pc, "jump to \(c) is past the end of the code (\(n))") }
        if ins.op == .apply, !entries.contains(c) {
          throw fail(pc, "apply to \(c), which is not the start of a rulelist")
        }
      }
      if !ins.op.isTerminal, ins.op != .jump, ins.op != .apply, pc == n - 1 {
        throw fail(pc, "the last instruction must end the program (match, noMatch, jump or apply)")
      }
      switch ins.op {
      case .nop, .jump, .apply, .noMatch: break
      case .dispatch, .next:
        guard case .ruleIndex(let x) = try constant(pc, b, "rule index") else { break }
        let first = ins.op == .dispatch ? 0 : c + 1
        if ins.op == .next, c >= x.rulePCs.count {
          throw fail(pc, "next after rule \(c), but index K[\(b)] has \(x.rulePCs.count) rules")
        }
        if first < x.rulePCs.count, Int(x.rulePCs[first]) <= pc {
          throw fail(
            pc, "\(ins.op) can reach rule \(first) at \(x.rulePCs[first]), which is not forward")
        }
        guard Int(x.end) > pc else {
          throw fail(pc, "\(ins.op): the index's end \(x.end) is not forward")
        }
      case .match:
        guard c < p.rules.count else {
          throw fail(pc, "match names rule \(c), which does not exist")
        }
      case .ldf:
        try reg(pc, a, ints, "int")
        try field(pc, b, .int)
      case .ldi: try reg(pc, a, ints, "int")
      case .ldk:
        try reg(pc, a, ints, "int")
        _ = try constant(pc, c, "int")
      case .lds:
        try reg(pc, a, bytes, "bytes")
        try field(pc, b, .bytes)
      case .ldsk:
        try reg(pc, a, bytes, "bytes")
        _ = try constant(pc, c, "bytes")
      case .ldhdr:
        try reg(pc, a, bytes, "bytes")
        _ = try constant(pc, c, "path")
      case .ldip:
        try reg(pc, a, ips, "ip")
        try field(pc, b, .ip)
      case .ldipk:
        try reg(pc, a, ips, "ip")
        _ = try constant(pc, c, "ip")
      case .ldlab:
        guard b <= 2 else { throw fail(pc, "ldlab kind \(b) is not 0 (int), 1 (bytes) or 2 (ip)") }
        try reg(pc, a, [ints, bytes, ips][b], ["int", "bytes", "ip"][b])
        _ = try constant(pc, c, "path")
      case .ldb, .ldh, .ldw:
        try reg(pc, a, ints, "int")
        try reg(pc, b, bytes, "bytes")
      case .ldbx, .ldhx, .ldwx:
        try reg(pc, a, ints, "int")
        try reg(pc, b, bytes, "bytes")
        try reg(pc, c, ints, "int")
      case .slice, .slicex:
        try reg(pc, Int(ins.a & 0x0F), bytes, "bytes")
        try reg(pc, Int(ins.a >> 4), bytes, "bytes")
        if ins.op == .slicex {
          try reg(pc, b, ints, "int")
          try reg(pc, c, ints, "int")
        }
      case .len:
        try reg(pc, a, ints, "int")
        try reg(pc, b, bytes, "bytes")
      case .movs:
        try reg(pc, a, bytes, "bytes")
        try reg(pc, b, bytes, "bytes")
      case .fold: try reg(pc, a, bytes, "bytes")
      case .andi: try reg(pc, a, ints, "int")
      case .andk:
        try reg(pc, a, ints, "int")
        _ = try constant(pc, c, "int")
      case .andr:
        try reg(pc, a, ints, "int")
        try reg(pc, b, ints, "int")
      case .jeqi, .jnei: try reg(pc, a, ints, "int")
      case .jeqk, .jnek, .jltk, .jlek, .jgtk, .jgek:
        try reg(pc, a, ints, "int")
        _ = try constant(pc, b, "int")
      case .jink:
        try reg(pc, a, ints, "int")
        _ = try constant(pc, b, "int set")
      case .jeq, .jne, .jlt, .jle:
        try reg(pc, a, ints, "int")
        try reg(pc, b, ints, "int")
      case .jfeqi: try field(pc, a, .int)
      case .jfink:
        try field(pc, a, .int)
        _ = try constant(pc, b, "int set")
      case .jfcidr:
        try field(pc, a, .ip)
        _ = try constant(pc, b, "ip set")
      case .jfstarts:
        try field(pc, a, .bytes)
        _ = try constant(pc, b, "bytes")
      case .jbeq, .jbne, .jbstarts, .jbends, .jbcontains:
        try reg(pc, a, bytes, "bytes")
        _ = try constant(pc, b, "bytes")
      case .jbmatches:
        try reg(pc, a, bytes, "bytes")
        _ = try constant(pc, b, "automaton")
      case .jbin:
        try reg(pc, a, bytes, "bytes")
        _ = try constant(pc, b, "bytes set")
      case .jbeqr, .jbner, .jbstartsr, .jbendsr, .jbcontainsr:
        try reg(pc, a, bytes, "bytes")
        try reg(pc, b, bytes, "bytes")
      case .jipeq, .jipne:
        try reg(pc, a, ips, "ip")
        _ = try constant(pc, b, "ip")
      case .jipin:
        try reg(pc, a, ips, "ip")
        _ = try constant(pc, b, "ip set")
      case .jipeqr, .jipner:
        try reg(pc, a, ips, "ip")
        try reg(pc, b, ips, "ip")
      case .jpresent:
        guard b <= 2 else {
          throw fail(pc, "jpresent kind \(b) is not 0 (int), 1 (bytes) or 2 (ip)")
        }
        try reg(pc, a, [ints, bytes, ips][b], ["int", "bytes", "ip"][b])
      case .setk:
        _ = try constant(pc, b, "path")
        guard (0..<p.constants.count).contains(c),
          ["int", "bytes", "ip"].contains(p.constants[c].kindName)
        else { throw fail(pc, "setk needs an int, bytes or ip constant at K[\(c)]") }
      case .setr:
        try reg(pc, a, ints, "int")
        _ = try constant(pc, b, "path")
      case .sets:
        try reg(pc, a, bytes, "bytes")
        _ = try constant(pc, b, "path")
      case .setip:
        try reg(pc, a, ips, "ip")
        _ = try constant(pc, b, "path")
      }
    }
    for (i, k) in p.constants.enumerated() {
      if case .automaton(let auto) = k {
        do {
          _ = try RegexAutomaton(
            validating: auto.transitions, accepting: auto.accepting,
            acceptingAtEnd: auto.acceptingAtEnd, start: auto.start)
        } catch {
          throw VerificationError(pc: nil, message: "constant \(i): \(error.message)")
        }
      }
      if case .intSet(let rs) = k {
        for (x, y) in zip(rs, rs.dropFirst()) where x.upperBound >= y.lowerBound {
          throw VerificationError(
            pc: nil, message: "constant \(i): int set intervals are not sorted and disjoint")
        }
      }
      if case .ipSet(let rs) = k {
        for r in rs where r.hi < r.lo {
          throw VerificationError(
            pc: nil, message: "constant \(i): ip interval \(r.lo)..\(r.hi) is empty")
        }
        for (x, y) in zip(rs, rs.dropFirst()) where !(x.hi < y.lo) {
          throw VerificationError(
            pc: nil, message: "constant \(i): ip set intervals are not sorted and disjoint")
        }
      }
      if case .ruleIndex(let x) = k {
        try checkIndex(x, constant: i, codeCount: n)
      }
      if case .bytesSet(let ms) = k {
        for (x, y) in zip(ms, ms.dropFirst()) where !x.lexicographicallyPrecedes(y) {
          throw VerificationError(
            pc: nil, message: "constant \(i): byte-string set is not sorted and distinct")
        }
      }
    }

    // Longest path and most rewrites from each instruction to the end (jumps go forward only).
    // For rule indexes, suffix maxima over the rules' code addresses are kept as the walk
    // passes them, so `next` costs O(1).
    var longest = [Int](repeating: 0, count: n + 1)
    var rewrites = [Int](repeating: 0, count: n + 1)
    var indexAt: [Int: [(k: Int, rule: Int)]] = [:]
    var suffixLongest: [Int: [Int]] = [:]
    var suffixSets: [Int: [Int]] = [:]
    for (i, k) in p.constants.enumerated() {
      guard case .ruleIndex(let x) = k else { continue }
      for (j, rpc) in x.rulePCs.enumerated() { indexAt[Int(rpc), default: []].append((i, j)) }
      suffixLongest[i] = [Int](repeating: 0, count: x.rulePCs.count + 1)
      suffixSets[i] = [Int](repeating: 0, count: x.rulePCs.count + 1)
    }
    for pc in stride(from: n - 1, through: 0, by: -1) {
      let ins = code[pc]
      var best = 0
      var sets = 0
      if !ins.op.isTerminal, ins.op != .jump, ins.op != .apply, ins.op != .dispatch, ins.op != .next
      {
        best = longest[pc + 1]
        sets = rewrites[pc + 1]
      }
      if ins.op.jumps {
        best = max(best, longest[Int(ins.c)])
        sets = max(sets, rewrites[Int(ins.c)])
      }
      if ins.op == .dispatch || ins.op == .next, case .ruleIndex(let x) = p.constants[Int(ins.b)] {
        let from = ins.op == .dispatch ? 0 : Int(ins.c) + 1
        best = max(longest[Int(x.end)], suffixLongest[Int(ins.b)]![from])
        sets = max(rewrites[Int(x.end)], suffixSets[Int(ins.b)]![from])
      }
      longest[pc] = best + 1
      rewrites[pc] = sets + ([.setk, .setr, .sets, .setip].contains(ins.op) ? 1 : 0)
      for (k, j) in indexAt[pc] ?? [] {
        suffixLongest[k]![j] = max(longest[pc], suffixLongest[k]![j + 1])
        suffixSets[k]![j] = max(rewrites[pc], suffixSets[k]![j + 1])
      }
    }
    let worst = p.rulelists.map { longest[$0.entry] }.max() ?? 0
    guard worst <= maxPath else {
      throw VerificationError(
        pc: nil, message: "the longest path is \(worst) instructions; the limit is \(maxPath)")
    }
    let mostSets = p.rulelists.map { rewrites[$0.entry] }.max() ?? 0
    guard mostSets <= maxRewrites else {
      throw VerificationError(
        pc: nil, message: "a path records \(mostSets) rewrites; the limit is \(maxRewrites)")
    }
    return VerifiedProgram(program: p, worstPath: worst)
  }

  /// A rule index's tables: sorted, in range, of the right field kinds.
  static func checkIndex(_ x: RuleIndex, constant i: Int, codeCount n: Int)
    throws(VerificationError)
  {
    func bad(_ m: String) -> VerificationError {
      VerificationError(pc: nil, message: "constant \(i) (rule index): \(m)")
    }
    let rules = x.rulePCs.count
    for (a, b) in zip(x.rulePCs, x.rulePCs.dropFirst()) where a >= b {
      throw bad("rule addresses are not increasing")
    }
    if let last = x.rulePCs.last, Int(last) >= n {
      throw bad("rule address \(last) is past the code")
    }
    guard Int(x.end) < n else { throw bad("end \(x.end) is past the code") }
    guard x.tableCount <= RuleIndex.maxTables else {
      throw bad("\(x.tableCount) tables; at most \(RuleIndex.maxTables)")
    }
    func checkList(_ l: [UInt32]) throws(VerificationError) {
      for (a, b) in zip(l, l.dropFirst()) where a >= b {
        throw bad("a candidate list is not sorted")
      }
      if let last = l.last, Int(last) >= rules {
        throw bad("candidate \(last) is not a rule of the index")
      }
    }
    try checkList(x.always)
    // Interval tables: one field of the right kind, sorted disjoint intervals, a list each.
    func checkIntervals<T: Comparable>(
      _ kind: String, _ field: Field, _ fieldKind: Field.Kind, _ lo: [T], _ hi: [T],
      _ lists: [[UInt32]]
    ) throws(VerificationError) {
      guard field.kind == fieldKind else { throw bad("\(kind) table on field \(field)") }
      guard lo.count == hi.count, lo.count == lists.count else {
        throw bad("\(kind) table sizes differ")
      }
      for j in lo.indices {
        guard lo[j] <= hi[j], j == 0 || hi[j - 1] < lo[j] else {
          throw bad("\(kind) intervals are not sorted and disjoint")
        }
        try checkList(lists[j])
      }
    }
    for t in x.intTables { try checkIntervals("int", t.field, .int, t.lo, t.hi, t.lists) }
    for t in x.ipTables { try checkIntervals("ip", t.field, .ip, t.lo, t.hi, t.lists) }
    for t in x.prefixTables {
      guard t.field.kind == .bytes else { throw bad("prefix table on field \(t.field)") }
      let nodes = t.lists.count
      guard nodes > 0, t.edgeBytes.count == nodes, t.edgeTargets.count == nodes else {
        throw bad("trie sizes differ")
      }
      for node in 0..<nodes {
        guard t.edgeBytes[node].count == t.edgeTargets[node].count else {
          throw bad("trie node \(node): edge sizes differ")
        }
        for (a, b) in zip(t.edgeBytes[node], t.edgeBytes[node].dropFirst()) where a >= b {
          throw bad("trie node \(node): edges are not sorted")
        }
        for target in t.edgeTargets[node] where Int(target) <= node || Int(target) >= nodes {
          throw bad("trie node \(node): edge to \(target) does not go to a later node")
        }
        try checkList(t.lists[node])
      }
    }
  }
}
