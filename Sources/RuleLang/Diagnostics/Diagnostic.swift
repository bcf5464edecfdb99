/// How serious a diagnostic is. Errors stop a rule file from being compiled; warnings flag what is
/// legal but likely wrong.
public enum Severity: String, Sendable, Hashable, Codable {
  case error
  case warning
  case note
}

/// A suggested edit: replace `range` with `replacement`.
public struct FixIt: Sendable, Hashable {
  public let range: SourceRange
  public let replacement: String

  public init(range: SourceRange, replacement: String) {
    self.range = range
    self.replacement = replacement
  }
}

/// One finding about a source: where, how serious, what, and what to do about it.
public struct Diagnostic: Sendable, Hashable {
  public let severity: Severity
  public let message: String
  public let range: SourceRange
  public var fixIts: [FixIt]
  /// Related places ("the earlier rule is here"), each with its own message.
  public var notes: [Note]

  public struct Note: Sendable, Hashable {
    public let message: String
    public let range: SourceRange?
    public init(message: String, range: SourceRange?) {
      self.message = message
      self.range = range
    }
  }

  public init(
    _ severity: Severity, _ message: String, at range: SourceRange, fixIts: [FixIt] = [],
    notes: [Note] = []
  ) {
    self.severity = severity
    self.message = message
    self.range = range
    self.fixIts = fixIts
    self.notes = notes
  }

  public static func error(
    _ message: String, at range: SourceRange, fixIts: [FixIt] = [], notes: [Note] = []
  ) -> Diagnostic {
    Diagnostic(.error, message, at: range, fixIts: fixIts, notes: notes)
  }

  public static func warning(
    _ message: String, at range: SourceRange, fixIts: [FixIt] = [], notes: [Note] = []
  ) -> Diagnostic {
    Diagnostic(.warning, message, at: range, fixIts: fixIts, notes: notes)
  }
}

/// Collects diagnostics in the order they are found, and caps their number so that a hostile input
/// cannot produce an unbounded report.
public struct DiagnosticBag: Sendable {
  public private(set) var diagnostics: [Diagnostic] = []
  public static let limit = 200
  public private(set) var dropped = 0

  public init() {}

  public mutating func append(_ d: Diagnostic) {
    if diagnostics.count < Self.limit { diagnostics.append(d) } else { dropped += 1 }
  }

  public mutating func error(_ message: String, at range: SourceRange, fixIts: [FixIt] = []) {
    append(.error(message, at: range, fixIts: fixIts))
  }

  public mutating func warning(_ message: String, at range: SourceRange, fixIts: [FixIt] = []) {
    append(.warning(message, at: range, fixIts: fixIts))
  }

  public mutating func append(contentsOf other: DiagnosticBag) {
    for d in other.diagnostics { append(d) }
    dropped += other.dropped
  }

  public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
  public var errorCount: Int { diagnostics.count { $0.severity == .error } }
  public var warningCount: Int { diagnostics.count { $0.severity == .warning } }
}
