/// The result of checking a rule file: the typed tree and everything found wrong with it.
public struct CheckedFile: Sendable {
  public let source: SourceFile
  public let file: RuleFile
  /// Each rulelist's protocol (only for rulelists whose protocol is valid).
  public let protocols: [String: RuleProtocol]
  /// The value of every valid `const`.
  public let constants: [String: Value]
  public let diagnostics: [Diagnostic]
  /// How many more diagnostics were found than `DiagnosticBag.limit` lets through.
  public let omittedDiagnostics: Int

  public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// Parses and checks rule source: names, types, metadata per protocol, actions, `apply` cycles,
/// and the warnings for what is legal but likely wrong.
public enum RuleChecker {
  public static func check(_ source: SourceFile) -> CheckedFile {
    let (file, parseDiagnostics) = Parser.parse(source)
    var checker = Checker(source: source, file: file)
    checker.diagnostics.append(contentsOf: parseDiagnostics)
    checker.parseErrors = parseDiagnostics.diagnostics.filter { $0.severity == .error }.map(\.range)
    checker.run()
    let sorted = checker.diagnostics.diagnostics.enumerated().sorted { a, b in
      a.element.range.start != b.element.range.start
        ? a.element.range.start < b.element.range.start : a.offset < b.offset
    }.map(\.element)
    return CheckedFile(
      source: source, file: file, protocols: checker.protocols,
      constants: checker.constantValues(), diagnostics: sorted,
      omittedDiagnostics: checker.diagnostics.dropped)
  }

  public static func check(text: String, name: String) -> CheckedFile {
    check(SourceFile(name: name, text: text))
  }
}

struct Checker {
  let source: SourceFile
  let file: RuleFile
  var diagnostics = DiagnosticBag()
  var protocols: [String: RuleProtocol] = [:]
  /// Where the lexer and parser found errors, so the checker does not report their consequences.
  var parseErrors: [SourceRange] = []

  struct ConstInfo {
    let decl: ConstDecl
    var state: State = .unresolved
    var used = false
    enum State {
      case unresolved, resolving
      case resolved(Value?)
    }
  }
  var consts: [String: ConstInfo] = [:]
  /// The constants being resolved, innermost last: for reporting cycles.
  var constStack: [String] = []
  var rulelistDecls: [String: RulelistDecl] = [:]
  /// The protocol of the rulelist being checked; nil while checking consts.
  var currentProtocol: RuleProtocol? = nil

  init(source: SourceFile, file: RuleFile) {
    self.source = source
    self.file = file
  }

  /// Whether a new diagnostic would still be kept. "Did you mean …?" searches every declared
  /// name: not worth doing for a diagnostic that is dropped (and quadratic in a hostile file).
  var keepsDiagnostics: Bool { diagnostics.diagnostics.count < DiagnosticBag.limit }

  func constantValues() -> [String: Value] {
    var out: [String: Value] = [:]
    for (name, info) in consts {
      if case .resolved(let v?) = info.state { out[name] = v }
    }
    return out
  }

  mutating func run() {
    collectDeclarations()
    for name in constantsInDependencyOrder() { _ = resolveConst(name) }
    for c in file.constants { _ = resolveConst(c.name.text) }
    for r in file.rulelists { checkRulelist(r) }
    checkApplyCycles()
    // Where the parser dropped part of the tree, a use may have been lost with it.
    let unusedKnown = parseErrors.isEmpty
    for c in file.constants where consts[c.name.text]?.decl.range == c.range && unusedKnown {
      if consts[c.name.text]?.used == false {
        diagnostics.append(
          .warning(
            "constant '\(c.name.text)' is never used", at: c.name.range,
            fixIts: [FixIt(range: c.range, replacement: "")]))
      }
    }
  }

