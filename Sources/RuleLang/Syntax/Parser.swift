/// Recursive-descent parser for rule files (`grammar/rules.ebnf`). It recovers from errors at
/// declaration, rule and action boundaries, so one pass reports several mistakes.
public struct Parser {
  var tokens: [Token]
  var p = 0
  let source: SourceFile
  public private(set) var diagnostics = DiagnosticBag()
  /// Current nesting of parentheses, `not`, calls, sets and indexes.
  var depth = 0
  /// Deeper nesting than this is refused with a diagnostic instead of exhausting the stack.
  public static let maxDepth = 128

  public init(_ source: SourceFile) {
    self.source = source
    let (tokens, diags) = Lexer.tokenize(source)
    // Invalid tokens were reported by the lexer; the parser treats them as errors in place.
    self.tokens = tokens
    self.diagnostics = diags
  }

  /// Parses a whole file. The tree is always returned; `diagnostics` says what was wrong.
  public static func parse(_ source: SourceFile) -> (RuleFile, DiagnosticBag) {
    var parser = Parser(source)
    let file = parser.parseFile()
    return (file, parser.diagnostics)
  }

  // MARK: tokens

  var current: Token { tokens[p] }
  var previous: Token { tokens[max(0, p - 1)] }

  func peek(_ k: Int) -> Token { tokens[min(p + k, tokens.count - 1)] }

  mutating func advance() -> Token {
    let t = tokens[p]
    if p < tokens.count - 1 { p += 1 }
    return t
  }

  func at(_ kind: TokenKind) -> Bool { current.kind == kind }
  func at(_ k: Keyword) -> Bool { current.kind == .keyword(k) }

  mutating func accept(_ kind: TokenKind) -> Bool {
    guard at(kind) else { return false }
    _ = advance()
    return true
  }

  mutating func accept(_ k: Keyword) -> Bool { accept(.keyword(k)) }

  mutating func error(_ message: String, at range: SourceRange? = nil, fixIts: [FixIt] = []) {
    // An invalid token was already reported by the lexer: one message per mistake.
    if range == nil, current.kind == .invalid { return }
    // Nor right after one: what seems missing there (a '{' swallowed by an unterminated string, the
    // rest of `a - 1`) is a consequence, not a second mistake.
    if range == nil, p > 0, previous.kind == .invalid { return }
    diagnostics.error(message, at: range ?? current.range, fixIts: fixIts)
  }

  /// Whether the previous token is an invalid one that ends its line, such as an unterminated
  /// string.
  var previousRanToEndOfLine: Bool {
    p > 0 && previous.kind == .invalid
      && (previous.range.end >= source.bytes.count || source.bytes[previous.range.end] == 0x0A)
  }

  /// Whether the current token starts an action.
  var atAction: Bool { at(.set) || at(.route) || at(.drop) || at(.apply) }

  /// "expected X, found Y" at the current token.
  mutating func expected(_ what: String) {
    error("expected \(what), found \(describe(current))")
  }

  func describe(_ t: Token) -> String {
    switch t.kind {
    case .endOfFile: return "the end of the file"
    case .identifier: return "'\(t.text)'"
    case .keyword(let k): return "'\(k.rawValue)'"
    default: return t.text.isEmpty ? t.kind.description : "'\(t.text)'"
    }
  }

  /// A name: an identifier, or a keyword spelled as a name (rule and target names are Kubernetes
  /// names, and `drop` or `route` are fine ones).
  mutating func parseName(_ what: String) -> Name? {
    switch current.kind {
    case .identifier, .keyword:
      let t = advance()
      return Name(text: t.text, range: t.range)
    default:
      expected(what)
      return nil
    }
  }

  // MARK: declarations

  mutating func parseFile() -> RuleFile {
    var decls: [Declaration] = []
    while !at(.endOfFile) {
      if at(.constant) {
        if let c = parseConst() { decls.append(.const(c)) } else { syncTopLevel() }
      } else if at(.rulelist) {
        if let r = parseRulelist() { decls.append(.rulelist(r)) } else { syncTopLevel() }
      } else {
        if at(.rule) {
          error("a rule must be inside a 'rulelist NAME for PROTOCOL { … }' block")
        } else {
          expected("'const' or 'rulelist'")
        }
        _ = advance()
        syncTopLevel()
      }
    }
    return RuleFile(declarations: decls)
  }

