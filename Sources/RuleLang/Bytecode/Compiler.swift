/// Compiles a checked rule file to bytecode.
///
/// Conditions become control flow: `emitJump(e, when: b, to: L)` jumps to `L` when `e` is `b` and
/// falls through otherwise, so `and`/`or`/`not` cost nothing but jumps. Comparisons with constants
/// use the fused instructions; sets, ranges, CIDRs and text prefixes become interval tables.
/// Constant conditions fold away (a rule whose condition is false is dropped), and rulelists are
/// laid out so that every `apply` jumps forward.
public struct RuleCompiler {
  public struct CompileError: Error, Sendable, CustomStringConvertible {
    public let diagnostics: [Diagnostic]
    public var description: String { diagnostics.map(\.message).joined(separator: "; ") }
  }

  /// Checks and compiles rule source. Errors are the checker's (or the compiler's) diagnostics.
  public static func compile(_ source: SourceFile) -> Result<Program, CompileError> {
    let checked = RuleChecker.check(source)
    return compile(checked)
  }

  /// `indexing: false` compiles every rulelist to plain linear code (for tests and comparisons).
  public static func compile(_ checked: CheckedFile, indexing: Bool = true) -> Result<
    Program, CompileError
  > {
    guard !checked.hasErrors else {
      return .failure(
        CompileError(diagnostics: checked.diagnostics.filter { $0.severity == .error }))
    }
    var c = RuleCompiler(checked)
    c.indexing = indexing
    c.run()
    if !c.errors.isEmpty { return .failure(CompileError(diagnostics: c.errors)) }
    return .success(c.program())
  }

  let checked: CheckedFile
  var code: [Instruction] = []
  var constants: [Constant] = []
  var constantIndex: [Constant: Int] = [:]
  var rulelists: [RulelistInfo] = []
  var rules: [RuleInfo] = []
  var routes: [RouteInfo] = []
  var routeIndex: [RouteInfo: Int] = [:]
  var errors: [Diagnostic] = []

  // Labels: a label is an index into `labelTargets`; jumps to unplaced labels are patched later.
  var labelTargets: [Int?] = []
  var pendingJumps: [(pc: Int, label: Int)] = []

  // Register allocation, reset for every rule.
  var nextInt = 0
  var nextBytes = 1  // S0 is the payload
  var nextIP = 0
  var currentRange = SourceRange(0, 0)
  var protocolOfList: RuleProtocol = .udp
  /// Values already in registers, by kind and expression (`int:len(payload)`): loaded on every path
  /// to the current instruction (no label placed since) and not written over. Reset per rule.
  var available: [String: Int] = [:]
  var indexing = true
  /// The metadata paths some `set` writes (header names in lower case): reads of them must see
  /// this evaluation's rewrites, so they are not read straight from the packet.
  var writtenPaths: Set<String> = []

  init(_ checked: CheckedFile) {
    self.checked = checked
    for list in checked.file.rulelists {
      for rule in list.rules {
        for case .set(let target, _, _) in rule.actions {
          guard case .path(let segs) = target.kind else { continue }
          var names = segs.map(\.name)
          if names.count == 3, names[0] == "HTTP", names[1] == "headers" {
            names[2] = names[2].lowercased()
          }
          writtenPaths.insert(names.joined(separator: "."))
        }
      }
    }
  }

  func program() -> Program {
    Program(
      code: code, constants: constants, rulelists: rulelists, rules: rules, routes: routes,
      sourceName: checked.source.name)
  }

  // MARK: layout

  /// Rulelists in an order where every applied rulelist comes after the one applying it.
  func layoutOrder() -> [RulelistDecl] {
    let lists = checked.file.rulelists
    var byName: [String: RulelistDecl] = [:]
    for l in lists where byName[l.name.text] == nil { byName[l.name.text] = l }
    var visited = Set<String>()
    var postorder: [RulelistDecl] = []
    // Iterative DFS: apply chains can be long. Roots go in reverse source order so that the
    // reversed postorder keeps rulelists that apply nothing in their source order.
    for root in lists.reversed() where !visited.contains(root.name.text) {
      var stack: [(RulelistDecl, [String])] = []
      visited.insert(root.name.text)
      stack.append((root, applied(root)))
      while !stack.isEmpty {
        if let next = stack[stack.count - 1].1.popLast() {
          if !visited.contains(next), let l = byName[next] {
            visited.insert(next)
            stack.append((l, applied(l)))
          }
        } else {
          postorder.append(stack.removeLast().0)
        }
      }
    }
    return postorder.reversed()
  }