  mutating func collectDeclarations() {
    for c in file.constants {
      let name = c.name.text
      if Keyword(rawValue: name) != nil {
        diagnostics.error(
          "'\(name)' is a keyword and cannot name a constant", at: c.name.range)
        continue
      }
      if MetadataSchema.roots.contains(name) || Builtin.named(name) != nil {
        diagnostics.error(
          "'\(name)' is reserved (a metadata field or function) and cannot name a constant",
          at: c.name.range)
        continue
      }
      if name.contains(".") {
        diagnostics.error(
          "constant names cannot contain '.', which separates metadata path parts",
          at: c.name.range,
          fixIts: [FixIt(range: c.name.range, replacement: name.replacing(".", with: "_"))])
        continue
      }
      if let first = consts[name] {
        diagnostics.append(
          .error(
            "constant '\(name)' is already defined", at: c.name.range,
            notes: [.init(message: "first defined here", range: first.decl.name.range)]))
        continue
      }
      consts[name] = ConstInfo(decl: c)
    }
    for r in file.rulelists {
      if let first = rulelistDecls[r.name.text] {
        diagnostics.append(
          .error(
            "rulelist '\(r.name.text)' is already defined", at: r.name.range,
            notes: [.init(message: "first defined here", range: first.name.range)]))
        continue
      }
      rulelistDecls[r.name.text] = r
      if let p = RuleProtocol(rawValue: r.protocolName.text) {
        protocols[r.name.text] = p
      } else {
        let names = RuleProtocol.allCases.map(\.rawValue)
        let exact = names.first { $0.lowercased() == r.protocolName.text.lowercased() }
        let best = exact ?? Spelling.closest(to: r.protocolName.text, in: names).first
        diagnostics.error(
          "unknown protocol '\(r.protocolName.text)'; \(best.map { "did you mean '\($0)'?" } ?? "expected \(RuleProtocol.namesForMessages)")",
          at: r.protocolName.range,
          fixIts: best.map { [FixIt(range: r.protocolName.range, replacement: $0)] } ?? [])
      }
    }
  }

  /// The value of a constant, resolving it (and what it refers to) on first use.
  mutating func resolveConst(_ name: String) -> Value? {
    guard var info = consts[name] else { return nil }
    switch info.state {
    case .resolved(let v): return v
    case .resolving:
      // The constants being resolved, from the first use of `name` on, make the cycle.
      let cycle = constStack[(constStack.lastIndex(of: name) ?? 0)...] + [name]
      diagnostics.error(
        "constant '\(name)' refers to itself\(cycle.count > 2 ? ": " + cycle.joined(separator: " → ") : "")",
        at: info.decl.name.range)
      info.state = .resolved(nil)
      consts[name] = info
      return nil
    case .unresolved:
      info.state = .resolving
      consts[name] = info
      let saved = currentProtocol
      currentProtocol = nil
      let e = info.decl.value
      constStack.append(name)
      let t = infer(e)
      constStack.removeLast()
      currentProtocol = saved
      var value: Value? = nil
      if !t.isError {
        if let v = e.constant {
          value = v
          lintConstant(e)
        } else {
          diagnostics.error(
            "a constant must be a literal, a set, a range or another constant; '\(ExprPrinter.print(e))' depends on the packet",
            at: e.range)
        }
      }
      if case .resolved = consts[name]!.state {
      } else {
        consts[name]!.state = .resolved(value)
      }
      return value
    }
  }

