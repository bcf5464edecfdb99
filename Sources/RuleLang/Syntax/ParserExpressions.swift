/// Expressions, by precedence from loosest to tightest:
///
///     or  (||)  <  and (&&)  <  not (!)  <  comparison  <  &  <  ..  <  postfix [ ]  <  primary
///
/// Comparisons (`== != < <= > >= in starts ends contains matches`, and `not in`) do not chain.
extension Parser {
  public mutating func parseExpression() -> Expr {
    parseLogical(.or)
  }

  mutating func parseLogical(_ op: LogicalOperator) -> Expr {
    let next: (inout Parser) -> Expr =
      op == .or ? { $0.parseLogical(.and) } : { $0.parseNot() }
    var operands = [next(&self)]
    while op == .or ? (accept(.or) || accept(.pipePipe)) : (accept(.and) || accept(.ampAmp)) {
      operands.append(next(&self))
    }
    guard operands.count > 1 else { return operands[0] }
    if operands.contains(where: { if case .error = $0.kind { true } else { false } }) {
      return Expr(.error, operands[0].range.union(operands.last!.range))
    }
    return Expr(.logical(op, operands), operands[0].range.union(operands.last!.range))
  }

  mutating func parseNot() -> Expr {
    guard at(.not) || at(.bang) else { return parseComparison() }
    let start = advance().range
    return nested(start) { p in
      let operand = p.parseNot()
      if case .error = operand.kind { return operand }
      return Expr(.not(operand), start.union(operand.range))
    }
  }

  /// Runs `body` one nesting level deeper, refusing absurd depths with a diagnostic.
  mutating func nested(_ start: SourceRange, _ body: (inout Parser) -> Expr) -> Expr {
    depth += 1
    defer { depth -= 1 }
    if depth > Parser.maxDepth {
      if depth == Parser.maxDepth + 1 {
        error(
          "expression is nested more than \(Parser.maxDepth) levels deep; simplify it", at: start)
      }
      // Skip the rest of the file's tokens of this expression quickly: no deeper recursion.
      return Expr(.error, start)
    }
    return body(&self)
  }

  static let comparisonOperators: [TokenKind: BinaryOperator] = [
    .equal: .equal, .notEqual: .notEqual, .less: .less, .lessEqual: .lessEqual,
    .greater: .greater, .greaterEqual: .greaterEqual, .keyword(.in): .in,
    .keyword(.starts): .starts, .keyword(.ends): .ends, .keyword(.contains): .contains,
    .keyword(.matches): .matches,
  ]

  mutating func comparisonOperator() -> (BinaryOperator, SourceRange, negated: Bool)? {
    if at(.not), peek(1).kind == .keyword(.in) {
      let start = advance().range
      let end = advance().range
      return (.in, start.union(end), true)
    }
    if at(.assign) {
      error(
        "'=' assigns; compare with '=='", fixIts: [FixIt(range: current.range, replacement: "==")])
      return (.equal, advance().range, false)
    }
    guard let op = Parser.comparisonOperators[current.kind] else { return nil }
    return (op, advance().range, false)
  }

  mutating func parseComparison() -> Expr {
    let lhs = parseBitAnd()
    guard let (op, opRange, negated) = comparisonOperator() else { return lhs }
    let rhs = parseBitAnd()
    if case .error = lhs.kind { return lhs }
    if case .error = rhs.kind { return rhs }
    let range = lhs.range.union(rhs.range)
    var result = Expr(.binary(op, lhs, rhs, operatorRange: opRange), range)
    if negated { result = Expr(.not(result), range) }
    if let (_, nextRange, _) = Parser.comparisonOperators[current.kind].map({
      ($0, current.range, false)
    }) {
      error("comparisons cannot be chained; combine them with 'and'", at: nextRange)
      _ = advance()
      _ = parseBitAnd()
      return Expr(.error, range)
    }
    return result
  }