  func applied(_ l: RulelistDecl) -> [String] {
    var names: [String] = []
    for r in l.rules {
      for case .apply(let n, _) in r.actions { names.append(n.text) }
    }
    return names.reversed()
  }

  mutating func run() {
    let order = layoutOrder()
    // Rulelist indexes follow the source order; code follows the layout order.
    let sourceOrder = checked.file.rulelists
    var indexOf: [String: Int] = [:]
    for (i, l) in sourceOrder.enumerated() where indexOf[l.name.text] == nil {
      indexOf[l.name.text] = i
    }
    var entryLabels: [String: Int] = [:]
    for l in sourceOrder { entryLabels[l.name.text] = newLabel() }
    var infos: [Int: RulelistInfo] = [:]
    // Rule indexes also follow the source order.
    var ruleBase: [String: Int] = [:]
    var count = 0
    for l in sourceOrder where ruleBase[l.name.text] == nil {
      ruleBase[l.name.text] = count
      count += l.rules.count
    }
    rules = []
    var ruleSlots = [RuleInfo?](repeating: nil, count: count)
    for list in order {
      let listIndex = indexOf[list.name.text]!
      place(entryLabels[list.name.text]!)
      infos[listIndex] = RulelistInfo(
        name: list.name.text, protocolName: list.protocolName.text, entry: code.count)
      protocolOfList = checked.protocols[list.name.text] ?? .udp
      let keys = list.rules.map(ruleKey)
      let indexed =
        indexing && list.rules.count >= RuleCompiler.indexThreshold
        && keys.count(where: { $0 != nil }) >= RuleCompiler.indexThreshold / 2
      var indexConstant: UInt16 = 0
      if indexed {
        indexConstant = reserveConstant()
        emit(Instruction(.dispatch, b: indexConstant))
      }
      var rulePCs: [UInt32] = []
      for (k, rule) in list.rules.enumerated() {
        let ruleIndex = ruleBase[list.name.text]! + k
        rulePCs.append(UInt32(code.count))
        let action = compileRule(
          rule, index: ruleIndex, entryLabels: entryLabels, indexOf: indexOf,
          next: indexed ? Instruction(.next, b: indexConstant, c: UInt32(k)) : nil)
        ruleSlots[ruleIndex] = RuleInfo(
          name: rule.name.text, rulelist: listIndex,
          line: checked.source.location(of: rule.name.range.start).line, action: action)
      }
      if indexed {
        // Dead rules (`when false`) are never candidates.
        let live = list.rules.indices.map { i -> RuleKey? in
          if case .bool(false)? = list.rules[i].condition?.constant { return .ints(.srcPort, []) }
          return keys[i]
        }
        constants[Int(indexConstant)] = .ruleIndex(
          RuleIndexBuilder.build(keys: live, rulePCs: rulePCs, end: UInt32(code.count)))
      }
      emit(Instruction(.noMatch))
    }
    rulelists = (0..<sourceOrder.count).map { infos[$0]! }
    rules = ruleSlots.map { $0! }
    for (pc, label) in pendingJumps {
      code[pc].c = UInt32(labelTargets[label]!)
    }
  }

  /// Rulelists with at least this many rules, half of them keyed, are indexed.
  public static let indexThreshold = 16

