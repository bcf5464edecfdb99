/// The stable text listing of a program (`l7mp disasm`). Golden tests compare it, so its format
/// changes only on purpose.
public enum Disassembler {
  public static func listing(_ p: Program) -> String {
    var out = "; l7mp bytecode v\(ProgramCodec.version) — \(p.sourceName)\n"
    let counts = [
      "\(p.code.count) instructions", "\(p.constants.count) constants", "\(p.rules.count) rules",
      "\(p.routes.count) routes",
    ]
    out += "; " + counts.joined(separator: ", ") + "\n"
    var entries: [Int: [Int]] = [:]
    for (i, l) in p.rulelists.enumerated() { entries[l.entry, default: []].append(i) }
    for (pc, ins) in p.code.enumerated() {
      for i in entries[pc] ?? [] {
        let l = p.rulelists[i]
        out += "\nrulelist \(l.name) for \(l.protocolName):\n"
      }
      out += String(format4(pc)) + "  " + instruction(ins, p) + "\n"
    }
    if !p.constants.isEmpty {
      out += "\nconstants:\n"
      for (i, k) in p.constants.enumerated() { out += "  K\(i) = \(describe(k))\n" }
    }
    out += "\nrules:\n"
    for (i, r) in p.rules.enumerated() {
      let list = p.rulelists.indices.contains(r.rulelist) ? p.rulelists[r.rulelist].name : "?"
      out += "  \(i) \(list)/\(r.name) (line \(r.line)): \(action(r.action, p))\n"
    }
    return out
  }

  static func format4(_ n: Int) -> String {
    let s = String(n)
    return String(repeating: "0", count: max(0, 4 - s.count)) + s
  }

  static func action(_ a: RuleAction, _ p: Program) -> String {
    switch a {
    case .drop: return "drop"
    case .route(let i):
      return p.routes.indices.contains(i) ? "route to \(p.routes[i].description)" : "route #\(i)"
    case .apply(let i):
      return "apply \(p.rulelists.indices.contains(i) ? p.rulelists[i].name : "#\(i)")"
    }
  }

