/// An expression read and typed on its own, as the REPL's `:type` and bare expressions need it.
public struct CheckedExpression: Sendable {
  public let source: SourceFile
  /// The typed tree (`type`, and `constant` where the value is known before any packet).
  public let expression: Expr
  public let diagnostics: [Diagnostic]

  public var type: RuleType { expression.type }
  public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

extension RuleChecker {
  /// Parses `text` as one expression and types it as a condition of a `protocol` rulelist would
  /// be, with the constants of `context` (a checked rule file) in scope.
  public static func checkExpression(
    _ text: String, name: String = "<input>", protocol: RuleProtocol, context: CheckedFile?
  ) -> CheckedExpression {
    let source = SourceFile(name: name, text: text)
    var parser = Parser(source)
    let expression = parser.parseExpression()
    if !parser.at(.endOfFile) {
      parser.expected("the end of the expression (one expression, e.g. 'UDP.dst_port == 53')")
    }
    var checker = Checker(source: source, file: RuleFile(declarations: []))
    checker.diagnostics.append(contentsOf: parser.diagnostics)
    // The context's constants, already resolved: nothing of its source is checked again.
    for c in context?.file.constants ?? [] {
      if let v = context?.constants[c.name.text], checker.consts[c.name.text] == nil {
        checker.consts[c.name.text] = Checker.ConstInfo(decl: c, state: .resolved(v))
      }
    }
    checker.currentProtocol = `protocol`
    if !parser.diagnostics.hasErrors { _ = checker.infer(expression) }
    return CheckedExpression(
      source: source, expression: expression, diagnostics: checker.diagnostics.diagnostics)
  }
}