  mutating func parseBitAnd() -> Expr {
    var lhs = parseRange()
    // `a & b & c` nests to the left: each '&' is a level of the tree, and counts against
    // `maxDepth` like a parenthesis, so that the checker's and printer's recursion stays bounded.
    let outer = depth
    defer { depth = outer }
    while at(.ampersand) {
      let opRange = advance().range
      depth += 1
      if depth > Parser.maxDepth {
        error(
          "too many '&' in one expression (it nests more than \(Parser.maxDepth) levels deep)",
          at: opRange)
        return Expr(.error, lhs.range)
      }
      let rhs = parseRange()
      if case .error = lhs.kind { continue }
      if case .error = rhs.kind {
        lhs = rhs
        continue
      }
      lhs = Expr(.binary(.bitAnd, lhs, rhs, operatorRange: opRange), lhs.range.union(rhs.range))
    }
    return lhs
  }

  mutating func parseRange() -> Expr {
    let lo = parsePostfix()
    guard at(.dotDot) else { return lo }
    _ = advance()
    let hi = parsePostfix()
    if case .error = lo.kind { return lo }
    if case .error = hi.kind { return hi }
    return Expr(.range(lo, hi), lo.range.union(hi.range))
  }

  mutating func parsePostfix() -> Expr {
    var e = parsePrimary()
    // `payload[0][1]…` nests to the left: each '[' counts against `maxDepth`, like a parenthesis.
    let outer = depth
    defer { depth = outer }
    while at(.leftBracket) {
      let open = advance().range
      depth += 1
      if depth > Parser.maxDepth {
        error(
          "expression is nested more than \(Parser.maxDepth) levels deep; simplify it", at: open)
        return Expr(.error, e.range)
      }
      // `HTTP.headers["x-name"]`: a bracketed path segment.
      if case .path(let segs) = e.kind, at(.string), peek(1).kind == .rightBracket {
        let t = advance()
        let close = advance().range
        guard case .string(let key) = t.value else { continue }
        e = Expr(
          .path(segs + [PathSegment(name: key, range: t.range, bracketed: true)]),
          e.range.union(close))
        continue
      }
      let index = nested(open) { $0.parseExpression() }
      if accept(.colon) {
        let length = nested(open) { $0.parseExpression() }
        let close = current.range
        guard accept(.rightBracket) else {
          if case .error = index.kind { return index }
          expected("']' to close the slice")
          return Expr(.error, e.range)
        }
        if case .error = index.kind { return index }
        if case .error = length.kind { return length }
        e = Expr(.slice(e, index, length), e.range.union(close))
        continue
      }
      let close = current.range
      guard accept(.rightBracket) else {
        if case .error = index.kind { return index }
        expected("']' to close the index")
        return Expr(.error, e.range)
      }
      if case .error = index.kind { return index }
      e = Expr(.index(e, index), e.range.union(close))
    }
    return e
  }