  mutating func compileRule(
    _ rule: Rule, index: Int, entryLabels: [String: Int], indexOf: [String: Int],
    next nextInstruction: Instruction? = nil
  ) -> RuleAction {
    nextInt = 0
    nextBytes = 1
    nextIP = 0
    available.removeAll()
    let next = newLabel()
    var action = RuleAction.drop
    var alwaysFalse = false
    if let cond = rule.condition {
      currentRange = cond.range
      if case .bool(false)? = cond.constant { alwaysFalse = true }
      if !alwaysFalse {
        let start = code.count
        emitJump(cond, when: false, to: next)
        // A condition that compiled to a lone jump past the rule (`lower(x) == "A"`) never holds:
        // leave out the jump and the body, as for `when false`.
        if code.count == start + 1, code[start].op == .jump, let last = pendingJumps.last,
          last.pc == start, last.label == next
        {
          code.removeLast()
          pendingJumps.removeLast()
          alwaysFalse = true
        }
      }
    }
    if !alwaysFalse {
      for a in rule.actions {
        switch a {
        case .set(let target, let value, let range):
          currentRange = range
          compileSet(target, value)
        case .route(let r):
          action = .route(route(r))
          emit(Instruction(.match, c: UInt32(index)))
        case .drop:
          action = .drop
          emit(Instruction(.match, c: UInt32(index)))
        case .apply(let name, _):
          action = .apply(indexOf[name.text]!)
          emitJump(.apply, to: entryLabels[name.text]!)
        }
      }
    } else {
      // Dead rule: its action still goes in the table, for listings.
      for a in rule.actions {
        if case .route(let r) = a { action = .route(route(r)) }
        if case .apply(let name, _) = a { action = .apply(indexOf[name.text]!) }
      }
    }
    place(next)
    // In an indexed rulelist, a failed rule goes on to the next candidate, not the next rule.
    if let nextInstruction { emit(nextInstruction) }
    return action
  }

  mutating func route(_ r: RouteAction) -> Int {
    var retryOn = RetryPolicy.never
    var retries = 0
    var timeout = RouteInfo.defaultTimeout
    var orphan = false
    var idle = RouteInfo.defaultIdleTimeout
    for o in r.options {
      switch (o.key.text, o.value.constant) {
      case ("retry_on", .string(let s)?): retryOn = RetryPolicy(rawValue: s) ?? .never
      case ("retries", .int(let n)?): retries = Int(n)
      case ("timeout", .duration(let d)?): timeout = d
      case ("remove_orphan_sessions", .bool(let b)?): orphan = b
      case ("idle_timeout", .duration(let d)?): idle = d
      default: break
      }
    }
    let info = RouteInfo(
      destination: r.destination.text, via: r.via.map(\.text), returnVia: r.returnVia.map(\.text),
      retryOn: retryOn, retries: retries, timeout: timeout, removeOrphanSessions: orphan,
      idleTimeout: idle)
    if let i = routeIndex[info] { return i }
    routes.append(info)
    routeIndex[info] = routes.count - 1
    return routes.count - 1
  }

  // MARK: emission helpers

  mutating func emit(_ i: Instruction) {
    // Instructions that change a register in place, or metadata that later loads read, end the
    // reuse of what was loaded before.
    switch i.op {
    case .andi, .andk, .andr: forget("int", Int(i.a))
    case .fold: forget("bytes", Int(i.a))
    case .slice, .slicex: forget("bytes", Int(i.a & 0x0F))
    case .setk, .setr, .sets, .setip: available.removeAll()
    default: break
    }
    code.append(i)
  }

  mutating func forget(_ kind: String, _ register: Int) {
    available = available.filter { !($0.key.hasPrefix(kind + ":") && $0.value == register) }
  }

  mutating func newLabel() -> Int {
    labelTargets.append(nil)
    return labelTargets.count - 1
  }

  mutating func place(_ label: Int) {
    labelTargets[label] = code.count
    // Code here can be reached by a jump that skipped the loads before it.
    available.removeAll()
  }

  /// Emits a jump-family instruction whose `C` is a label's position.
  mutating func emitJump(_ op: Opcode, a: UInt8 = 0, b: UInt16 = 0, to label: Int) {
    pendingJumps.append((code.count, label))
    emit(Instruction(op, a: a, b: b, c: 0))
  }

  mutating func constant(_ k: Constant) -> UInt16 {
    if let i = constantIndex[k] { return UInt16(i) }
    guard constants.count < Int(UInt16.max) else {
      fail("the program needs more than \(UInt16.max) constants")
      return 0
    }
    constants.append(k)
    constantIndex[k] = constants.count - 1
    return UInt16(constants.count - 1)
  }

  /// A constant slot filled in later (a rule index depends on code addresses).
  mutating func reserveConstant() -> UInt16 {
    constants.append(.int(0))
    return UInt16(constants.count - 1)
  }

  mutating func fail(_ message: String) {
    if errors.count < 50 { errors.append(.error(message, at: currentRange)) }
  }
}