  public static func describe(_ k: Constant) -> String {
    switch k {
    case .int(let v): return "int \(v)"
    case .bytes(let b):
      if !b.isEmpty, b.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
        return "bytes \(Value.quote(String(decoding: b, as: UTF8.self)))"
      }
      return "bytes \(Value.bytes(b))"
    case .ip(let a): return "ip \(a)"
    case .intSet(let rs):
      return "intervals {"
        + rs.map {
          $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)..\($0.upperBound)"
        }.joined(separator: ", ") + "}"
    case .ipSet(let rs): return "ip intervals {" + rs.map(describe).joined(separator: ", ") + "}"
    case .bytesSet(let ms):
      return "bytes set {" + ms.map { describe(.bytes($0)).dropFirst(6) }.joined(separator: ", ")
        + "}"
    case .automaton(let a): return "automaton (\(a.stateCount) states)"
    case .path(let s): return "path \(s)"
    case .ruleIndex(let x):
      var parts = ["\(x.rulePCs.count) rules", "end \(format4(Int(x.end)))"]
      if !x.always.isEmpty { parts.append("always \(x.always.count)") }
      for t in x.intTables { parts.append("\(t.field): \(t.lo.count) intervals") }
      for t in x.ipTables { parts.append("\(t.field): \(t.lo.count) intervals") }
      for t in x.prefixTables { parts.append("\(t.field): trie of \(t.lists.count) nodes") }
      return "rule index (" + parts.joined(separator: ", ") + ")"
    }
  }

  /// An interval as a CIDR when it is one.
  static func describe(_ r: IPInterval) -> String {
    if r.lo == r.hi { return r.lo.description }
    let v4 = r.lo.isV4 && r.hi.isV4
    for len in 0...(v4 ? 32 : 128) {
      let c = CIDR(address: r.lo, prefixLength: len)
      if c.network == r.lo, IPInterval(c) == r { return c.description }
    }
    return "\(r.lo)..\(r.hi)"
  }

  static func field(_ raw: Int) -> String {
    Field(rawValue: UInt8(truncatingIfNeeded: raw))?.description ?? "F\(raw)"
  }

  static func constantComment(_ p: Program, _ i: Int) -> String {
    guard p.constants.indices.contains(i) else { return "K\(i)" }
    return "K\(i) ; \(describe(p.constants[i]))"
  }

  public static func instruction(_ ins: Instruction, _ p: Program) -> String {
    let name = "\(ins.op)"
    let op = name + String(repeating: " ", count: max(1, 10 - name.count))
    let a = ins.reg
    let b = Int(ins.b)
    let c = Int(ins.c)
    let neg = ins.op.isConditionalJump ? (ins.k ? "" : "!") : ""
    let target = "→ \(format4(c))"
    switch ins.op {
    case .nop, .noMatch: return "\(ins.op)"
    case .jump, .apply:
      let name = p.rulelists.first { $0.entry == c }.map { " (\($0.name))" } ?? ""
      return "\(op)\(target)\(name)"
    case .dispatch: return "\(op)\(constantComment(p, b))"
    case .next: return "\(op)after \(c), K\(b)"
    case .match:
      let name =
        p.rules.indices.contains(c) ? " ; \(p.rules[c].name): \(action(p.rules[c].action, p))" : ""
      return "\(op)rule \(c)\(name)"
    case .ldf: return "\(op)R\(a), \(field(b))"
    case .ldi: return "\(op)R\(a), \(c)"
    case .ldk: return "\(op)R\(a), \(constantComment(p, c))"
    case .lds: return "\(op)S\(a), \(field(b))"
    case .ldsk, .ldhdr: return "\(op)S\(a), \(constantComment(p, c))"
    case .ldip: return "\(op)I\(a), \(field(b))"
    case .ldipk: return "\(op)I\(a), \(constantComment(p, c))"
    case .ldlab: return "\(op)\(["R", "S", "I"][min(b, 2)])\(a), \(constantComment(p, c))"
    case .ldb, .ldh, .ldw: return "\(op)R\(a), S\(b)[\(c)]"
    case .ldbx, .ldhx, .ldwx: return "\(op)R\(a), S\(b)[R\(c)]"
    case .slice: return "\(op)S\(ins.a & 0x0F), S\(ins.a >> 4)[\(b):\(c)]"
    case .slicex: return "\(op)S\(ins.a & 0x0F), S\(ins.a >> 4)[R\(b):R\(c)]"
    case .len: return "\(op)R\(a), S\(b)"
    case .movs: return "\(op)S\(a), S\(b)"
    case .fold: return "\(op)S\(a)"
    case .andi: return "\(op)R\(a), \(c)"
    case .andk: return "\(op)R\(a), \(constantComment(p, c))"
    case .andr: return "\(op)R\(a), R\(b)"
    case .jeqi, .jnei: return "\(op)\(neg)R\(a), \(b) \(target)"
    case .jeqk, .jnek, .jltk, .jlek, .jgtk, .jgek, .jink:
      return "\(op)\(neg)R\(a), \(constantComment(p, b)) \(target)"
    case .jeq, .jne, .jlt, .jle: return "\(op)\(neg)R\(a), R\(b) \(target)"
    case .jfeqi: return "\(op)\(neg)\(field(a)), \(b) \(target)"
    case .jfink, .jfcidr, .jfstarts:
      return "\(op)\(neg)\(field(a)), \(constantComment(p, b)) \(target)"
    case .jbeq, .jbne, .jbstarts, .jbends, .jbcontains, .jbmatches, .jbin:
      return "\(op)\(neg)S\(a), \(constantComment(p, b)) \(target)"
    case .jbeqr, .jbner, .jbstartsr, .jbendsr, .jbcontainsr:
      return "\(op)\(neg)S\(a), S\(b) \(target)"
    case .jipeq, .jipne, .jipin: return "\(op)\(neg)I\(a), \(constantComment(p, b)) \(target)"
    case .jipeqr, .jipner: return "\(op)\(neg)I\(a), I\(b) \(target)"
    case .jpresent: return "\(op)\(neg)\(["R", "S", "I"][min(b, 2)])\(a) \(target)"
    case .setk: return "\(op)\(pathName(p, b)) = \(constantComment(p, c))"
    case .setr: return "\(op)\(pathName(p, b)) = R\(a)"
    case .sets: return "\(op)\(pathName(p, b)) = S\(a)"
    case .setip: return "\(op)\(pathName(p, b)) = I\(a)"
    }
  }

  static func pathName(_ p: Program, _ i: Int) -> String {
    if p.constants.indices.contains(i), case .path(let s) = p.constants[i] { return s }
    return "K\(i)"
  }
}