  mutating func parsePrimary() -> Expr {
    let t = current
    switch t.kind {
    case .integer, .string, .bytes, .ip, .cidr, .duration:
      _ = advance()
      switch t.value {
      case .integer(let v): return Expr(.integer(v), t.range)
      case .string(let s): return Expr(.string(s), t.range)
      case .bytes(let b): return Expr(.bytes(b), t.range)
      case .ip(let a): return Expr(.ip(a), t.range)
      case .cidr(let c): return Expr(.cidr(c), t.range)
      case .duration(let d): return Expr(.duration(d), t.range)
      case .none: return Expr(.error, t.range)
      }
    case .keyword(.trueLiteral):
      _ = advance()
      return Expr(.bool(true), t.range)
    case .keyword(.falseLiteral):
      _ = advance()
      return Expr(.bool(false), t.range)
    case .identifier:
      _ = advance()
      if at(.leftParen) { return parseCall(Name(text: t.text, range: t.range)) }
      return Expr(.path(splitPath(t)), t.range)
    case .leftParen:
      let open = advance().range
      return nested(open) { p in
        let inner = p.parseExpression()
        let close = p.current.range
        guard p.accept(.rightParen) else {
          if case .error = inner.kind { return inner }
          p.error("expected ')' to close the '(' at \(p.source.location(of: open.start))")
          return Expr(.error, open.union(inner.range))
        }
        if case .error = inner.kind { return inner }
        return Expr(.paren(inner), open.union(close))
      }
    case .leftBrace:
      // `when x == { drop }`: a rule's body, not a set; the value is missing.
      if [TokenKind.keyword(.set), .keyword(.route), .keyword(.drop), .keyword(.apply)].contains(
        peek(1).kind)
      {
        expected("an expression")
        return Expr(.error, t.range)
      }
      let open = advance().range
      return nested(open) { p in
        var elements: [Expr] = []
        var failed = false
        while !p.at(.rightBrace) {
          let e = p.parseExpression()
          if case .error = e.kind { failed = true }
          elements.append(e)
          if !p.accept(.comma) { break }
        }
        let close = p.current.range
        guard p.accept(.rightBrace) else {
          if !failed { p.expected("',' or '}' in the set") }
          // Skip the rest of the set, through its '}' unless a rule body or an action starts first.
          while !p.at(.endOfFile), !p.at(.leftBrace), !p.at(.rightBrace), !p.atAction,
            !p.at(.rule)
          {
            _ = p.advance()
          }
          _ = p.accept(.rightBrace)
          return Expr(.error, open)
        }
        if failed { return Expr(.error, open.union(close)) }
        return Expr(.set(elements), open.union(close))
      }
    case .invalid:
      _ = advance()
      return Expr(.error, t.range)
    case .keyword(let k):
      expected("an expression")
      // Do not swallow a keyword that starts the next construct.
      if ![.rule, .rulelist, .constant, .set, .route, .drop, .apply].contains(k) { _ = advance() }
      return Expr(.error, t.range)
    case .leftBracket:
      expected("an expression (sets are written with braces: {1, 2})")
      _ = advance()
      return Expr(.error, t.range)
    default:
      expected("an expression")
      // Closing tokens are left for whatever they close: `payload[0:]` is one mistake.
      if ![.endOfFile, .leftBrace, .rightBrace, .rightBracket, .rightParen].contains(t.kind) {
        _ = advance()
      }
      return Expr(.error, t.range)
    }
  }

  mutating func parseCall(_ name: Name) -> Expr {
    let open = advance().range
    return nested(open) { p in
      var args: [Expr] = []
      var failed = false
      if !p.at(.rightParen) {
        repeat {
          let a = p.parseExpression()
          if case .error = a.kind { failed = true }
          args.append(a)
        } while p.accept(.comma)
      }
      let close = p.current.range
      guard p.accept(.rightParen) else {
        if !failed { p.expected("',' or ')' in the call to \(name.text)()") }
        return Expr(.error, name.range)
      }
      if failed { return Expr(.error, name.range.union(close)) }
      return Expr(.call(name, args), name.range.union(close))
    }
  }

  /// `HTTP.headers.x-id` → [HTTP, headers, x-id], each with its own range.
  func splitPath(_ t: Token) -> [PathSegment] {
    var segs: [PathSegment] = []
    var start = t.range.start
    var partStart = 0
    let bytes = Array(t.text.utf8)
    for (k, b) in bytes.enumerated() where b == UInt8(ascii: ".") {
      segs.append(
        PathSegment(
          name: String(decoding: bytes[partStart..<k], as: UTF8.self),
          range: SourceRange(start, t.range.start + k), bracketed: false))
      partStart = k + 1
      start = t.range.start + k + 1
    }
    segs.append(
      PathSegment(
        name: String(decoding: bytes[partStart...], as: UTF8.self),
        range: SourceRange(start, t.range.end), bracketed: false))
    return segs
  }
}