  /// The constants, each after the constants its value names, so that resolving them in this
  /// order never recurses deeply (`resolveConst` recurses into what a constant names). A name that
  /// closes a cycle is reported here, and that constant resolves to nothing.
  mutating func constantsInDependencyOrder() -> [String] {
    func references(_ e: Expr, _ out: inout [String]) {
      switch e.kind {
      case .path(let segs):
        if segs.count == 1, consts[segs[0].name] != nil { out.append(segs[0].name) }
      case .set(let xs), .logical(_, let xs), .call(_, let xs):
        for x in xs { references(x, &out) }
      case .range(let a, let b), .index(let a, let b), .binary(_, let a, let b, _):
        references(a, &out)
        references(b, &out)
      case .slice(let a, let b, let c):
        references(a, &out)
        references(b, &out)
        references(c, &out)
      case .not(let x), .paren(let x): references(x, &out)
      case .integer, .string, .bytes, .ip, .cidr, .duration, .bool, .error: break
      }
    }
    var order: [String] = []
    var state: [String: Int] = [:]  // 1 visiting, 2 done
    var stack: [String] = []
    var position: [String: Int] = [:]  // where a constant being visited is in `stack`
    // Depth first with an explicit stack: a long chain of constants must not exhaust the call stack.
    var work: [(name: String, references: [String], next: Int)] = []
    func push(_ name: String) {
      var refs: [String] = []
      references(consts[name]!.decl.value, &refs)
      state[name] = 1
      position[name] = stack.count
      stack.append(name)
      work.append((name, refs, 0))
    }
    for c in file.constants where consts[c.name.text] != nil && state[c.name.text] == nil {
      push(c.name.text)
      while let (u, refs, next) = work.last {
        guard next < refs.count else {
          work.removeLast()
          stack.removeLast()
          position[u] = nil
          state[u] = 2
          order.append(u)
          continue
        }
        work[work.count - 1].next += 1
        let v = refs[next]
        if state[v] == nil {
          push(v)
        } else if state[v] == 1, case .unresolved = consts[v]!.state {
          let cycle = stack[position[v]!...] + [v]
          diagnostics.error(
            "constant '\(v)' refers to itself\(cycle.count > 2 ? ": " + cycle.joined(separator: " → ") : "")",
            at: consts[v]!.decl.name.range)
          consts[v]!.state = .resolved(nil)
          // Its value is never typed now, but the constants it names are used.
          markConstantsUsed(consts[v]!.decl.value)
        }
      }
    }
    return order
  }

  // MARK: rulelists and rules

  mutating func checkRulelist(_ r: RulelistDecl) {
    guard rulelistDecls[r.name.text]?.range == r.range else { return }
    currentProtocol = protocols[r.name.text]
    defer { currentProtocol = nil }
    // Rules the parser could not read were reported already.
    let unreadRules = parseErrors.contains { r.range.start <= $0.start && $0.start < r.range.end }
    if r.rules.isEmpty, !unreadRules {
      diagnostics.warning(
        "rulelist '\(r.name.text)' has no rules: every packet is dropped", at: r.name.range)
    }
    var seen: [String: Rule] = [:]
    for rule in r.rules {
      if let first = seen[rule.name.text] {
        diagnostics.append(
          .error(
            "rule '\(rule.name.text)' is already defined in rulelist '\(r.name.text)'",
            at: rule.name.range,
            notes: [.init(message: "first defined here", range: first.name.range)]))
      } else {
        seen[rule.name.text] = rule
      }
      checkRule(rule, in: r)
    }
    if currentProtocol != nil { lintShadowedRules(r) }
  }