  /// Skips to the next `const` or `rulelist` outside any braces.
  mutating func syncTopLevel() {
    var braces = 0
    while !at(.endOfFile) {
      if braces <= 0, at(.constant) || at(.rulelist) { return }
      if at(.leftBrace) { braces += 1 }
      if at(.rightBrace) { braces -= 1 }
      _ = advance()
    }
  }

  mutating func parseConst() -> ConstDecl? {
    let start = advance().range
    guard let name = parseName("a constant name after 'const'") else { return nil }
    guard accept(.assign) else {
      if at(.equal) {
        error(
          "use '=' to define a constant", fixIts: [FixIt(range: current.range, replacement: "=")])
        _ = advance()
      } else {
        expected("'=' after 'const \(name.text)'")
        return nil
      }
      return finishConst(start: start, name: name)
    }
    return finishConst(start: start, name: name)
  }

  mutating func finishConst(start: SourceRange, name: Name) -> ConstDecl? {
    let value = parseExpression()
    if case .error = value.kind { return nil }
    return ConstDecl(name: name, value: value, range: start.union(value.range))
  }

  mutating func parseRulelist() -> RulelistDecl? {
    let start = advance().range
    guard let name = parseName("a rulelist name after 'rulelist'") else { return nil }
    guard accept(.for) else {
      let fix =
        at(.leftBrace)
        ? [
          FixIt(range: SourceRange(previous.range.end, previous.range.end), replacement: " for UDP")
        ]
        : []
      error(
        "expected 'for PROTOCOL' after 'rulelist \(name.text)' (UDP, TCP, WebSocket, UnixDomainSocket or JSONSocket)",
        fixIts: fix)
      return nil
    }
    guard
      let proto = parseName(
        "a protocol after 'for' (UDP, TCP, WebSocket, UnixDomainSocket or JSONSocket)")
    else { return nil }
    if !accept(.leftBrace) {
      expected("'{' to start the rules of rulelist '\(name.text)'")
      // `rulelist a for UDP rule …`: read on as if the brace were there.
      guard at(.rule) else { return nil }
    }
    var rules: [Rule] = []
    while !at(.rightBrace), !at(.endOfFile) {
      if at(.rule) {
        if let r = parseRule() { rules.append(r) }
        continue
      }
      if at(.rulelist) || at(.constant) {
        error("missing '}' to close rulelist '\(name.text)'", at: current.range)
        return RulelistDecl(
          name: name, protocolName: proto, rules: rules, range: start.union(previous.range))
      }
      if at(.route) || at(.drop) || at(.set) || at(.apply) {
        error("actions belong inside a rule: 'rule NAME { \(current.text) … }'")
      } else {
        expected("'rule' or '}'")
      }
      _ = advance()
      syncRule()
    }
    let end = current.range
    if !accept(.rightBrace) {
      error("missing '}' to close rulelist '\(name.text)'", at: name.range)
    }
    return RulelistDecl(name: name, protocolName: proto, rules: rules, range: start.union(end))
  }

  /// Skips to the next `rule`, or to the `}` closing the current rulelist.
  mutating func syncRule() {
    var braces = 0
    while !at(.endOfFile) {
      if braces == 0, at(.rule) || at(.rulelist) || at(.constant) { return }
      if at(.leftBrace) { braces += 1 }
      if at(.rightBrace) {
        if braces == 0 { return }
        braces -= 1
      }
      _ = advance()
    }
  }

  mutating func parseRule() -> Rule? {
    let start = advance().range
    guard let name = parseName("a rule name after 'rule'") else {
      syncRule()
      return nil
    }
    // Characters the lexer reported (`rule a- {`) are skipped rather than losing the rule.
    while at(.invalid) { _ = advance() }
    var condition: Expr? = nil
    if accept(.when) {
      let e = parseExpression()
      condition = e
      if case .error = e.kind {
        // Skip the rest of the condition up to the body, or up to its first action when a
        // string left open swallowed the '{'.
        while !at(.leftBrace), !at(.endOfFile), !at(.rule), !at(.rightBrace),
          !(previousRanToEndOfLine && atAction)
        {
          _ = advance()
        }
      }
    } else if !at(.leftBrace) {
      if current.kind == .identifier || at(.not) || at(.leftParen) {
        error(
          "expected 'when' before the rule's condition",
          fixIts: [
            FixIt(
              range: SourceRange(current.range.start, current.range.start), replacement: "when ")
          ])
        let e = parseExpression()
        condition = e
      }
    }
    while at(.invalid) { _ = advance() }
    let headRange = start.union(previous.range)
    if !accept(.leftBrace) {
      expected("'{' to start the actions of rule '\(name.text)'")
      // `rule r when … drop }`: read on as if the brace were there, so that its '}' does not
      // close the rulelist.
      guard atAction else {
        syncRule()
        return nil
      }
    }
    var actions: [Action] = []
    while !at(.rightBrace), !at(.endOfFile) {
      if at(.rule) || at(.rulelist) || at(.constant) {
        error("missing '}' to close rule '\(name.text)'", at: current.range)
        return Rule(
          name: name, condition: condition, actions: actions, range: start.union(previous.range),
          headRange: headRange)
      }
      if let a = parseAction() {
        actions.append(a)
      } else {
        syncAction()
      }
    }
    let end = current.range
    if !accept(.rightBrace) {
      error("missing '}' to close rule '\(name.text)'", at: name.range)
    }
    return Rule(
      name: name, condition: condition, actions: actions, range: start.union(end),
      headRange: headRange)
  }

  /// Skips to the next action keyword or the end of the rule body.
  mutating func syncAction() {
    var braces = 0
    while !at(.endOfFile) {
      if braces == 0 {
        if at(.set) || at(.route) || at(.drop) || at(.apply) || at(.rule) || at(.rulelist)
          || at(.constant) || at(.rightBrace)
        {
          return
        }
      }
      if at(.leftBrace) { braces += 1 }
      if at(.rightBrace) { braces -= 1 }
      _ = advance()
    }
  }

  // MARK: actions

  mutating func parseAction() -> Action? {
    let start = current.range
    switch current.kind {
    case .keyword(.set):
      _ = advance()
      let target = parsePostfix()
      if case .error = target.kind { return nil }
      if !accept(.assign) {
        if at(.equal) {
          error(
            "use '=' to assign in 'set'", fixIts: [FixIt(range: current.range, replacement: "=")])
          _ = advance()
        } else {
          expected("'=' after 'set \(source.text(of: target.range))'")
          return nil
        }
      }
      let value = parseExpression()
      if case .error = value.kind { return nil }
      return .set(target: target, value: value, range: start.union(value.range))
    case .keyword(.route):
      _ = advance()
      guard accept(.to) else {
        error(
          "expected 'to' after 'route'",
          fixIts: [
            FixIt(range: SourceRange(previous.range.end, previous.range.end), replacement: " to")
          ])
        return nil
      }
      guard let dest = parseName("a route destination (a cluster or service name)") else {
        return nil
      }
      var via: [Name] = []
      var back: [Name] = []
      var options: [RouteOption] = []
      if accept(.via) {
        guard let v = parseNameList("a stage name after 'via'") else { return nil }
        via = v
      }
      if accept(.returnKeyword) {
        guard accept(.via) else {
          expected("'via' after 'return'")
          return nil
        }
        guard let v = parseNameList("a stage name after 'return via'") else { return nil }
        back = v
      }
      if accept(.with) {
        guard let o = parseOptions() else { return nil }
        options = o
      }
      return .route(
        RouteAction(
          destination: dest, via: via, returnVia: back, options: options,
          range: start.union(previous.range)))
    case .keyword(.drop):
      _ = advance()
      return .drop(range: start)
    case .keyword(.apply):
      _ = advance()
      guard let name = parseName("a rulelist name after 'apply'") else { return nil }
      return .apply(name, range: start.union(name.range))
    case .keyword(.with):
      error("'with' sets route options and must follow 'route to …' in the same rule")
      _ = advance()
      return nil
    default:
      expected("an action ('set', 'route', 'drop' or 'apply') or '}'")
      _ = advance()
      return nil
    }
  }

  mutating func parseNameList(_ what: String) -> [Name]? {
    var names: [Name] = []
    repeat {
      guard let n = parseName(what) else { return nil }
      names.append(n)
    } while accept(.comma)
    return names
  }

  mutating func parseOptions() -> [RouteOption]? {
    var options: [RouteOption] = []
    repeat {
      guard let key = parseName("a route option such as 'timeout = 2s' after 'with'") else {
        return nil
      }
      guard accept(.assign) else {
        expected("'=' after route option '\(key.text)'")
        return nil
      }
      let value = parseExpression()
      if case .error = value.kind { return nil }
      options.append(RouteOption(key: key, value: value))
    } while accept(.comma)
    return options
  }
}