  mutating func checkRule(_ rule: Rule, in list: RulelistDecl) {
    if let cond = rule.condition, currentProtocol == nil {
      // The rulelist's protocol is unknown (and reported): its fields cannot be checked, but the
      // constants it names are used.
      markConstantsUsed(cond)
    }
    if let cond = rule.condition, currentProtocol != nil {
      let t = infer(cond)
      if !t.isError, t.unwrapped != .bool, t.unwrapped != .dynamic {
        diagnostics.error(
          "a rule's condition must be bool, but this is \(t)\(conditionHint(cond, t))",
          at: cond.range)
      }
      if t.unwrapped == .bool, let c = cond.constant, case .bool(let b) = c {
        diagnostics.warning(
          b
            ? "condition is always true; leave out 'when' for a rule that matches everything"
            : "condition is always false: rule '\(rule.name.text)' never matches",
          at: cond.range)
      }
    }
    var terminal: Action? = nil
    var firstSet: SourceRange? = nil
    for action in rule.actions {
      if let t = terminal {
        diagnostics.append(
          .error(
            "nothing can follow '\(keyword(of: t))' in a rule; a rule ends with one route, drop or apply",
            at: action.range,
            notes: [.init(message: "the rule ends here", range: t.range)]))
        continue
      }
      switch action {
      case .set(let target, let value, let range):
        if firstSet == nil { firstSet = range }
        checkSet(target, value)
      case .route(let route):
        terminal = action
        checkRoute(route)
      case .drop:
        terminal = action
        if let firstSet {
          diagnostics.append(
            .warning(
              "'set' has no effect in a rule that drops the packet", at: firstSet,
              notes: [.init(message: "the packet is dropped here", range: action.range)]))
        }
      case .apply(let name, _):
        terminal = action
        checkApply(name, from: list)
      }
    }
    // A route, drop or apply the parser could not read was reported already: one error per mistake.
    let unreadable = parseErrors.contains {
      $0.start >= rule.headRange.end && $0.start < rule.range.end
    }
    if terminal == nil, !unreadable {
      diagnostics.error(
        "rule '\(rule.name.text)' has no 'route', 'drop' or 'apply': say what happens to the packets it matches",
        at: rule.name.range)
    }
  }

  /// Marks the constants an unchecked expression names as used.
  mutating func markConstantsUsed(_ e: Expr) {
    switch e.kind {
    case .path(let segs):
      if segs.count == 1, consts[segs[0].name] != nil { consts[segs[0].name]!.used = true }
    case .set(let xs), .logical(_, let xs): for x in xs { markConstantsUsed(x) }
    case .call(_, let xs): for x in xs { markConstantsUsed(x) }
    case .range(let a, let b), .index(let a, let b), .binary(_, let a, let b, _):
      markConstantsUsed(a)
      markConstantsUsed(b)
    case .slice(let a, let b, let c):
      for x in [a, b, c] { markConstantsUsed(x) }
    case .not(let x), .paren(let x): markConstantsUsed(x)
    case .integer, .string, .bytes, .ip, .cidr, .duration, .bool, .error: break
    }
  }

  func keyword(of a: Action) -> String {
    switch a {
    case .set: return "set"
    case .route: return "route"
    case .drop: return "drop"
    case .apply: return "apply"
    }
  }

  func conditionHint(_ e: Expr, _ t: RuleType) -> String {
    switch t.unwrapped {
    case .int: return "; compare it, e.g. '\(ExprPrinter.print(e)) != 0'"
    case .string, .bytes: return "; test it, e.g. 'len(\(ExprPrinter.print(e))) > 0'"
    default: return ""
    }
  }

  mutating func checkSet(_ target: Expr, _ value: Expr) {
    guard let proto = currentProtocol else {
      markConstantsUsed(value)
      return
    }
    guard case .path(let segs) = target.kind else {
      diagnostics.error(
        "'set' writes a metadata field such as labels.NAME or HTTP.headers.NAME", at: target.range)
      _ = infer(value)
      return
    }
    let names = segs.map(\.name)
    let valueType = infer(value)
    switch MetadataSchema.lookup(names) {
    case .field(let f):
      guard f.writableOn.contains(proto) else {
        let writable = MetadataSchema.fields.filter { $0.writableOn.contains(proto) }.map {
          $0.isFamily ? $0.path.dropLast().joined(separator: ".") + ".NAME" : $0.displayPath
        }
        diagnostics.error(
          "'\(names.joined(separator: "."))' cannot be set on a \(proto) rulelist; writable: \(writable.joined(separator: ", "))",
          at: target.range)
        return
      }
      target.type = f.type
      if valueType.isError { return }
      switch f.type.unwrapped {
      case .dynamic:
        switch valueType {
        case .set, .range:
          diagnostics.error(
            "cannot set '\(names.joined(separator: "."))' to a \(valueType): a field holds one value",
            at: value.range)
        default: return
        }
      case .string:
        // Headers and URL parts are text: numbers, booleans and addresses are written as text.
        switch valueType.unwrapped {
        case .string, .int, .bool, .ip, .dynamic: return
        default:
          diagnostics.error(
            "cannot set '\(names.joined(separator: "."))' (a string) to a value of type \(valueType)",
            at: value.range)
        }
      default:
        if !coerce(value, to: f.type.unwrapped) {
          diagnostics.error(
            "cannot set '\(names.joined(separator: "."))' (\(f.type)) to a value of type \(valueType)",
            at: value.range)
        }
      }
    default:
      if segs.count == 1, !segs[0].bracketed, consts[segs[0].name] != nil {
        markConstantsUsed(target)
        diagnostics.error(
          "'\(segs[0].name)' is a constant and cannot be set; 'set' writes a metadata field such as labels.NAME or HTTP.headers.NAME",
          at: target.range)
        return
      }
      _ = infer(target)
    }
  }

  // MARK: route

  static let retryOnValues = ["never", "connect-failure", "disconnect", "always"]
  static let routeOptions: [(String, RuleType)] = [
    ("retry_on", .string), ("retries", .int), ("timeout", .duration),
    ("remove_orphan_sessions", .bool), ("idle_timeout", .duration),
  ]

  mutating func checkRoute(_ route: RouteAction) {
    var seen: [String: RouteOption] = [:]
    for opt in route.options {
      let key = opt.key.text
      let t: RuleType
      if key == "retry_on", case .path(let segs) = opt.value.kind,
        !segs.contains(where: \.bracketed), !(segs.count == 1 && consts[segs[0].name] != nil),
        case .notARoot = MetadataSchema.lookup(segs.map(\.name))
      {
        // `retry_on = connect-failure`: a bare word, not an unknown name.
        let text = segs.map(\.name).joined(separator: ".")
        diagnostics.error(
          "route option 'retry_on' must be a string; write \"\(text)\"", at: opt.value.range,
          fixIts: [FixIt(range: opt.value.range, replacement: "\"\(text)\"")])
        t = .error
      } else {
        t = infer(opt.value)
      }
      guard let expected = Checker.routeOptions.first(where: { $0.0 == key })?.1 else {
        let names = Checker.routeOptions.map(\.0)
        let best = Spelling.closest(to: key, in: names).first
        diagnostics.error(
          "unknown route option '\(key)'; \(best.map { "did you mean '\($0)'?" } ?? "options are \(names.joined(separator: ", "))")",
          at: opt.key.range,
          fixIts: best.map { [FixIt(range: opt.key.range, replacement: $0)] } ?? [])
        continue
      }
      if let first = seen[key] {
        diagnostics.append(
          .error(
            "route option '\(key)' is given twice", at: opt.key.range,
            notes: [.init(message: "first given here", range: first.key.range)]))
        continue
      }
      seen[key] = opt
      if t.isError { continue }
      guard opt.value.constant != nil else {
        diagnostics.error("route option '\(key)' must be a constant", at: opt.value.range)
        continue
      }
      if !coerce(opt.value, to: expected) {
        var fix: [FixIt] = []
        var hint = ""
        if expected == .duration, case .int(let n)? = opt.value.constant {
          fix = [FixIt(range: opt.value.range, replacement: "\(n)s")]
          hint = "; durations need a unit, e.g. \(n)s or \(n)ms"
        }
        if key == "retry_on", case .path(let segs) = opt.value.kind {
          let text = segs.map(\.name).joined(separator: ".")
          fix = [FixIt(range: opt.value.range, replacement: "\"\(text)\"")]
          hint = "; write it as a string"
        }
        diagnostics.error(
          "route option '\(key)' must be \(expected), found \(t)\(hint)", at: opt.value.range,
          fixIts: fix)
        continue
      }
      switch (key, opt.value.constant) {
      case ("retry_on", .string(let s)?) where !Checker.retryOnValues.contains(s):
        let best = Spelling.closest(to: s, in: Checker.retryOnValues).first
        diagnostics.error(
          "retry_on must be one of \(Checker.retryOnValues.map { "\"\($0)\"" }.joined(separator: ", "))\(best.map { "; did you mean \"\($0)\"?" } ?? "")",
          at: opt.value.range,
          fixIts: best.map { [FixIt(range: opt.value.range, replacement: "\"\($0)\"")] } ?? [])
      case ("retries", .int(let n)?) where n > 1000:
        diagnostics.error("retries must be at most 1000, found \(n)", at: opt.value.range)
      case ("timeout", .duration(let d)?), ("idle_timeout", .duration(let d)?):
        if d == 0 { diagnostics.error("\(key) must be longer than 0s", at: opt.value.range) }
      default: break
      }
    }
    if let retries = seen["retries"], seen["retry_on"] == nil {
      diagnostics.warning(
        "'retries' has no effect without 'retry_on' (the default is \"never\")",
        at: retries.key.range,
        fixIts: [
          FixIt(
            range: SourceRange(retries.key.range.start, retries.key.range.start),
            replacement: "retry_on = \"connect-failure\", ")
        ])
    }
  }

  // MARK: apply

  mutating func checkApply(_ name: Name, from list: RulelistDecl) {
    guard let target = rulelistDecls[name.text] else {
      let best =
        keepsDiagnostics
        ? Spelling.closest(to: name.text, in: Array(rulelistDecls.keys)).first : nil
      diagnostics.error(
        "no rulelist named '\(name.text)'\(best.map { "; did you mean '\($0)'?" } ?? "")",
        at: name.range, fixIts: best.map { [FixIt(range: name.range, replacement: $0)] } ?? [])
      return
    }
    if let from = protocols[list.name.text], let to = protocols[target.name.text], from != to {
      diagnostics.append(
        .error(
          "cannot apply rulelist '\(name.text)' (for \(to)) from a \(from) rulelist",
          at: name.range,
          notes: [.init(message: "'\(name.text)' is declared here", range: target.name.range)]))
    }
  }

  /// `apply` must not loop: rulelist a applies b, b applies a.
  mutating func checkApplyCycles() {
    var edges: [String: [(String, SourceRange)]] = [:]
    for r in file.rulelists where rulelistDecls[r.name.text]?.range == r.range {
      for rule in r.rules {
        for case .apply(let n, _) in rule.actions where rulelistDecls[n.text] != nil {
          edges[r.name.text, default: []].append((n.text, n.range))
        }
      }
    }
    var state: [String: Int] = [:]  // 1 visiting, 2 done
    var stack: [String] = []
    var position: [String: Int] = [:]  // where a rulelist being visited is in `stack`
    var reported = Set<String>()
    // Depth first with an explicit stack (a rulelist and the index of its next edge), so that a
    // long chain of applies cannot exhaust the call stack.
    var work: [(rulelist: String, next: Int)] = []
    for r in file.rulelists where state[r.name.text] == nil {
      state[r.name.text] = 1
      position[r.name.text] = stack.count
      stack.append(r.name.text)
      work.append((r.name.text, 0))
      while let (u, next) = work.last {
        let out = edges[u] ?? []
        guard next < out.count else {
          work.removeLast()
          stack.removeLast()
          position[u] = nil
          state[u] = 2
          continue
        }
        work[work.count - 1].next += 1
        let (v, range) = out[next]
        if state[v] == 1 {
          // Only while the error can still be kept: cycles cost their length to describe.
          guard diagnostics.diagnostics.count < DiagnosticBag.limit else { continue }
          let cycle = stack[position[v]!...] + [v]
          let key = Set(cycle).sorted().joined(separator: ",")
          if reported.insert(key).inserted {
            diagnostics.error(
              "'apply' makes a cycle: \(cycle.joined(separator: " → ")); rules cannot loop",
              at: range)
          }
        } else if state[v] == nil {
          state[v] = 1
          position[v] = stack.count
          stack.append(v)
          work.append((v, 0))
        }
      }
    }
  }
}
